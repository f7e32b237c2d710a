/**
 * One item of an archive a recovery is downloaded as (tar.ts, zip.ts): what
 * both writers take. The fields are a manifest entry's, so a recovery point
 * maps onto an archive without translation.
 */
export type ArchiveEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export interface ArchiveEntry {
  /** Relative path, raw bytes joined by '/' (need not be UTF-8); '' is the archive's root directory. */
  readonly path: Buffer;
  readonly type: ArchiveEntryType;
  /** Permission bits including setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly mtimeNs: bigint;
  /** Files: the number of content bytes that follow; 0 otherwise. */
  readonly size: number;
  /** Symlink target, or for a hard link the path (as in `path`) of the item it links to. */
  readonly target?: Buffer | undefined;
  /** Device number of a char or block device (Linux encoding). */
  readonly rdev?: number | undefined;
  /** Extended attributes, POSIX ACLs (system.posix_acl_*) included. */
  readonly xattrs?: ReadonlyArray<readonly [string, Buffer]> | undefined;
}

/** The writer's side of an archive format: the bytes of one entry (header, content, trailer), then the bytes that end the archive. */
export interface ArchiveWriter {
  /**
   * The bytes of one entry. `content` must yield exactly `entry.size`
   * bytes for a file (else the writer throws: the archive would be corrupt)
   * and nothing for other types.
   */
  entry(entry: ArchiveEntry, content?: AsyncIterable<Buffer>): AsyncGenerator<Buffer>;
  /** What ends the archive (tar: two zero blocks; zip: the central directory). */
  finish(): Generator<Buffer>;
  /** Entry types this format cannot hold (they are left out with a warning). */
  readonly unsupported: ReadonlySet<ArchiveEntryType>;
  /** Frees what the writer holds (an archive abandoned half way included). */
  close(): void;
}

/** The file name of an entry: its path, with '/' after a directory's (the root is './'). */
export function archiveName(e: ArchiveEntry): Buffer {
  if (e.path.length === 0) return Buffer.from('./');
  return e.type === 'dir' ? Buffer.concat([e.path, Buffer.from('/')]) : e.path;
}

/** Checks that a content stream yields exactly `size` bytes, passing it through. */
export async function* exactly(content: AsyncIterable<Buffer> | undefined, size: number, what: string): AsyncGenerator<Buffer> {
  let n = 0;
  if (content) {
    for await (const b of content) {
      n += b.length;
      if (n > size) break;
      yield b;
    }
  }
  if (n !== size) throw new Error(`archive entry ${what}: content is ${n > size ? 'longer' : `${n} bytes, shorter`} than its size ${size}`);
}
