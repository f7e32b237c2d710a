import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePercent, parseSize } from './units.js';

describe('parseSize', () => {
  it('reads binary and decimal units, fractions and plain bytes', () => {
    assert.equal(parseSize('500GiB'), 500 * 1024 ** 3);
    assert.equal(parseSize('2TB'), 2e12);
    assert.equal(parseSize('1.5TiB'), 1.5 * 1024 ** 4);
    assert.equal(parseSize(' 3 mib '), 3 * 1024 ** 2);
    assert.equal(parseSize('1PiB'), 1024 ** 5);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('1.5'), 1, 'whole bytes, rounded down');
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'big', '-5GiB', '1e6', '5XB', '5 GiB/s', '1,5GiB', 'GiB']) assert.equal(parseSize(bad), undefined, bad);
  });
});

describe('parsePercent', () => {
  it('reads a number with or without %', () => {
    assert.equal(parsePercent('5%'), 5);
    assert.equal(parsePercent(' 0.5 % '), 0.5);
    assert.equal(parsePercent('120'), 120);
  });

  it('refuses what is not a percentage', () => {
    for (const bad of ['', '%', '-5%', 'five', '5%%', '0.05x']) assert.equal(parsePercent(bad), undefined, bad);
  });
});
