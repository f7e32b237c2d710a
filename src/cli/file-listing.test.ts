import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cursorOfName, itemRow, modeText, nameOfCursor } from './file-listing.js';

test('modes read as ls shows them, special bits included', () => {
  assert.equal(modeText('dir', 0o755), 'drwxr-xr-x');
  assert.equal(modeText('file', 0o640), '-rw-r-----');
  assert.equal(modeText('file', 0o4755), '-rwsr-xr-x');
  assert.equal(modeText('file', 0o4644), '-rwSr--r--');
  assert.equal(modeText('dir', 0o2775), 'drwxrwsr-x');
  assert.equal(modeText('dir', 0o1777), 'drwxrwxrwt');
  assert.equal(modeText('dir', 0o1776), 'drwxrwxrwT');
  assert.equal(modeText('symlink', 0o777), 'lrwxrwxrwx');
  assert.equal(modeText('fifo', 0o600), 'prw-------');
});

test('rows: directories end in /, links show their target, owners fall back to ids', () => {
  const base = { size: 2048, mtime: '2026-12-01T10:00:00.000Z', mode: 0o644, uid: 1000, gid: 100, user: 'ann', group: null };
  const row = itemRow({ ...base, name: 'thesis.tex', type: 'file' });
  assert.deepEqual([row[0], row[1], row[2], row[3], row[5]], ['-rw-r--r--', 'ann', '100', '2.0 KiB', 'thesis.tex']);
  assert.equal(itemRow({ ...base, name: 'docs', type: 'dir', mode: 0o755 })[5], 'docs/');
  assert.equal(itemRow({ ...base, name: 'l', type: 'symlink', target: '../x' })[5], 'l -> ../x');
  assert.match(itemRow({ ...base, name: 'busy.db', type: 'file', error: 'EACCES' })[5]!, /not read at backup: EACCES/);
});

test('the page cursor carries a name exactly', () => {
  assert.equal(nameOfCursor(cursorOfName('thèse 2.tex')), 'thèse 2.tex');
});
