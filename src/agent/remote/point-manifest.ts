/**
 * A recovery point's manifest as the agent reads it from the server: a few
 * pages at a time, as a recovery goes, instead of the whole manifest at once.
 *
 * A whole-point recovery of the Linux tree used to hold its 80,000 decoded
 * entries (about 70 MiB of objects) and a list of every chunk for its whole
 * run; now it holds the pages being read, the next request's pages, and the
 * entries the chunk prefetch is looking ahead at (readAhead).
 */
import type { BlobCodec, ChunkRef, ManifestEntry, ManifestPageRef } from '../../format/index.js';
import { decodePage } from '../../format/index.js';
import type { JobLink } from './job-link.js';

/** Pages asked for in one request while streaming (a page is 64 KiB to 1 MiB encoded). */
export const PAGES_PER_REQUEST = 8;

/** Fetches and decodes these pages, in order (`perRequest` at a time). */
export async function fetchPages(link: JobLink, codec: BlobCodec, pages: readonly ManifestPageRef[], perRequest = 64): Promise<ManifestEntry[][]> {
  const out: ManifestEntry[][] = [];
  for (let i = 0; i < pages.length; i += perRequest) {
    const slice = pages.slice(i, i + perRequest);
    const blobs = await link.requestBlobs(slice.map((p) => p.id));
    slice.forEach((p, j) => out.push(decodePage(codec.decodeChunk(Buffer.from(p.id, 'hex'), blobs[j]!.blob))));
  }
  return out;
}

/**
 * The entries of these pages in order; the next request is in flight while
 * the current pages are read, and pages already read are not kept.
 */
export async function* streamEntries(link: JobLink, codec: BlobCodec, pages: readonly ManifestPageRef[]): AsyncGenerator<ManifestEntry> {
  const request = (from: number): Promise<ManifestEntry[][]> => {
    const p = fetchPages(link, codec, pages.slice(from, from + PAGES_PER_REQUEST), PAGES_PER_REQUEST);
    // Awaited below; a reader that stops early must not leave it as an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };
  let next = pages.length > 0 ? request(0) : null;
  for (let from = 0; next !== null; from += PAGES_PER_REQUEST) {
    const group = await next;
    next = from + PAGES_PER_REQUEST < pages.length ? request(from + PAGES_PER_REQUEST) : null;
    for (const page of group) yield* page;
  }
}

export interface ReadAheadLimits {
  /** Entries read ahead of the consumer, at most. */
  readonly entries: number;
  /** Bytes of the files among them, at most (at least one entry is always read ahead). */
  readonly bytes: number;
}

export const READ_AHEAD: ReadAheadLimits = { entries: 4096, bytes: 64 * 1024 * 1024 };

/**
 * Passes `entries` through, reading ahead of the consumer by up to `limits`
 * and telling `onRead` of each entry as it is read: the chunk prefetch
 * learns which chunks come next without the whole manifest in memory.
 */
export async function* readAhead(
  entries: AsyncIterable<ManifestEntry>,
  onRead: (e: ManifestEntry) => void,
  limits: ReadAheadLimits = READ_AHEAD,
): AsyncGenerator<ManifestEntry> {
  const it = entries[Symbol.asyncIterator]();
  const queue: Array<ManifestEntry | undefined> = [];
  let head = 0;
  let bytes = 0;
  let done = false;
  const weight = (e: ManifestEntry): number => (e.type === 'file' ? e.size : 0);
  try {
    for (;;) {
      while (!done && (head === queue.length || (queue.length - head < limits.entries && bytes < limits.bytes))) {
        const n = await it.next();
        if (n.done === true) done = true;
        else {
          queue.push(n.value);
          bytes += weight(n.value);
          onRead(n.value);
        }
      }
      if (head === queue.length) return;
      const e = queue[head]!;
      queue[head++] = undefined;
      bytes -= weight(e);
      if (head >= 1024 && head * 2 >= queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      yield e;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

/**
 * A whole point's entries for a recovery: its pages read as the recovery
 * goes, and the chunk source told of the chunks coming next (prefetch).
 */
export function wholePoint(link: JobLink, codec: BlobCodec, pages: readonly ManifestPageRef[], source: { expect(chunks: readonly ChunkRef[]): void }): AsyncIterable<ManifestEntry> {
  return readAhead(streamEntries(link, codec, pages), (e) => source.expect(e.chunks ?? []));
}
