/**
 * PostgreSQL WAL page headers (xlog_internal.h), as a tail read of a stopped
 * cluster's pg_wal checks them (docs/design/postgresql.md §7.1): a page
 * belongs to the log at a position when its magic is the cluster's, its
 * `xlp_pageaddr` is that position and its timeline the one read. pg_wal
 * keeps recycled segments under future names and zero-filled new ones:
 * their first page fails, which ends the tail. Little-endian (the machines
 * Custos runs on), pure.
 *
 *   short header (every page), 24 bytes: u16 magic, u16 info, u32 timeline,
 *     u64 pageaddr, u32 rem_len, padding
 *   long header (a segment's first page, info & 0x0002), 40 bytes: the
 *     short one, then u64 system identifier, u32 segment size, u32 page size
 */
import { formatLsn } from './wal-names.js';

/** The size of a WAL page (XLOG_BLCKSZ): PostgreSQL's default, which the long header confirms. */
export const WAL_PAGE_BYTES = 8192;
const XLP_LONG_HEADER = 0x0002;
const LONG_HEADER_BYTES = 40;

/** What a segment's first page says about its cluster. */
export interface WalSegmentHeader {
  readonly magic: number;
  readonly systemIdentifier: string;
  readonly segmentBytes: number;
  readonly pageBytes: number;
}

/** A segment's first page's long header, or why it is not one. */
export function readLongHeader(page: Buffer): WalSegmentHeader | string {
  if (page.length < LONG_HEADER_BYTES) return `a first page of ${page.length} bytes`;
  if ((page.readUInt16LE(2) & XLP_LONG_HEADER) === 0) return 'the first page has no long header';
  return {
    magic: page.readUInt16LE(0),
    systemIdentifier: page.readBigUInt64LE(24).toString(),
    segmentBytes: page.readUInt32LE(32),
    pageBytes: page.readUInt32LE(36),
  };
}

export interface PageExpectation {
  readonly magic: number;
  readonly timeline: number;
  /** The LSN of the page's first byte. */
  readonly pageAddress: bigint;
}

/** Why `page` is not the log's page at `pageAddress`, or null when it is. */
export function walPageProblem(page: Buffer, e: PageExpectation): string | null {
  if (page.length !== WAL_PAGE_BYTES) return `a page of ${page.length} bytes`;
  const magic = page.readUInt16LE(0);
  if (magic !== e.magic) return `magic ${magic.toString(16)}, not ${e.magic.toString(16)}`;
  const address = page.readBigUInt64LE(8);
  if (address !== e.pageAddress) return `page address ${formatLsn(address)}, not ${formatLsn(e.pageAddress)} (a recycled segment)`;
  const timeline = page.readUInt32LE(4);
  if (timeline !== e.timeline) return `timeline ${timeline}, not ${e.timeline}`;
  return null;
}
