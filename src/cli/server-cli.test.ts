// Local times in a zone with daylight saving time: the zone is set for this
// file only (node --test runs each file in a process of its own).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { shortTime, tableLines } from './server-cli.js';

useTimeZone('Europe/Berlin');

test('shortTime: local time, and the offset within an hour of a daylight saving change, so the repeated hour is told apart', () => {
  assert.equal(shortTime('2026-07-01T18:00:00Z'), '2026-07-01 20:00');
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  assert.equal(shortTime('2026-10-25T00:30:00Z'), '2026-10-25 02:30 +02:00');
  assert.equal(shortTime('2026-10-25T01:30:00Z'), '2026-10-25 02:30 +01:00');
  assert.equal(shortTime('2026-10-25T05:00:00Z'), '2026-10-25 06:00');
  assert.equal(shortTime(null), '-');
  assert.equal(shortTime('not a time'), 'not a time');
});

describe('tableLines: tables that fit the terminal', () => {
  const headers = ['ID', 'GROUP', 'REPLICA', 'NEWEST POINT'];
  const rows = [
    ['pc1:fs:/home/alice/projects/very/long/path/that/goes/on/and/on/and/on/for/a/while', 'laptops', 'ok', '2026-12-07 10:00'],
    ['pc2:fs:/srv', 'servers-with-a-long-group-name', 'inconsistent', '-'],
  ];

  test('a table that fits is printed whole, columns two spaces apart', () => {
    const lines = tableLines(headers, rows, Infinity);
    assert.equal(lines[1], `${rows[0]![0]}  laptops                         ok            2026-12-07 10:00`);
    assert.ok(lines.every((l) => !l.includes('…')));
  });

  test('too wide: the widest column gives way, cut in the middle with "…", and every line fits', () => {
    for (const width of [120, 80, 60]) {
      const lines = tableLines(headers, rows, width);
      for (const l of lines) assert.ok(l.length <= width, `${width}: ${l.length} > ${width}: ${l}`);
      const id = lines[1]!.split('  ')[0]!;
      assert.match(id, /^pc1:fs:\/home.*….*on\/for\/a\/while$|^pc1:fs:.*….*while$/, id);
      assert.equal(lines[2]!.slice(0, 11), 'pc2:fs:/srv', 'a short cell is kept whole');
    }
  });

  test('never below a header or 10 characters: a terminal narrower than that gets longer lines', () => {
    const lines = tableLines(headers, rows, 20);
    assert.ok(lines[0]!.startsWith('ID          GROUP       REPLICA     NEWEST POINT'), lines[0]);
    assert.ok(lines.slice(1).every((l) => l.split(/ {2,}/)[0]!.length === 10), lines.join('\n'));
  });
});
