/**
 * The agent's streamed manifest (point-manifest.ts): pages fetched a few at
 * a time as they are read, entries read ahead within bounds for the chunk
 * prefetch, and nothing left behind when the reader stops early.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobCodec, encodePage, type ManifestEntry, type ManifestPageRef } from '../../format/index.js';
import type { JobLink } from './job-link.js';
import { PAGES_PER_REQUEST, readAhead, streamEntries } from './point-manifest.js';

const entry = (i: number, size = 1000): ManifestEntry => ({
  path: Buffer.from(`f${String(i).padStart(6, '0')}`),
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtimeNs: 0n,
  ctimeNs: 0n,
  ino: 0n,
  size,
  chunks: [],
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A point of `pageCount` pages of 10 entries each, served by a fake link that records its requests. */
function fakePoint(pageCount: number, failAt = -1) {
  const codec = new BlobCodec({ keys: null, compressionLevel: 1 });
  const blobs = new Map<string, Buffer>();
  const pages: ManifestPageRef[] = [];
  for (let p = 0; p < pageCount; p++) {
    const data = encodePage(Array.from({ length: 10 }, (_, i) => entry(p * 10 + i)));
    const id = codec.chunkIdBytes(data);
    blobs.set(id.toString('hex'), codec.encodeChunk(id, data));
    pages.push({ id: id.toString('hex') } as ManifestPageRef);
  }
  const requests: number[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const link = {
    async requestBlobs(ids: string[]) {
      requests.push(ids.map((id) => pages.findIndex((p) => p.id === id)));
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (requests.length - 1 === failAt) throw new Error('connection lost');
      return ids.map((id) => ({ rawLength: 0, blob: blobs.get(id)! }));
    },
  } as unknown as JobLink;
  return { link, codec, pages, requests, maxInFlight: () => maxInFlight };
}

test('streamEntries: every entry in order, PAGES_PER_REQUEST pages a request, at most one request ahead', async () => {
  const pageCount = PAGES_PER_REQUEST * 3 + 2;
  const { link, codec, pages, requests, maxInFlight } = fakePoint(pageCount);
  const got = await collect(streamEntries(link, codec, pages));
  assert.deepEqual(got.map((e) => e.path.toString()), Array.from({ length: pageCount * 10 }, (_, i) => entry(i).path.toString()));
  assert.deepEqual(requests.map((r) => r.length), [PAGES_PER_REQUEST, PAGES_PER_REQUEST, PAGES_PER_REQUEST, 2]);
  assert.equal(maxInFlight(), 1);
  assert.deepEqual(await collect(streamEntries(link, codec, [])), []);
});

test('streamEntries: a failed request fails the reader; one that stops early leaves no unhandled rejection behind', async () => {
  const a = fakePoint(PAGES_PER_REQUEST * 3, 1);
  await assert.rejects(collect(streamEntries(a.link, a.codec, a.pages)), /connection lost/);
  const rejections: unknown[] = [];
  const onRejection = (err: unknown) => rejections.push(err);
  process.on('unhandledRejection', onRejection);
  try {
    const b = fakePoint(PAGES_PER_REQUEST * 3, 1);
    // Stop after the first entry: the second request (which fails) is in flight.
    for await (const e of streamEntries(b.link, b.codec, b.pages)) {
      void e;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(rejections, []);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});

test('readAhead: passes every entry through in order, tells onRead of each before the consumer sees it, and stays within its limits', async () => {
  const entries = Array.from({ length: 1000 }, (_, i) => entry(i, 100));
  let read = 0;
  let consumed = 0;
  let maxAhead = 0;
  const out: string[] = [];
  async function* source() {
    for (const e of entries) yield e;
  }
  for await (const e of readAhead(source(), () => read++, { entries: 50, bytes: 1_000_000 })) {
    consumed++;
    assert.ok(read >= consumed, 'onRead runs before the entry is consumed');
    maxAhead = Math.max(maxAhead, read - consumed);
    out.push(e.path.toString());
  }
  assert.deepEqual(out, entries.map((e) => e.path.toString()));
  assert.ok(maxAhead <= 50 && maxAhead >= 40, `read ahead ${maxAhead}`);
  // By bytes: files of 1 MB with a 3 MB limit are read at most 3 ahead (one more while the limit is reached).
  read = 0;
  consumed = 0;
  maxAhead = 0;
  for await (const e of readAhead((async function* () { for (let i = 0; i < 20; i++) yield entry(i, 1_000_000); })(), () => read++, { entries: 50, bytes: 3_000_000 })) {
    void e;
    consumed++;
    maxAhead = Math.max(maxAhead, read - consumed);
  }
  assert.equal(consumed, 20);
  assert.ok(maxAhead <= 3, `read ahead ${maxAhead}`);
});

test('readAhead: a consumer that stops early closes the source', async () => {
  let closed = false;
  async function* source() {
    try {
      for (let i = 0; ; i++) yield entry(i);
    } finally {
      closed = true;
    }
  }
  for await (const e of readAhead(source(), () => undefined, { entries: 10, bytes: 1e9 })) {
    void e;
    break;
  }
  assert.equal(closed, true);
});
