/** The job log of a recovery names every item not recovered, with why (issue 11 §2), up to a bound, then how many more. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RestoreResult } from '../restore/restore.js';
import { logNotRecovered, MAX_ITEM_LINES } from './jobs.js';

function result(errors: number, skipped: number): RestoreResult {
  return {
    files: 0, dirs: 0, others: 0, identical: 0, copies: 0, bytes: 0, damaged: false, missingItems: [],
    skipped, skippedItems: Array.from({ length: skipped }, (_, i) => `kept/${i}`),
    errors: Array.from({ length: errors }, (_, i) => ({ path: `bad/${i}`, message: 'a directory is in the way' })),
    warnings: ['x: extended attributes not restored: user.a'],
  };
}

function capture() {
  const lines: Array<[string, string]> = [];
  return { lines, link: { log: (level: 'info' | 'warning' | 'error', message: string) => void lines.push([level, message]) } };
}

test('each failed and each skipped item has its line, with the reason', () => {
  const { lines, link } = capture();
  logNotRecovered(link, result(2, 1));
  assert.deepEqual(lines, [
    ['warning', 'not recovered: bad/0: a directory is in the way'],
    ['warning', 'not recovered: bad/1: a directory is in the way'],
    ['info', 'not recovered: kept/0: a different item exists at the target (--conflict skip)'],
    ['warning', 'x: extended attributes not restored: user.a'],
  ]);
});

test('beyond the bound, one line says how many more', () => {
  const { lines, link } = capture();
  logNotRecovered(link, result(MAX_ITEM_LINES - 5, 15));
  const items = lines.filter(([, m]) => m.startsWith('not recovered: '));
  assert.equal(items.length, MAX_ITEM_LINES);
  assert.equal(items.at(-1)![1], 'not recovered: kept/4: a different item exists at the target (--conflict skip)');
  assert.ok(lines.some(([, m]) => m === '… and 10 more items not recovered'));
});
