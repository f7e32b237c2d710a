import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { carryStartOptions, originalPlaces, swapIn, type OriginalCluster } from './original.js';

function withDirs(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'custos-original-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cluster = (dataDirectory: string): OriginalCluster => ({ dataDirectory, owner: { uid: process.getuid!(), gid: process.getgid!() }, running: false, manager: { kind: 'pg_ctl', binDir: '/nonexistent' } });

test('the old data directory is kept aside beside it, and the recovered one takes its place with the saved start options', () => {
  withDirs((dir) => {
    const data = join(dir, 'main');
    mkdirSync(data);
    writeFileSync(join(data, 'PG_VERSION'), 'old\n');
    writeFileSync(join(data, 'postmaster.opts'), '/usr/lib/postgresql/15/bin/postgres "-D" "/x"\n');
    const places = originalPlaces(`${data}/`, 42);
    assert.deepEqual(places, { keptAside: `${data}.custos-42`, staging: `${data}.custos-recovery-42` });
    mkdirSync(join(places.staging, 'data'), { recursive: true });
    writeFileSync(join(places.staging, 'data', 'PG_VERSION'), 'new\n');
    swapIn(cluster(data), places);
    assert.equal(carryStartOptions(cluster(data), places.keptAside), true);
    assert.equal(readFileSync(join(data, 'PG_VERSION'), 'utf8'), 'new\n');
    assert.equal(readFileSync(join(places.keptAside, 'PG_VERSION'), 'utf8'), 'old\n');
    assert.match(readFileSync(join(data, 'postmaster.opts'), 'utf8'), /postgres "-D"/);
    assert.equal(statSync(join(data, 'postmaster.opts')).uid, process.getuid!());
  });
});

test("the saved start options are carried over only from a small regular file of the owner's, never through a link", () => {
  withDirs((dir) => {
    const data = join(dir, 'main');
    const aside = join(dir, 'main.custos-1');
    mkdirSync(data);
    mkdirSync(aside);
    writeFileSync(join(dir, 'secret'), 'root:x:0:0\n');
    symlinkSync(join(dir, 'secret'), join(aside, 'postmaster.opts'));
    assert.equal(carryStartOptions(cluster(data), aside), false);
    assert.ok(!existsSync(join(data, 'postmaster.opts')));
    rmSync(join(aside, 'postmaster.opts'));
    writeFileSync(join(aside, 'postmaster.opts'), 'x'.repeat(70 * 1024));
    assert.equal(carryStartOptions(cluster(data), aside), false, 'too large');
    // One already there (a link the owner planted in the recovered directory) is not written through.
    writeFileSync(join(aside, 'postmaster.opts'), 'postgres "-D" "/x"\n');
    symlinkSync(join(dir, 'secret'), join(data, 'postmaster.opts'));
    assert.throws(() => carryStartOptions(cluster(data), aside), /EEXIST/);
    assert.equal(readFileSync(join(dir, 'secret'), 'utf8'), 'root:x:0:0\n');
  });
});

test('a swap that cannot finish puts the data directory back; one that would overwrite a kept copy does not start', () => {
  withDirs((dir) => {
    const data = join(dir, 'main');
    mkdirSync(data);
    writeFileSync(join(data, 'PG_VERSION'), 'old\n');
    const places = originalPlaces(data, 7);
    // No recovered data directory in the staging folder: the second rename fails.
    assert.throws(() => swapIn(cluster(data), places), /ENOENT/);
    assert.equal(readFileSync(join(data, 'PG_VERSION'), 'utf8'), 'old\n');
    assert.ok(!existsSync(places.keptAside));
    mkdirSync(places.keptAside);
    assert.throws(() => swapIn(cluster(data), places), (e: unknown) => e instanceof CustosError && e.code === 'exists');
    assert.equal(readFileSync(join(data, 'PG_VERSION'), 'utf8'), 'old\n');
  });
});
