/**
 * The storage pool: a deduplicating, compressing, encrypting chunk store over
 * a BlobStore, plus the index and recovery point objects. Layout (see
 * docs/design/pool-format.md):
 *
 *   config                 plain JSON (PoolConfig)
 *   packs/<2 hex>/<id>     pack files
 *   index/<id>             index objects
 *   points/<id>            recovery point objects
 *   locks/<id>.lock        holders of locks
 *   tmp/                   files being written (renamed into place when durable)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  CustosError,
  IntegrityError,
  KnownIds,
  checkPointRef,
  pointByRef,
  UserError,
  isErrno,
  type ChunkId,
  type IndexId,
  type PackId,
  type RecoveryPointId,
} from '../base/index.js';
import {
  BlobCodec,
  DEFAULT_CHUNKER_PARAMS,
  POOL_FORMAT,
  POOL_VERSION,
  createEncryption,
  decodeIndex,
  decodePage,
  pagesForItems,
  decodePoint,
  encodePoint,
  generateKeyFileContent,
  openEncryption,
  parsePoolConfig,
  type ManifestEntry,
  type PoolConfig,
  type PoolKeys,
  type RecoveryPointRecord,
} from '../format/index.js';
import { LocalBlobStore, type BlobStore } from './blob-store.js';
import { acquireLock, type LockKind, type LockOptions, type PoolLock } from './locks.js';
import { ChunkWriter } from './chunk-writer.js';
import { PoolActivity } from './activity.js';
import { packName } from './layout.js';

export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface ChunkLocation {
  readonly pack: PackId;
  readonly offset: number;
  readonly length: number;
  readonly rawLength: number;
}

export interface InitOptions {
  /** Encrypt with the secret in this key file; a missing file is created with a random key. */
  readonly keyFile?: string | undefined;
  readonly packSize?: number;
}

export interface OpenOptions {
  readonly keyFile?: string | undefined;
}


async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new UserError('bad-key', `key file ${path} does not exist`);
    throw new UserError('bad-key', `cannot read key file ${path}: ${(err as Error).message}`);
  }
}

export class Pool {
  /** Chunk id (hex) → where it is stored. Filled by loadIndex(). */
  readonly index = new Map<string, ChunkLocation>();
  /** Index object names that loadIndex() read. */
  readonly indexNames: string[] = [];
  private indexLoaded = false;
  /** What this process's writers and readers hold on to (lets gc run beside them). */
  readonly activity = new PoolActivity();

  private constructor(
    readonly dir: string,
    readonly store: BlobStore,
    readonly config: PoolConfig,
    readonly codec: BlobCodec,
    readonly keys: PoolKeys | null,
  ) {}

  static async init(dir: string, options: InitOptions = {}): Promise<{ config: PoolConfig; keyCreated: boolean }> {
    const root = resolve(dir);
    if (existsSync(join(root, 'config'))) throw new UserError('exists', `${root} is already a pool`);
    if (existsSync(root) && (!statSync(root).isDirectory() || readdirSync(root).length > 0)) {
      throw new UserError('exists', `${root} exists and is not an empty directory`);
    }
    let encryption = null;
    let keyCreated = false;
    if (options.keyFile !== undefined) {
      let secret: Buffer;
      if (existsSync(options.keyFile)) {
        secret = await readKeyFile(options.keyFile);
      } else {
        secret = generateKeyFileContent();
        await writeFile(options.keyFile, secret, { flag: 'wx', mode: 0o600 });
        keyCreated = true;
      }
      encryption = createEncryption(secret).config;
    }
    const config: PoolConfig = {
      format: POOL_FORMAT,
      version: POOL_VERSION,
      id: randomBytes(16).toString('hex'),
      created: new Date().toISOString(),
      chunker: DEFAULT_CHUNKER_PARAMS,
      compression: { algorithm: 'zstd', level: 3 },
      packSize: options.packSize ?? DEFAULT_PACK_SIZE,
      encryption,
    };
    await mkdir(root, { recursive: true });
    const store = new LocalBlobStore(root);
    for (const sub of ['packs', 'index', 'points', 'locks', 'tmp']) await mkdir(join(root, sub), { recursive: true });
    await store.put('config', Buffer.from(JSON.stringify(config, null, 2) + '\n'));
    return { config, keyCreated };
  }

