/**
 * RemoteChunkSource's prefetch when the restore finds files already at the
 * target (issue 11 §2): chunks the restore will not ask for are dropped from
 * the prefetch, so it keeps fetching ahead in large requests instead of
 * stalling on bytes nobody reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobLink } from './job-link.js';
import { RemoteChunkSource } from './remote-chunks.js';

const id = (i: number) => i.toString(16).padStart(64, '0');
const MiB = 1024 * 1024;

function fakeLink() {
  const requests: string[][] = [];
  const link = {
    requestBlobs(ids: string[]) {
      requests.push(ids);
      return Promise.resolve(ids.map(() => ({ rawLength: MiB, blob: Buffer.alloc(1) })));
    },
  } as unknown as JobLink;
  return { link, requests };
}

test('skipped chunks are passed over by the prefetch: every chunk asked for comes from a prefetch request, none is fetched alone', async () => {
  const order = Array.from({ length: 200 }, (_, i) => ({ id: id(i), length: MiB }));
  const { link, requests } = fakeLink();
  const source = new RemoteChunkSource(link);
  source.expect(order.map((c) => ({ id: Buffer.from(c.id, 'hex'), length: c.length })));
  // The restore asks for chunks 0–9, finds files holding chunks 10–149 at the target, then asks for 150–199.
  for (let i = 0; i < 10; i++) await source.locate(Buffer.from(id(i), 'hex'));
  source.skip(order.slice(10, 150).map((c) => ({ id: Buffer.from(c.id, 'hex'), length: c.length })));
  for (let i = 150; i < 200; i++) await source.locate(Buffer.from(id(i), 'hex'));
  const fetched = requests.flat();
  assert.ok(requests.every((r) => r.length > 1), `no chunk fetched on its own: ${requests.map((r) => r.length).join(',')}`);
  for (let i = 150; i < 200; i++) assert.ok(fetched.includes(id(i)));
  // At most the prefetch window of skipped chunks was fetched before the skip was known.
  const wasted = fetched.filter((x) => order.findIndex((c) => c.id === x) >= 10 && order.findIndex((c) => c.id === x) < 150).length;
  assert.ok(wasted <= 32, `${wasted} skipped chunks fetched`);
});

test('a chunk that repeats (within a file, across files) is fetched once ahead and serves every use; nothing is left pending', async () => {
  // Files of zeros or of repeated blocks hold one chunk many times: each use after the first was fetched alone.
  const { link, requests } = fakeLink();
  const source = new RemoteChunkSource(link);
  const uses = [0, 1, 1, 1, 2, 1, 3, 0, 4];
  source.expect(uses.map((i) => ({ id: Buffer.from(id(i), 'hex'), length: MiB })));
  for (const i of uses) await source.locate(Buffer.from(id(i), 'hex'));
  assert.deepEqual(requests, [[0, 1, 2, 3, 4].map(id)]);
  // Every use consumed: the window is empty again, so the next chunks are fetched ahead at once.
  source.expect([5, 6].map((i) => ({ id: Buffer.from(id(i), 'hex'), length: MiB })));
  assert.deepEqual(requests.at(-1), [5, 6].map(id));
});

test('the prefetch stays within its window and refills as the restore consumes', async () => {
  const { link, requests } = fakeLink();
  const source = new RemoteChunkSource(link);
  source.expect(Array.from({ length: 100 }, (_, i) => ({ id: Buffer.from(id(i), 'hex'), length: MiB })));
  assert.equal(requests.flat().length, 32, 'a 32 MiB window of 1 MiB chunks');
  for (let i = 0; i < 100; i++) await source.locate(Buffer.from(id(i), 'hex'));
  assert.equal(requests.flat().length, 100, 'each chunk fetched once');
  assert.ok(requests.every((r) => r.length > 1));
});

test('each use of a repeated chunk but the last gets a copy: a writer taking over (transferring) one leaves the next whole', async () => {
  const link = {
    requestBlobs(ids: string[]) {
      return Promise.resolve(ids.map(() => {
        const own = new Uint8Array(4);
        own.set([1, 2, 3, 4]);
        return { rawLength: 4, blob: Buffer.from(own.buffer) };
      }));
    },
  } as unknown as JobLink;
  const source = new RemoteChunkSource(link);
  const x = { id: Buffer.from(id(7), 'hex'), length: 4 };
  source.expect([x, x, x]);
  for (let use = 0; use < 3; use++) {
    const got = await source.locate(x.id);
    assert.deepEqual([...got.blob!], [1, 2, 3, 4], `use ${use}`);
    assert.equal(got.blob!.byteLength, got.blob!.buffer.byteLength, 'a buffer of its own, which can be transferred');
    structuredClone(got.blob, { transfer: [got.blob!.buffer as ArrayBuffer] });
    assert.equal(got.blob!.byteLength, 0, 'taken over');
  }
});
