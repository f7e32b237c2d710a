/**
 * The tail of a stopped cluster's log (docs/design/postgresql.md §7.1,
 * DPM's "latest"): the WAL its pg_wal still holds after the newest point,
 * read as root in order from the segment holding that point's last byte,
 * each 8 KiB page checked (the cluster's magic, the page's own address, the
 * timeline; a segment's first page also names the cluster and the sizes),
 * up to the first page that fails — a recycled or zero-filled segment, or
 * the end. The pages are copied to a spool as segment files (the last one
 * holding only the pages read), from which a tail point is made; PostgreSQL
 * replays it to its last whole record.
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { formatLsn, segmentFileName, segmentStart } from '../../../format/postgres/wal-names.js';
import { readLongHeader, walPageProblem, WAL_PAGE_BYTES } from '../../../format/postgres/wal-page.js';

export interface TailOptions {
  readonly dataDirectory: string;
  readonly systemIdentifier: string;
  readonly timeline: number;
  readonly segmentBytes: number;
  /** The cluster's owner: a segment file of anyone else's is not its log. */
  readonly ownerUid: number;
  /** Where the newest point's WAL ends: the read starts at the first byte of the segment holding its last byte. */
  readonly previousEnd: bigint;
  /** The spool (made by the caller): the segment files are written there. */
  readonly spoolDir: string;
}

export interface TailResult {
  /** The end of the last page read. */
  readonly walEnd: bigint;
  /** The spool's segment files, ascending. */
  readonly segments: readonly string[];
  /** Why the read stopped there. */
  readonly stoppedBecause: string;
}

/** The tail, or null when pg_wal holds nothing past the newest point. */
export function readWalTail(o: TailOptions): TailResult | null {
  const size = BigInt(o.segmentBytes);
  let segno = (o.previousEnd - 1n) / size;
  const segments: string[] = [];
  let magic: number | null = null;
  let end = segmentStart(segno, o.segmentBytes);
  let stoppedBecause = '';
  reading: for (;;) {
    const name = segmentFileName({ timeline: o.timeline, segno }, o.segmentBytes);
    let fd: number;
    try {
      fd = openSync(join(o.dataDirectory, 'pg_wal', name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      stoppedBecause = `${name} is not in pg_wal (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
      break;
    }
    let out: number | null = null;
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== o.segmentBytes || st.uid !== o.ownerUid) {
        stoppedBecause = `pg_wal/${name} is not a regular file of ${o.segmentBytes} bytes of the cluster's owner`;
        break;
      }
      const page = Buffer.alloc(WAL_PAGE_BYTES);
      for (let off = 0; off < o.segmentBytes; off += WAL_PAGE_BYTES) {
        const address = segmentStart(segno, o.segmentBytes) + BigInt(off);
        if (readSync(fd, page, 0, WAL_PAGE_BYTES, off) !== WAL_PAGE_BYTES) {
          stoppedBecause = `pg_wal/${name} ends before byte ${off + WAL_PAGE_BYTES}`;
          break reading;
        }
        if (off === 0) {
          const header = readLongHeader(page);
          const wrong = typeof header === 'string' ? header
            : header.systemIdentifier !== o.systemIdentifier ? `the system identifier ${header.systemIdentifier}`
              : header.segmentBytes !== o.segmentBytes || header.pageBytes !== WAL_PAGE_BYTES ? `segments of ${header.segmentBytes} bytes in pages of ${header.pageBytes}`
                : magic !== null && header.magic !== magic ? `magic ${header.magic.toString(16)}` : null;
          if (wrong !== null || typeof header === 'string') {
            stoppedBecause = `pg_wal/${name} is not this cluster's next segment: ${wrong}`;
            break reading;
          }
          magic = header.magic;
        }
        const problem = walPageProblem(page, { magic: magic!, timeline: o.timeline, pageAddress: address });
        if (problem !== null) {
          stoppedBecause = `pg_wal/${name} at ${formatLsn(address)}: ${problem}`;
          break reading;
        }
        if (out === null) {
          out = openSync(join(o.spoolDir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
          segments.push(name);
        }
        writeSync(out, page);
        end = address + BigInt(WAL_PAGE_BYTES);
      }
    } finally {
      closeSync(fd);
      if (out !== null) closeSync(out);
    }
    segno++;
  }
  if (end <= o.previousEnd) return null;
  if (segments.length === 0) throw new CustosError('internal', 'a tail without segments');
  return { walEnd: end, segments, stoppedBecause };
}