  static async open(dir: string, options: OpenOptions = {}): Promise<Pool> {
    const root = resolve(dir);
    let text: string;
    try {
      text = await readFile(join(root, 'config'), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
        throw new UserError('not-found', `no pool at ${root} (create one with: custos pool init ${dir})`);
      }
      throw err;
    }
    const config = parsePoolConfig(text, root);
    let keys: PoolKeys | null = null;
    if (config.encryption) {
      if (options.keyFile === undefined) throw new UserError('bad-key', `pool ${root} is encrypted: give its --key-file`);
      keys = openEncryption(config.encryption, await readKeyFile(options.keyFile));
    }
    const codec = new BlobCodec({ keys, compressionLevel: config.compression.level });
    return new Pool(root, new LocalBlobStore(root), config, codec, keys);
  }

  lock(kind: LockKind, operation: string, options?: LockOptions): Promise<PoolLock> {
    return acquireLock(this.store, kind, operation, options);
  }

  /**
   * Reads every index object. A damaged one throws, unless `onError` is given
   * (verify), which is then told and the rest is still read.
   */
  async loadIndex(onError?: (name: string, err: unknown) => void): Promise<void> {
    if (this.indexLoaded) return;
    await this.readIndexObjects(onError);
    this.indexLoaded = true;
  }

  /**
   * Reads the index objects this process does not know yet (written by
   * another process holding a shared lock, such as a standalone backup).
   */
  async refreshIndex(): Promise<void> {
    if (!this.indexLoaded) return this.loadIndex();
    await this.readIndexObjects();
  }

  private async readIndexObjects(onError?: (name: string, err: unknown) => void): Promise<void> {
    const known = new Set(this.indexNames);
    for (const info of await this.store.list('index')) {
      if (known.has(info.name)) continue;
      let packs;
      try {
        packs = decodeIndex(this.codec, await this.store.get(info.name), info.name);
      } catch (err) {
        if (!onError) throw err;
        onError(info.name, err);
        continue;
      }
      this.indexNames.push(info.name);
      for (const p of packs) this.addToIndex(p.packId, p.entries);
    }
  }

  /** The ids the pool holds, shareable with worker threads. */
  knownIds(): KnownIds {
    return KnownIds.build(this.index.size, (add) => {
      for (const key of this.index.keys()) add(Buffer.from(key, 'hex'));
    });
  }

  chunkWriter(options: { repack?: boolean } = {}): ChunkWriter {
    return new ChunkWriter(this, options.repack);
  }

