import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itemPath, pathText } from './item-path.js';

const rel = (src: string, p: string) => itemPath(src, p).toString('latin1');

test('paths relative to the protected directory, or absolute under it, become one canonical form', () => {
  assert.equal(rel('/home/ann', 'docs/thesis.tex'), 'docs/thesis.tex');
  assert.equal(rel('/home/ann', '/home/ann/docs/thesis.tex'), 'docs/thesis.tex');
  assert.equal(rel('/home/ann/', '/home/ann'), '');
  assert.equal(rel('/home/ann', ''), '');
  assert.equal(rel('/home/ann', 'docs//old/'), 'docs/old');
  assert.equal(rel('/home/ann', './docs'), 'docs', 'a leading ./ is the protected directory');
  assert.equal(rel('/', '/etc/passwd'), 'etc/passwd');
  assert.equal(itemPath('/d', 'base64:' + Buffer.from([0x61, 0xff]).toString('base64')).toString('hex'), '61ff');
});

test('what could leave the tree, or is not a path, is refused', () => {
  assert.throws(() => itemPath('/home/ann', '/home/annie/x'), { code: 'usage' }, 'a sibling with the same prefix is not under it');
  assert.throws(() => itemPath('/home/ann', '/etc/passwd'), { code: 'usage' });
  assert.throws(() => itemPath('/home/ann', 'docs/../../bob'), { code: 'usage' });
  assert.throws(() => itemPath('/home/ann', 'docs/./old'), { code: 'usage' });
  assert.throws(() => itemPath('/home/ann', 'a\0b'), { code: 'usage' });
  assert.throws(() => itemPath('/home/ann', 'base64:@@@'), { code: 'usage' });
  assert.throws(() => itemPath('/home/ann', 'x'.repeat(5000)), { code: 'usage' });
});

test('names that are not UTF-8 are shown lossily with their exact bytes beside', () => {
  assert.deepEqual(pathText(Buffer.from('thèse.tex')), { text: 'thèse.tex' });
  const raw = pathText(Buffer.from([0x61, 0xff]));
  assert.equal(raw.base64, Buffer.from([0x61, 0xff]).toString('base64'));
  assert.equal(raw.text, 'a\ufffd');
});
