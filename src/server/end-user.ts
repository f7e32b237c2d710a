/**
 * End-user recovery on the server (`custos my`, docs/design/security.md,
 * "End-user recovery"). A person logged into a protected computer asks its
 * agent over the agent's local socket; the agent adds who they are (the
 * kernel's credentials of their process) and forwards the request on its
 * mutual-TLS connection. The server decides everything here:
 *
 * - only this agent's own fs data sources: the path is mapped to the one
 *   whose protected path is its longest prefix, so nobody reaches another
 *   computer's files through their own agent;
 * - only data sources of a group where an administrator switched end-user
 *   recovery on;
 * - only items the user could read when each point was taken
 *   (src/protection/end-user-access.ts), judged point by point on that
 *   point's captured owners, modes and ACLs, with search permission on every
 *   directory from the protected root down. An item the user may not read
 *   and an item that does not exist get the same answer.
 *
 * The agent is trusted for who is asking on its own computer, and for
 * nothing else: it names neither the data source nor the permissions.
 */
import { CustosError } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import type { ChunkRef } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import { mayRead, pointAt, type CapturedPath, type CapturedPermissions, type LocalCaller } from '../protection/index.js';
import { encodeBlobFrame, type LocalUser, type MyListing, type MySearch, type MyVersions, type UserRequest, type UserRequestMessage } from '../protocol/index.js';
import type { AgentSession } from './agent-hub.js';
import type { AuditLog } from './audit.js';
import type { FileIndexReader, IndexedItem, PointRef } from './file-index/types.js';

/** Where a file's content is (the file index does not keep chunk lists). */
export interface PointContent {
  fileChunks(pointId: string, path: Buffer): Promise<readonly ChunkRef[] | undefined>;
}

export interface EndUserDeps {
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly index: FileIndexReader;
  readonly content: PointContent;
  readonly audit?: AuditLog;
}

interface Located {
  readonly sourceId: string;
  /** The protected directory on the agent's computer. */
  readonly sourcePath: string;
  /** Relative to the protected directory, '/'-joined; '' is the protected directory itself. */
  readonly rel: Buffer;
  readonly points: readonly PointRef[];
}

/** One item a user may see, as `my browse` shows it. */
export interface UserItem {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly mtime: string;
  readonly mode: number;
  readonly user: string | null;
  readonly group: string | null;
}

/** A file a user may recover: the answer that describes it, and its content. */
export interface OpenedFile {
  readonly source: string;
  readonly answer: { path: string; point: { id: string; time: string }; size: number; mode: number; mtime: string; chunks: number };
  content(): AsyncGenerator<Buffer>;
}

/** Paths a search looks at before it judges which the user may see. */
const SEARCH_CANDIDATES = 10_000;

const unseen = (path: string) => new CustosError('not-found', `${path}: no recovery point holds it, or you could not read it there`);

function caller(u: LocalUser): LocalCaller {
  return { uid: u.uid, gid: u.gid, groups: u.groups };
}

function permissions(i: IndexedItem): CapturedPermissions {
  return { mode: i.mode, uid: i.uid, gid: i.gid, acl: i.acl };
}

