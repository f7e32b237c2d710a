import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { KnownIds } from './known-ids.js';

test('KnownIds holds exactly the ids it was built with', () => {
  const id = (i: number) => createHash('sha256').update(String(i)).digest();
  const known = KnownIds.build(5000, (add) => {
    for (let i = 0; i < 5000; i++) add(id(i));
  });
  for (let i = 0; i < 5000; i++) assert.ok(known.has(id(i)), `missing ${i}`);
  for (let i = 5000; i < 10000; i++) assert.ok(!known.has(id(i)), `false positive ${i}`);
  const shared = KnownIds.attach(known.buffer);
  assert.ok(shared.has(id(42)));
  assert.ok(!KnownIds.build(0, () => {}).has(id(1)));
});
