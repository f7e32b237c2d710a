import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern } from './glob.js';

const m = (pattern: string, path: string | Buffer) => compilePattern(pattern).matches(typeof path === 'string' ? Buffer.from(path) : path);

test('a pattern without a slash matches names at any depth', () => {
  assert.equal(m('*.tex', 'thesis.tex'), true);
  assert.equal(m('*.tex', 'docs/2026/thesis.tex'), true);
  assert.equal(m('*.tex', 'docs/thesis.tex.bak'), false);
  assert.equal(m('*.tex', 'a.tex/b'), false, 'the name is the last component only');
  assert.equal(m('thesis?.tex', 'x/thesis2.tex'), true);
  assert.equal(m('thesis?.tex', 'x/thesis.tex'), false);
});

test('a pattern with a slash matches the whole path; ** crosses directories, * does not', () => {
  assert.equal(m('**/thesis*', 'thesis.tex'), true, '** matches no directory too');
  assert.equal(m('**/thesis*', 'a/b/thesis.tex'), true);
  assert.equal(m('**/thesis*', 'a/b/my-thesis.tex'), false);
  assert.equal(m('docs/*.tex', 'docs/a.tex'), true);
  assert.equal(m('docs/*.tex', 'docs/x/a.tex'), false);
  assert.equal(m('/docs/*.tex', 'docs/a.tex'), true, 'a leading slash is the protected directory');
  assert.equal(m('docs/**', 'docs/x/y/z'), true);
  assert.equal(m('docs/**', 'other/x'), false);
  assert.equal(m('a/**/z', 'a/z'), true);
  assert.equal(m('a/**/z', 'a/b/c/z'), true);
  assert.equal(m('a/**/z', 'a/b/c/zz'), false);
  assert.equal(m('a**b/c', 'aXXb/c'), true, '** inside a component is just *');
  assert.equal(m('a**b/c', 'aX/Xb/c'), false);
});

test('classes, negation and escapes', () => {
  assert.equal(m('[abc].txt', 'b.txt'), true);
  assert.equal(m('[abc].txt', 'd.txt'), false);
  assert.equal(m('[!abc].txt', 'd.txt'), true);
  assert.equal(m('[!abc].txt', 'a.txt'), false);
  assert.equal(m('[a-c]x', 'bx'), true);
  assert.equal(m('[]]x', ']x'), true);
  assert.equal(m('\\*x', '*x'), true);
  assert.equal(m('\\*x', 'ax'), false);
  assert.equal(m('[abc', '[abc'), true, 'an unclosed [ is literal');
  assert.equal(m('a.(b)+', 'a.(b)+'), true, 'RegExp characters are literal');
  assert.equal(m('a.(b)+', 'aX(b)+'), false);
});

test('raw bytes: names that are not UTF-8 still match, and UTF-8 patterns match UTF-8 names', () => {
  assert.equal(m('*.bin', Buffer.from([0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e])), true);
  assert.equal(m('r?sum?.pdf', Buffer.from('résumé.pdf')), false, '? is one byte; é is two');
  assert.equal(m('résumé.pdf', Buffer.from('cv/résumé.pdf')), true);
});

test('the literal prefilter is a run every match contains', () => {
  assert.deepEqual(compilePattern('**/thesis*.tex').literal, Buffer.from('thesis'));
  assert.equal(compilePattern('*').literal, null);
});

test('bad patterns are refused with a usage error', () => {
  assert.throws(() => compilePattern(''), { code: 'usage' });
  assert.throws(() => compilePattern('/'), { code: 'usage' });
  assert.throws(() => compilePattern('a\0b'), { code: 'usage' });
  assert.throws(() => compilePattern('x'.repeat(2000)), { code: 'usage' });
});

test('patterns that make a backtracking RegExp take exponential time match at once', { timeout: 10_000 }, () => {
  const long = 'a'.repeat(4000);
  assert.equal(m(`${'*a'.repeat(200)}*b`, long), false);
  assert.equal(m(`${'*a'.repeat(200)}*`, long), true);
  const deep = Array.from({ length: 200 }, () => 'a').join('/');
  assert.equal(m(`${'**/'.repeat(100)}x`, deep), false);
  assert.equal(m(`${'**/*/'.repeat(50)}x`, deep), false);
  assert.equal(m(`${'**/a/'.repeat(50)}a`, deep), true);
});

test('** alone, without a slash, is any name', () => {
  assert.equal(m('**', 'a/b/c'), true);
  assert.equal(m('x**', 'a/xyz'), true);
});