  /** Records chunks a ChunkWriter made durable (called by it after each index object). */
  addToIndex(pack: PackId, entries: ReadonlyArray<{ id: Buffer; offset: number; length: number; rawLength: number }>): void {
    for (const e of entries) {
      const key = e.id.toString('hex');
      if (!this.index.has(key)) this.index.set(key, { pack, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
  }

  relocate(pack: PackId, entries: ReadonlyArray<{ id: Buffer; offset: number; length: number; rawLength: number }>): void {
    for (const e of entries) {
      const key = e.id.toString('hex');
      if (this.index.has(key)) this.index.set(key, { pack, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
  }

  indexWritten(name: string): void {
    if (this.indexLoaded) this.indexNames.push(name);
  }

  /** Forgets index names that gc has replaced by `replacement`. */
  replaceIndexNames(replaced: readonly string[], replacement: string): void {
    const gone = new Set(replaced);
    const keep = this.indexNames.filter((n) => !gone.has(n));
    this.indexNames.splice(0, this.indexNames.length, ...keep, replacement);
  }

  /** Removes chunks from the in-memory index (gc decided they are dead; nobody may reuse them now). */
  dropFromIndex(ids: Iterable<string>): void {
    for (const id of ids) this.index.delete(id);
  }

  newIndexId(): IndexId {
    return randomBytes(16).toString('hex') as IndexId;
  }

  /** Where a chunk (hex id) is stored; a chunk no index names is damage, not a user's mistake. */
  location(key: string): ChunkLocation {
    const loc = this.index.get(key);
    if (!loc) throw new IntegrityError(`chunk ${key} is missing from the pool (referenced, but no index names it); run custos pool verify`);
    return loc;
  }

  /** Where chunk `id` lies in this pool's local files (a restore reads it there): its pack file, offset and lengths. */
  localChunk(id: Buffer): { id: Buffer; rawLength: number; file: string; offset: number; length: number } {
    const loc = this.location(id.toString('hex'));
    return { id, rawLength: loc.rawLength, file: this.store.localPath!(packName(loc.pack)), offset: loc.offset, length: loc.length };
  }

  async readChunk(id: ChunkId | Buffer): Promise<Buffer> {
    const key = typeof id === 'string' ? id : id.toString('hex');
    const loc = this.location(key);
    const blob = await this.store.getRange(packName(loc.pack), loc.offset, loc.length);
    return this.codec.decodeChunk(Buffer.from(key, 'hex'), blob);
  }

  async listPoints(): Promise<RecoveryPointRecord[]> {
    const out: RecoveryPointRecord[] = [];
    for (const info of await this.store.list('points')) {
      let blob: Buffer;
      try {
        blob = await this.store.get(info.name);
      } catch (err) {
        if (err instanceof CustosError && err.code === 'not-found') continue; // forgotten meanwhile
        throw err;
      }
      out.push(decodePoint(this.codec, blob, info.name));
    }
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  /**
   * Finds a point by id, unique id prefix, or `latest`. Only the point asked
   * for is read (a prefix is matched against object names), so a damaged
   * point object affects nobody who does not ask for it; `latest` reads
   * them all.
   */
  async findPoint(ref: string): Promise<RecoveryPointRecord> {
    if (ref === 'latest') {
      const p = (await this.listPoints()).at(-1);
      if (!p) throw new UserError('not-found', 'the pool has no recovery points yet');
      return p;
    }
    const prefix = checkPointRef(ref);
    if (prefix.length === 32) return this.loadPoint(prefix as RecoveryPointId);
    const ids = (await this.store.list('points')).map((i) => ({ id: i.name.slice('points/'.length) }));
    return this.loadPoint(pointByRef(ids, prefix, 'this pool').id as RecoveryPointId);
  }

  /** Reads and decodes one point object (nothing else); `not-found` when there is none by that id. */
  async loadPoint(id: RecoveryPointId): Promise<RecoveryPointRecord> {
    const name = `points/${id}`;
    let blob: Buffer;
    try {
      blob = await this.store.get(name);
    } catch (err) {
      if (err instanceof CustosError && err.code === 'not-found') throw new UserError('not-found', `no recovery point ${id} in this pool`);
      throw err;
    }
    const point = decodePoint(this.codec, blob, name);
    if (point.id !== id) throw new IntegrityError(`${name}: holds point ${point.id}`);
    return point;
  }

  async savePoint(point: RecoveryPointRecord): Promise<void> {
    await this.store.put(`points/${point.id}`, encodePoint(this.codec, point));
  }

  async deletePoint(id: RecoveryPointId): Promise<void> {
    await this.store.delete(`points/${id}`);
  }

  /**
   * Streams a point's manifest a page at a time; with `items`, only the
   * pages their subtrees and ancestors are on (pagesForItems: a binary
   * search over the pages, so one file of a point of a million reads a few
   * pages). Entries of other items may come too: the caller filters.
   */
  async *manifest(point: RecoveryPointRecord, items: readonly Buffer[] = []): AsyncGenerator<ManifestEntry> {
    if (items.length === 0) {
      for (const page of point.manifest) yield* decodePage(await this.readChunk(page.id));
      return;
    }
    const read = new Map<number, ManifestEntry[]>();
    const page = async (i: number): Promise<ManifestEntry[]> => {
      let entries = read.get(i);
      if (!entries) {
        entries = decodePage(await this.readChunk(point.manifest[i]!.id));
        read.set(i, entries);
      }
      return entries;
    };
    const wanted = await pagesForItems(point.manifest.length, items, async (i) => (await page(i))[0]?.path ?? Buffer.alloc(0));
    for (const i of wanted) {
      const entries = await page(i);
      read.delete(i);
      yield* entries;
    }
  }
}