function mtimeIso(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** A point as the answers name it. */
const ref = (p: { id: string; time: string }) => ({ id: p.id, time: p.time });

export class EndUserRecovery {
  constructor(private readonly d: EndUserDeps) {}

  /** Answers one request of a local user of agent `agent` (its result is the reply body). */
  async handle(agent: string, m: UserRequestMessage, session: AgentSession): Promise<Record<string, unknown>> {
    const body = m.body;
    try {
      if (body.op !== 'recover') return await this.answer(agent, m.user, body);
      const file = await this.openFile(agent, m.user, body);
      await this.send(file, session, m.req);
      await this.d.audit?.record({ actor: `agent ${agent} uid ${m.user.uid}`, role: 'end-user', action: 'my.recover', target: file.source, outcome: 'ok', detail: { path: body.path, point: file.answer.point }, address: null });
      return file.answer;
    } catch (err) {
      if (body.op === 'recover') {
        await this.d.audit?.record({ actor: `agent ${agent} uid ${m.user.uid}`, role: 'end-user', action: 'my.recover', target: null, outcome: err instanceof CustosError && (err.code === 'denied' || err.code === 'not-found') ? 'denied' : 'failed', detail: { path: body.path }, address: null }).catch(() => undefined);
      }
      throw err;
    }
  }

  /** What a person asks about their files on `agent`'s computer (from its user socket, or My files in the console), as `user`. */
  answer(agent: string, user: LocalUser, body: Extract<UserRequest, { op: 'browse' }>): Promise<MyListing>;
  answer(agent: string, user: LocalUser, body: Extract<UserRequest, { op: 'search' }>): Promise<MySearch>;
  answer(agent: string, user: LocalUser, body: Extract<UserRequest, { op: 'versions' }>): Promise<MyVersions>;
  answer(agent: string, user: LocalUser, body: Exclude<UserRequest, { op: 'recover' }>): Promise<MyListing | MySearch | MyVersions>;
  async answer(agent: string, user: LocalUser, body: Exclude<UserRequest, { op: 'recover' }>): Promise<MyListing | MySearch | MyVersions> {
    const located = await this.locate(agent, body.path);
    const who = caller(user);
    switch (body.op) {
      case 'versions':
        return await this.versions(who, located, body.path);
      case 'browse':
        return await this.browse(who, located, body);
      case 'search':
        return await this.search(who, located, body);
    }
  }

  /** `agent`'s fs data sources in groups with end-user recovery on, each with its recovery points (newest first). */
  async sourcesOf(agent: string): Promise<Array<{ id: string; path: string; points: Array<{ id: string; time: string }> }>> {
    const out = [];
    for (const s of await this.d.catalog.listSources({ agent })) {
      if (s.kind !== 'fs' || s.group_name === null) continue;
      if ((await this.d.catalog.group(s.group_name))?.end_user_recovery !== 1) continue;
      const points = (await this.d.catalog.listPoints(s.id, true)).map(ref).sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
      out.push({ id: s.id, path: s.path, points });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * One file of a point that `user` could read there: what it is, and its
   * content chunk by chunk (raw bytes, in file order; checked against the
   * size the point recorded once the last chunk is read).
   */
  async openFile(agent: string, user: LocalUser, body: { path: string; point?: string; at?: string }): Promise<OpenedFile> {
    const located = await this.locate(agent, body.path);
    const point = this.choose(located, body.path, body);
    const r = await this.readable(caller(user), point, located.rel);
    if (!r) throw unseen(body.path);
    if (r.item.type === 'dir') throw new CustosError('usage', `${body.path} is a directory: files are recovered one at a time`);
    if (r.item.type !== 'file') throw new CustosError('usage', `${body.path} is a ${r.item.type}, not a file`);
    if (r.item.error !== null) throw new CustosError('not-found', `${body.path} could not be read when point ${point.id.slice(0, 8)} was taken (${r.item.error})`);
    const chunks = await this.d.content.fileChunks(point.id, r.contentPath);
    if (!chunks) throw unseen(body.path);
    const size = r.item.size;
    const pool = this.d.pool;
    return {
      source: located.sourceId,
      answer: { path: body.path, point: ref(point), size, mode: r.item.mode, mtime: mtimeIso(r.item.mtimeNs), chunks: chunks.length },
      async *content() {
        let bytes = 0;
        for (const c of chunks) {
          const raw = await pool.readChunk(c.id);
          bytes += raw.length;
          yield raw;
        }
        if (bytes !== size) throw new CustosError('integrity', `${body.path}: point ${point.id} holds ${bytes} bytes of a ${size}-byte file`);
      },
    };
  }

  /** The agent's own fs data source whose path is the longest prefix of `path`, and the group's consent. */
  private async locate(agent: string, path: string): Promise<Located> {
    let best: { id: string; path: string; group: string | null } | undefined;
    for (const s of await this.d.catalog.listSources({ agent })) {
      if (s.kind !== 'fs') continue;
      const under = path === s.path || s.path === '/' || path.startsWith(s.path + '/');
      if (under && (!best || s.path.length > best.path.length)) best = { id: s.id, path: s.path, group: s.group_name };
    }
    if (!best) throw new CustosError('not-found', `${path} is not protected on this computer`);
    const group = best.group === null ? undefined : await this.d.catalog.group(best.group);
    if (!group || group.end_user_recovery !== 1) {
      throw new CustosError('denied', `end-user recovery is switched off for ${best.path}: ask your administrator (custos group update ${best.group ?? 'GROUP'} --end-user-recovery on)`);
    }
    const rel = path === best.path ? '' : best.path === '/' ? path.slice(1) : path.slice(best.path.length + 1);
    const points = (await this.d.catalog.listPoints(best.id, true)).map((p) => ({ id: p.id, time: p.time, source: best!.id }));
    return { sourceId: best.id, sourcePath: best.path, rel: Buffer.from(rel, 'utf8'), points };
  }

  /** The item at `rel` in a point, when the caller could read it there (a hard link judged by the file it links to). */
  private async readable(who: LocalCaller, point: PointRef, rel: Buffer): Promise<{ item: IndexedItem; chain: CapturedPermissions[]; contentPath: Buffer } | undefined> {
    const chain: CapturedPermissions[] = [];
    const names = rel.length === 0 ? [] : splitPath(rel);
    let at: Buffer = Buffer.alloc(0);
    for (let i = 0; i < names.length; i++) {
      const dir = await this.d.index.item(point, at);
      if (!dir || dir.type !== 'dir') return undefined;
      chain.push(permissions(dir));
      at = i === 0 ? names[0]! : Buffer.concat([at, Buffer.from('/'), names[i]!]);
    }
    let item = await this.d.index.item(point, rel);
    if (!item) return undefined;
    let contentPath: Buffer = rel;
    if (item.type === 'hardlink') {
      // The inode's owner, mode and ACL are the file it links to: judged by those, reached by the link's own parents.
      const target = item.target ? await this.d.index.item(point, item.target) : undefined;
      if (!target || target.type !== 'file') return undefined;
      contentPath = target.path;
      item = { ...target, path: item.path };
    }
    const path: CapturedPath = { ancestors: chain, item: permissions(item), kind: item.type === 'file' ? 'file' : item.type === 'dir' ? 'dir' : 'other' };
    return mayRead(who, path) ? { item, chain, contentPath } : undefined;
  }

  private choose(located: Located, path: string, choice: { point?: string; at?: string }): PointRef {
    const { points } = located;
    if (points.length === 0) throw unseen(path);
    if (choice.point !== undefined) {
      const matches = points.filter((p) => p.id.startsWith(choice.point!));
      if (matches.length === 0) throw new CustosError('not-found', `no recovery point ${choice.point} of ${path}`);
      if (matches.length > 1) throw new CustosError('usage', `recovery point id ${choice.point} is ambiguous (${matches.length} match); give more digits`);
      return matches[0]!;
    }
    if (choice.at !== undefined) return pointAt(points, new Date(choice.at), path);
    return points.reduce((a, b) => (b.time > a.time ? b : a));
  }

  private async versions(who: LocalCaller, located: Located, path: string): Promise<MyVersions> {
    // Every point is looked at anyway (each is judged on its own), so the versions are made from those
    // answers: a hard link counts with the content of the file it links to in that point.
    const versions: Array<{ content: string | null; size: number; mtimeNs: bigint; points: Array<{ id: string; time: string }> }> = [];
    const ordered = [...located.points].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const p of ordered) {
      const r = await this.readable(who, p, located.rel);
      if (!r || r.item.type !== 'file') continue;
      const last = versions.at(-1);
      if (last && last.content !== null && last.content === r.item.content) last.points.push(ref(p));
      else versions.push({ content: r.item.content, size: r.item.size, mtimeNs: r.item.mtimeNs, points: [ref(p)] });
    }
    if (versions.length === 0) throw unseen(path);
    return { path, versions: versions.map((v) => ({ size: v.size, mtime: mtimeIso(v.mtimeNs), points: v.points })) };
  }

  private async browse(who: LocalCaller, located: Located, body: Extract<UserRequest, { op: 'browse' }>): Promise<MyListing> {
    const point = this.choose(located, body.path, body);
    const dir = await this.readable(who, point, located.rel);
    if (!dir || dir.item.type !== 'dir') throw unseen(body.path);
    const chain = [...dir.chain, permissions(dir.item)];
    const after = body.after === undefined ? undefined : located.rel.length === 0 ? Buffer.from(body.after) : Buffer.concat([located.rel, Buffer.from('/' + body.after)]);
    const page = await this.d.index.list(point, located.rel, { limit: body.limit, ...(after ? { after } : {}) });
    const items: UserItem[] = [];
    for (let child of page.items) {
      if (child.type === 'hardlink') {
        const target = child.target ? await this.d.index.item(point, child.target) : undefined;
        if (!target || target.type !== 'file') continue;
        child = { ...target, path: child.path };
      }
      const kind = child.type === 'file' ? 'file' : child.type === 'dir' ? 'dir' : 'other';
      // A child is shown when it could have been read (a directory: listed), like everything else here.
      if (!mayRead(who, { ancestors: chain, item: permissions(child), kind })) continue;
      const name = child.path.subarray(child.path.lastIndexOf(0x2f) + 1).toString('utf8');
      items.push({ name, type: child.type, size: child.size, mtime: mtimeIso(child.mtimeNs), mode: child.mode, user: child.user, group: child.group });
    }
    const next = page.next === null ? null : page.next.subarray(page.next.lastIndexOf(0x2f) + 1).toString('utf8');
    return { path: body.path, point: ref(point), items, next };
  }

  /**
   * Paths under the directory asked for that match the pattern in any point,
   * each with the points where the user could read it (first, last, how
   * many): a path never readable is not a hit.
   */
  private async search(who: LocalCaller, located: Located, body: Extract<UserRequest, { op: 'search' }>): Promise<MySearch> {
    const dir = located.rel.toString('utf8');
    const pattern = body.pattern.includes('/') && dir !== '' ? `${dir}/${body.pattern.replace(/^\/+/, '')}` : body.pattern;
    const points = [...located.points].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const { hits } = await this.d.index.search(points, pattern, SEARCH_CANDIDATES);
    const under = dir === '' ? null : Buffer.from(dir + '/');
    const out: MySearch['hits'] = [];
    for (const h of hits) {
      if (under && !(h.path.length > under.length && h.path.subarray(0, under.length).equals(under))) continue;
      let first: PointRef | undefined;
      let last: PointRef | undefined;
      let seen = 0;
      let size = 0;
      for (const p of points) {
        const r = await this.readable(who, p, h.path);
        if (!r) continue;
        first ??= p;
        last = p;
        seen++;
        size = r.item.size;
      }
      if (!first || !last) continue;
      const path = located.sourcePath === '/' ? `/${h.path.toString('utf8')}` : `${located.sourcePath}/${h.path.toString('utf8')}`;
      out.push({ path, type: h.type, size, first: ref(first), last: ref(last), points: seen });
      if (out.length >= body.limit) break;
    }
    return { path: body.path, pattern: body.pattern, hits: out };
  }

  /** Sends a file's content as blob frames of request `req` (raw bytes, in file order); the agent writes it as the user, and the server never learns where. */
  private async send(file: OpenedFile, session: AgentSession, req: number): Promise<void> {
    let i = 0;
    for await (const raw of file.content()) await session.sendBinary(encodeBlobFrame(req, i++, raw.length, raw));
  }
}

function splitPath(rel: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= rel.length; i++) {
    if (i === rel.length || rel[i] === 0x2f) {
      out.push(rel.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}
