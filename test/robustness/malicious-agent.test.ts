/**
 * A malicious agent, against a real server process: the harness enrolls a
 * real agent certificate through the API and speaks the agent protocol by
 * hand (WebSocket over mutual TLS), trying each attack of issue 8 — garbage
 * and oversized messages, unknown fields, a chunk under a wrong id or with
 * bad compression, asking whether another computer holds some content,
 * reading another computer's chunks, committing bad references, another
 * computer's chunks or a chunk that is no manifest page, messages for other
 * jobs — and then fuzzes the endpoint with generated frames. After each:
 * the server is up, nothing of it is stored, and the honest agent's jobs and
 * recoveries work. Last, a garbage point object of one data source leaves
 * another data source's synchronization and recovery untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import WebSocket from 'ws';
import { BlobCodec, encodePage, type ManifestEntry } from '../../src/format/index.js';
import { encodeChunkFrame, PROTOCOL_VERSION, type JobSpec } from '../../src/protocol/index.js';
import { cleanupTempDirs, describeCli, diffDigests, makeTempDir, memoryTmpBase, seededBytes, treeDigest, writeTree } from '../helpers/tree.js';
import { attachAgent, startServer, stopAllProcesses, waitFor, type ApiAgent, type ApiJob, type ApiPoint, type TestAgent, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;

/** An agent that speaks the protocol by hand with a real certificate. */
class HandAgent {
  readonly texts: Json[] = [];
  readonly binaries: Buffer[] = [];
  closed: { code: number; reason: string } | null = null;
  private readonly waiters = new Set<() => void>();
  private nextReq = 1;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.texts.push(JSON.parse(data.toString('utf8')) as Json);
      else this.binaries.push(Buffer.from(data));
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
  }

  static connect(server: TestServer, agent: TestAgent): Promise<HandAgent> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace(/^https/, 'wss')}/api/agent/connect`, {
        ca: readFileSync(server.caPath, 'utf8'),
        cert: readFileSync(join(agent.dataDir, 'cert.pem'), 'utf8'),
        key: readFileSync(join(agent.dataDir, 'key.pem'), 'utf8'),
        servername: '',
        maxPayload: 128 * 1024 * 1024,
      } as WebSocket.ClientOptions);
      const hand = new HandAgent(ws);
      ws.once('open', () => resolve(hand));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with pick()'s first non-undefined value, checked at every frame from the server. */
  until<T>(what: string, pick: () => T | undefined, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = pick();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (this.closed) {
          done();
          reject(new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  sendText(s: string): void {
    this.ws.send(s);
  }

  sendBinary(b: Buffer): void {
    this.ws.send(b, { binary: true });
  }

  hello(protocol = PROTOCOL_VERSION, hostname = 'mallory-host', version = 'hand/1'): void {
    this.send({ t: 'hello', protocol, version, hostname });
  }

  async job(id: number): Promise<JobSpec> {
    return this.until(`job ${id}`, () => this.texts.find((m) => m['t'] === 'job' && (m['job'] as JobSpec).id === id)?.['job'] as JobSpec | undefined);
  }

  /** A request and its reply (`{ok, body | error}`). */
  async request(job: number, body: unknown, req = this.nextReq++): Promise<Json> {
    this.send({ t: 'request', req, job, body });
    return this.until(`the reply to request ${req}`, () => this.texts.find((m) => m['t'] === 'reply' && m['req'] === req));
  }

  close(): void {
    this.ws.close(1000, 'done');
  }
}

const SECRET = Buffer.from(`alice's private key: ${randomBytes(24).toString('hex')}\n`);
const ZERO_SUMMARY = { filesNew: 0, filesChanged: 0, filesUnchanged: 0, dirs: 0, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 0, bytesAdded: 0, logicalBytes: 0, durationMs: 0 };

function entry(path: string, type: ManifestEntry['type'], extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return { path: Buffer.from(path), type, mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, ctimeNs: 0n, ino: 1n, size: 0, ...extra };
}

describe('a malicious agent', { timeout: 900_000 }, () => {
  let server: TestServer;
  let alice: TestAgent;
  let malloryAgent: TestAgent;
  let eve: TestAgent;
  let hand: HandAgent;
  let work: string;
  let sourceA: string;
  let sourceB: string;
  const mallorySource = 'mallory:fs:/srv/mallory';
  let digestA: Map<string, string>;
  let digestB: Map<string, string>;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const r = await server.request(method, path, { token: server.adminToken, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: r.status, body: (r.text ? r.json<T>() : undefined) as T };
  };
  const points = async (source: string) => (await api<ApiPoint[]>('GET', `/api/data-sources/${encodeURIComponent(source)}/recovery-points`)).body;
  const pointObjects = () => readdirSync(join(server.dataDir, 'pool', 'points')).sort();
  const finished = async (id: number): Promise<ApiJob> => waitFor(`job ${id} to finish`, async () => {
    const j = (await api<ApiJob>('GET', `/api/jobs/${id}?wait=20`)).body;
    return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, 120_000, 100);
  const runCli = async (args: string[]) => {
    const r = await server.cli(args, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, describeCli(args, r));
    return JSON.parse(r.stdout) as ApiJob;
  };

  /** Starts a recovery-point job of mallory's data source; the spec the hand agent receives. */
  const malloryJob = async (): Promise<{ spec: JobSpec; codec: BlobCodec }> => {
    const r = await api<ApiJob>('POST', `/api/data-sources/${encodeURIComponent(mallorySource)}/recovery-points`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const spec = await hand.job(r.body.id);
    assert.equal(spec.kind, 'recovery-point');
    // Whatever keys the server hands out are what the harness works with.
    const keys = spec.keys as Record<string, string> | null;
    assert.ok(keys, 'the server pool is encrypted');
    const decoded = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, Buffer.from(v, 'base64')])) as { idKey: Buffer };
    return { spec, codec: new BlobCodec({ keys: decoded, compressionLevel: 3 }) };
  };

  /** A new connection of mallory's (it replaces the one before), past its hello. */
  const connectMallory = async () => {
    hand?.close();
    hand = await HandAgent.connect(server, malloryAgent);
    hand.hello();
    await hand.request(999_998, { op: 'stored' }); // answered once the hello has been taken
    await waitFor('mallory connected', async () => (await api<ApiAgent[]>('GET', '/api/agents')).body.find((a) => a.name === 'mallory' && a.status === 'connected'), 30_000, 100);
  };

  /** Sends one chunk in transport form; the server checks it when it arrives. */
  const sendChunk = (job: number, codec: BlobCodec, data: Buffer): Buffer => {
    const id = codec.chunkIdBytes(data);
    hand.sendBinary(encodeChunkFrame(job, id, data.length, codec.encodeChunk(id, data)));
    return id;
  };

  /** What must hold after every attack: the server is up and mallory has no recovery point. */
  const nothingStored = async (objectsBefore: string[]) => {
    const health = await server.request('GET', '/api/health');
    assert.equal(health.status, 200);
    assert.deepEqual(await points(mallorySource), [], 'mallory has no recovery point (the attacks run before its one legitimate commit)');
    assert.deepEqual(pointObjects(), objectsBefore, 'no point object was written');
    assert.equal(server.process.exited, false);
  };

  before(async () => {
    work = (await makeTempDir('custos-malicious-', { base: memoryTmpBase() })).path;
    await writeTree(join(work, 'a'), { 'secret.txt': SECRET, 'data/big.bin': seededBytes('mal-a', 700_000), 'notes.txt': 'a\n' });
    await writeTree(join(work, 'b'), { 'b.txt': 'bee\n', 'sub/b2.bin': seededBytes('mal-b', 200_000) });
    digestA = await treeDigest(join(work, 'a'));
    digestB = await treeDigest(join(work, 'b'));
    server = await startServer();
    alice = await attachAgent(server, 'alice');
    malloryAgent = await attachAgent(server, 'mallory');
    eve = await attachAgent(server, 'eve');
    await alice.start();
    sourceA = `alice:fs:${join(work, 'a')}`;
    sourceB = `alice:fs:${join(work, 'b')}`;
    const at = new Date(Date.now() + 12 * 3_600_000).toISOString().slice(11, 16);
    const args = ['group', 'create', 'g', '--source', sourceA, sourceB, mallorySource, '--replica', 'manual', '--sync', '24h', '--points', at, '--json'];
    const r = await server.cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    await runCli(['point', 'create', sourceA, '--wait', '--json']);
    await runCli(['point', 'create', sourceB, '--wait', '--json']);
  });

  after(async () => {
    hand?.close();
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('an agent of another protocol version is told so and disconnected; a hello with garbage gets no jobs and nothing stored', async () => {
    type AgentInfo = ApiAgent & { version: string | null; hostname: string | null };
    const eveBefore = (await api<AgentInfo[]>('GET', '/api/agents')).body.find((a) => a.name === 'eve')!;
    const old = await HandAgent.connect(server, eve);
    old.hello(1);
    await old.until('the server to close an agent of protocol 1', () => old.closed ?? undefined, 30_000);
    assert.equal(old.closed!.code, 4002);
    assert.match(old.closed!.reason, /protocol 1 is not supported.*protocol 2/);

    const garbage = await HandAgent.connect(server, eve);
    garbage.hello(PROTOCOL_VERSION, 'evil\nhost; rm -rf /', 'v'.repeat(5000));
    garbage.send({ t: 'hello', protocol: PROTOCOL_VERSION, version: '1', hostname: 'ok', extra: 1 });
    // Still answered (in order) while it waits: a request of a job it does not have.
    const reply = await garbage.request(1, { op: 'stored' });
    assert.equal(reply['ok'], false);
    const e = (await api<AgentInfo[]>('GET', '/api/agents')).body.find((a) => a.name === 'eve')!;
    assert.equal(e.status, 'disconnected', 'no valid hello: not connected, no job goes to it');
    assert.deepEqual([e.version, e.hostname], [eveBefore.version, eveBefore.hostname], 'nothing of the refused hellos is stored');
    garbage.close();
  });

  test('an agent is given the id key of the pool and nothing else', async () => {
    await connectMallory();
    const { spec } = await malloryJob();
    assert.deepEqual(Object.keys(spec.keys ?? {}), ['idKey'], 'no data key');
    hand.send({ t: 'failed', job: spec.id, error: { code: 'io', message: 'done looking', transient: false } });
    await finished(spec.id);
  });

  test('garbage, oversized and unknown messages and frames are refused; the connection goes on', async () => {
    await connectMallory();
    const objects = pointObjects();
    const jobsBefore = (await api<ApiJob[]>('GET', '/api/jobs?limit=1000')).body.length;
    hand.sendText('not json');
    hand.sendText('[]');
    hand.sendText('null');
    hand.send({ t: 'nope' });
    hand.send({ t: 'hello', protocol: PROTOCOL_VERSION, version: 'second', hostname: 'again' });
    hand.send({ t: 'progress', job: 4_000_000_000, progress: { phase: 'x'.repeat(100_000), filesDone: -1, bytesDone: 1e300, bytesTotal: 'all' } });
    hand.send({ t: 'log', job: 1, level: 'critical', message: 'x'.repeat(1_000_000) });
    hand.send({ t: 'done', job: 1, result: { point: 'f'.repeat(32), evil: true } });
    hand.send({ t: 'failed', job: 1, error: { code: 'pwned', message: 'm', transient: true } });
    hand.send({ t: 'journal-lost', source: sourceA, reason: 'mallory says so' });
    hand.send({ t: 'request', req: -1, job: 1, body: { op: 'missing', ids: ['a'] } });
    hand.sendText(JSON.stringify({ t: 'log', job: 1, level: 'info', message: 'y' }).replace('}', ',"__proto__":{"admin":true}}'));
    hand.sendBinary(Buffer.alloc(0));
    hand.sendBinary(Buffer.from([9, 9, 9]));
    hand.sendBinary(encodeChunkFrame(123_456, randomBytes(32), 10, randomBytes(20)));
    hand.sendBinary(Buffer.concat([Buffer.from([1]), randomBytes(20)]));
    const reply = await hand.request(777, { op: 'stored' });
    assert.deepEqual(reply['error'], { code: 'not-found', message: 'job 777 is not running on this agent', transient: false }, 'the session is alive and took every frame in order');
    const agents = (await api<Array<ApiAgent & { version: string | null; hostname: string | null }>>('GET', '/api/agents')).body;
    const m = agents.find((a) => a.name === 'mallory')!;
    assert.deepEqual([m.status, m.version, m.hostname], ['connected', 'hand/1', 'mallory-host'], 'the first, valid hello is what the catalog holds');
    const a = (await api<Array<{ id: string; replicaState: string }>>('GET', '/api/data-sources')).body.find((s) => s.id === sourceA)!;
    assert.equal(a.replicaState, 'ok', "mallory cannot mark alice's replica inconsistent");
    assert.equal((await api<ApiJob[]>('GET', '/api/jobs?limit=1000')).body.length, jobsBefore, 'no job was made');
    await nothingStored(objects);
  });

  test("`missing` says nothing about other computers' data, and `blobs` serves none of it", async () => {
    await connectMallory();
    const objects = pointObjects();
    const { spec, codec } = await malloryJob();
    const aliceChunk = codec.chunkId(SECRET);
    // The confirmation-of-file attack: mallory guesses alice's file exactly and asks whether the pool has it.
    const asked = await hand.request(spec.id, { op: 'missing', ids: [aliceChunk] });
    assert.deepEqual(asked['body'], { missing: [0] }, 'a chunk only another agent has is "missing"');
    const read = await hand.request(spec.id, { op: 'blobs', ids: [aliceChunk] });
    assert.equal((read['error'] as Json)['code'], 'denied');
    // Uploading it is accepted (checked, not stored twice): from then on it is this job's own.
    sendChunk(spec.id, codec, SECRET);
    await hand.request(spec.id, { op: 'stored' });
    assert.deepEqual((await hand.request(spec.id, { op: 'missing', ids: [aliceChunk] }))['body'], { missing: [] });
    // Another agent's job, and a job that does not exist.
    const aliceJobs = (await api<ApiJob[]>('GET', '/api/jobs?limit=1000')).body.filter((j) => j.agent === 'alice');
    for (const id of [aliceJobs[0]!.id, 999_999]) {
      const r = await hand.request(id, { op: 'blobs', ids: [aliceChunk] });
      assert.equal((r['error'] as Json)['code'], 'not-found');
    }
    hand.send({ t: 'failed', job: spec.id, error: { code: 'io', message: 'mallory gives up', transient: false } });
    assert.equal((await finished(spec.id)).state, 'failed');
    await nothingStored(objects);
  });

  test('a chunk with a wrong id, bad compression or encrypted fails the job and stores nothing', async () => {
    await connectMallory();
    const objects = pointObjects();
    const attempts: Array<[string, (job: number, codec: BlobCodec) => void, RegExp]> = [
      ['wrong id', (job, codec) => {
        const data = Buffer.from('what the chunk really holds');
        hand.sendBinary(encodeChunkFrame(job, codec.chunkIdBytes(Buffer.from('another content')), data.length, codec.encodeChunk(codec.chunkIdBytes(data), data)));
      }, /does not match its id/],
      ['bad compression', (job, codec) => {
        const data = seededBytes('zz', 5000);
        const blob = Buffer.concat([Buffer.from([0x43, 0x4b, 1, 1]), randomBytes(300)]);
        hand.sendBinary(encodeChunkFrame(job, codec.chunkIdBytes(data), data.length, blob));
      }, /cannot decompress/],
      ['encrypted', (job, codec) => {
        const data = Buffer.from('x');
        hand.sendBinary(encodeChunkFrame(job, codec.chunkIdBytes(data), 1, Buffer.concat([Buffer.from([0x43, 0x4b, 1, 2]), randomBytes(40)])));
      }, /never encrypted/],
      ['raw length out of range', (job, codec) => {
        const data = Buffer.from('y');
        hand.sendBinary(encodeChunkFrame(job, codec.chunkIdBytes(data), 0xffff_ffff, codec.encodeChunk(codec.chunkIdBytes(data), data)));
      }, /out of range/],
    ];
    for (const [what, attack, error] of attempts) {
      const { spec, codec } = await malloryJob();
      attack(spec.id, codec);
      const j = await finished(spec.id);
      assert.equal(j.state, 'failed', what);
      assert.match(j.error ?? '', error, what);
      await nothingStored(objects);
    }
  });

  test('commits with bad references, bad summaries, foreign chunks or a page that is no manifest page are refused', async () => {
    await connectMallory();
    const objects = pointObjects();
    const commit = (manifest: unknown, extra: Json = {}) => ({ op: 'commit', manifest, summary: ZERO_SUMMARY, partial: false, excludes: [], ...extra });
    const attempts: Array<[string, (job: number, codec: BlobCodec) => unknown, RegExp]> = [
      ['malformed page refs', () => commit([{ id: 'zz', length: -1, entries: 0 }]), /invalid agent message/],
      ['an unknown page', () => commit([{ id: 'ab'.repeat(32), length: 100, entries: 1 }]), /was not sent in this job/],
      ['a negative summary', (job, codec) => {
        const page = encodePage([entry('', 'dir', { mode: 0o755 })]);
        const id = sendChunk(job, codec, page);
        return commit([{ id: id.toString('hex'), length: page.length, entries: 1 }], { summary: { ...ZERO_SUMMARY, filesNew: -5 } });
      }, /invalid agent message/],
      ['partial that is not a boolean', (job, codec) => {
        const page = encodePage([entry('', 'dir', { mode: 0o755 })]);
        const id = sendChunk(job, codec, page);
        return commit([{ id: id.toString('hex'), length: page.length, entries: 1 }], { partial: 'yes' });
      }, /invalid agent message/],
      ['wrong entry count', (job, codec) => {
        const page = encodePage([entry('', 'dir', { mode: 0o755 }), entry('f', 'file')]);
        const id = sendChunk(job, codec, page);
        return commit([{ id: id.toString('hex'), length: page.length, entries: 3 }]);
      }, /holds 2 entries, not 3/],
      ["alice's chunk, never sent", (job, codec) => {
        // The manifest of a file made of alice's secret: committed, mallory could then recover it.
        const page = encodePage([entry('', 'dir', { mode: 0o755 }), entry('stolen.txt', 'file', { size: SECRET.length, chunks: [{ id: codec.chunkIdBytes(SECRET), length: SECRET.length }] })]);
        const id = sendChunk(job, codec, page);
        return commit([{ id: id.toString('hex'), length: page.length, entries: 2 }]);
      }, /never sent/],
      ["an express full's metadata on a point of files", (job, codec) => {
        const page = encodePage([entry('', 'dir', { mode: 0o755 })]);
        const id = sendChunk(job, codec, page);
        const app = {
          kind: 'postgres', point: 'full', logMode: 'full-only', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
          startLsn: '0/2000028', stopLsn: '0/2000100', startTime: '2026-12-07T18:00:00Z', stopTime: '2026-12-07T18:00:01Z', dataChecksums: false,
          walSegments: ['000000010000000000000002', '000000010000000000000002'],
        };
        return commit([{ id: id.toString('hex'), length: page.length, entries: 1 }], { app });
      }, /a point of files carries no application metadata/],
      ['a data chunk as a manifest page', (job, codec) => {
        const data = seededBytes('not-a-page', 3000);
        const id = sendChunk(job, codec, data);
        return commit([{ id: id.toString('hex'), length: data.length, entries: 1 }]);
      }, /is not a manifest page/],
    ];
    for (const [what, make, error] of attempts) {
      const { spec, codec } = await malloryJob();
      const body = await make(spec.id, codec);
      await hand.request(spec.id, { op: 'stored' });
      const reply = await hand.request(spec.id, body);
      assert.equal(reply['ok'], false, `${what}: the commit is refused`);
      const j = await finished(spec.id);
      assert.equal(j.state, 'failed', what);
      assert.match(j.error ?? '', error, what);
      await nothingStored(objects);
    }
  });

  test('progress, log and result garbage inside a job fails that job; none of it is stored', async () => {
    await connectMallory();
    const objects = pointObjects();
    const garbage: Array<[string, (job: number) => unknown]> = [
      ['progress', (job) => ({ t: 'progress', job, progress: { phase: 'P'.repeat(50_000), filesDone: 1, bytesDone: 1, bytesTotal: null } })],
      ['log', (job) => ({ t: 'log', job, level: 'info', message: 'L'.repeat(100_000) })],
      ['done', (job) => ({ t: 'done', job, result: { point: 'f'.repeat(32), files: 1, blob: 'R'.repeat(100_000) } })],
      ['failed', (job) => ({ t: 'failed', job, error: { code: 'io', message: 'E'.repeat(100_000), transient: true } })],
    ];
    for (const [what, make] of garbage) {
      const { spec } = await malloryJob();
      hand.send(make(spec.id));
      const j = await finished(spec.id);
      assert.equal(j.state, 'failed', what);
      assert.match(j.error ?? '', /the agent sent a message the server refuses/, what);
      const text = JSON.stringify(j);
      for (const c of ['PPPPPPPP', 'LLLLLLLL', 'RRRRRRRR', 'EEEEEEEE']) assert.ok(!text.includes(c), `${what}: nothing of the garbage is stored`);
      assert.equal(j.attempts, 1, `${what}: not retried`);
      await nothingStored(objects);
    }
  });

  test('fuzzed frames on the agent endpoint: the server stays up, answers in order and stores nothing', async () => {
    await connectMallory();
    const objects = pointObjects();
    const jobsBefore = (await api<ApiJob[]>('GET', '/api/jobs?limit=1000')).body.length;
    const id = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });
    const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer(), fc.string({ maxLength: 50 }), fc.array(id, { maxLength: 3 }));
    const message = fc.record({
      t: fc.constantFrom('hello', 'request', 'progress', 'log', 'done', 'failed', 'journal-lost', 'job', 'reply'),
      job: fc.oneof(fc.integer({ min: 100_000, max: 0xffff_ffff }), field),
      req: fc.oneof(fc.integer({ min: 1_000_000, max: 0xffff_ffff }), field),
      body: fc.oneof(fc.record({ op: fc.constantFrom('missing', 'blobs', 'stored', 'commit'), ids: fc.array(id, { maxLength: 5 }) }), field),
      progress: field, level: field, message: field, result: field, error: field, source: field, reason: field,
    }, { requiredKeys: ['t'] });
    const frame = fc.oneof(
      { weight: 5, arbitrary: message.map((m) => ({ text: JSON.stringify(m) })) },
      { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ text: JSON.stringify(v) })) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ text: s })) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ binary: Buffer.from(b) })) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100_000, max: 0xffff_ffff }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat(), fc.uint8Array({ maxLength: 100 }))
        .map(([job, cid, raw, blob]) => ({ binary: encodeChunkFrame(job, cid, raw % 0x1_0000_0000, blob) })) },
    );
    const seed = Date.now() % 1_000_000;
    const frames = fc.sample(frame, { numRuns: 10_000, seed });
    for (const f of frames) {
      if ('text' in f) hand.sendText(f.text);
      else hand.sendBinary(f.binary);
    }
    const reply = await hand.request(778, { op: 'stored' }, 4_000_000_001);
    assert.equal((reply['error'] as Json)['code'], 'not-found', `seed ${seed}: the session answers after 10,000 fuzzed frames`);
    const m = (await api<Array<ApiAgent & { version: string | null; hostname: string | null }>>('GET', '/api/agents')).body.find((a) => a.name === 'mallory')!;
    assert.deepEqual([m.status, m.version, m.hostname], ['connected', 'hand/1', 'mallory-host'], `seed ${seed}`);
    assert.equal((await api<ApiJob[]>('GET', '/api/jobs?limit=1000')).body.length, jobsBefore, `seed ${seed}: no job was made`);
    await nothingStored(objects);
  });

  test('a recovery job serves only the chunks of the point it recovers (and a well-formed commit of its own data is taken)', async () => {
    await connectMallory();
    const { spec, codec } = await malloryJob();
    const data = Buffer.from(`mallory's own file ${randomBytes(8).toString('hex')}\n`);
    const chunk = sendChunk(spec.id, codec, data);
    const page = encodePage([entry('', 'dir', { mode: 0o755 }), entry('mine.txt', 'file', { size: data.length, chunks: [{ id: chunk, length: data.length }] })]);
    const pageId = sendChunk(spec.id, codec, page);
    await hand.request(spec.id, { op: 'stored' });
    const committed = await hand.request(spec.id, { op: 'commit', manifest: [{ id: pageId.toString('hex'), length: page.length, entries: 2 }], summary: { ...ZERO_SUMMARY, filesNew: 1, dirs: 1 }, partial: false, excludes: [] });
    assert.equal(committed['ok'], true, JSON.stringify(committed));
    // The answer says nothing of how much was new to the pool (that would tell whether another computer holds the content).
    assert.deepEqual(Object.keys(committed['body'] as Json).sort(), ['point', 'time']);
    hand.send({ t: 'done', job: spec.id, result: committed['body'] });
    assert.equal((await finished(spec.id)).state, 'succeeded');
    const point = (await points(mallorySource)).at(-1)!;

    const r = await api<ApiJob>('POST', '/api/recoveries', { source: mallorySource, point: point.id, to: 'mallory:/tmp/mallory-restore' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const rec = await hand.job(r.body.id);
    assert.equal(rec.kind, 'recovery');
    const denied = await hand.request(rec.id, { op: 'blobs', ids: [codec.chunkId(SECRET)] });
    assert.equal((denied['error'] as Json)['code'], 'denied', "alice's chunk is not part of mallory's point");
    for (const body of [{ op: 'missing', ids: [chunk.toString('hex')] }, { op: 'stored' }]) {
      const other = await hand.request(rec.id, body);
      assert.equal(other['ok'], false, `a recovery job cannot ${body.op}`);
    }
    // A chunk of the point is readable once the page that references it has been read (as an agent reads them).
    const early = await hand.request(rec.id, { op: 'blobs', ids: [chunk.toString('hex')] });
    assert.equal((early['error'] as Json)['code'], 'denied', 'no page read yet: no chunk of the point is readable');
    const pageRead = await hand.request(rec.id, { op: 'blobs', ids: [pageId.toString('hex')] });
    assert.deepEqual(pageRead['body'], { count: 1 });
    const before = hand.binaries.length;
    const own = await hand.request(rec.id, { op: 'blobs', ids: [chunk.toString('hex')] });
    assert.deepEqual(own['body'], { count: 1 });
    const frame = hand.binaries[before]!;
    // Blob frame: 0x02, req, index, raw length, then the chunk in transport form: the agent reads it with the id key alone.
    assert.equal(frame[0], 2);
    assert.deepEqual(codec.decodeChunk(chunk, frame.subarray(13)), data);
    hand.send({ t: 'failed', job: rec.id, error: { code: 'io', message: 'enough', transient: false } });
    await finished(rec.id);
  });

  test("the honest agent's synchronizations and recoveries are unaffected", async () => {
    await writeTree(join(work, 'a'), { 'later.txt': 'after the attacks\n' });
    const sync = await runCli(['point', 'create', sourceA, '--wait', '--json']);
    assert.equal(sync.state, 'succeeded');
    // The bytes new to the pool are the server's own count (the agent is not told it).
    const result = sync.result as { bytesAdded: number; summary: { bytesAdded: number } };
    assert.ok(result.bytesAdded > 0 && result.summary.bytesAdded === result.bytesAdded, JSON.stringify(result));
    digestA = await treeDigest(join(work, 'a'));
    const target = join(work, 'recovered-a');
    const rec = await runCli(['recover', sourceA, '--point', 'latest', '--to', `alice:${target}`, '--wait', '--json']);
    assert.equal(rec.state, 'succeeded');
    assert.deepEqual(diffDigests(digestA, await treeDigest(target)), []);
    // A consistency check of the unchanged tree makes the newest point's manifest pages again, without sending them: they are its own.
    const check = await runCli(['check', sourceA, '--wait', '--json']);
    assert.equal(check.state, 'succeeded', JSON.stringify(check));
    // The newest replica is a recovery point again (the next test damages it).
    assert.equal((await runCli(['point', 'create', sourceA, '--wait', '--json'])).state, 'succeeded');
  });

  test("a garbage point object of one data source does not affect another data source's jobs", async () => {
    const pointsDir = join(server.dataDir, 'pool', 'points');
    // A's newest point object is damaged, and a point object of no one's is garbage.
    const newestA = (await points(sourceA)).at(-1)!;
    writeFileSync(join(pointsDir, newestA.id), randomBytes(200));
    writeFileSync(join(pointsDir, randomBytes(16).toString('hex')), Buffer.from('CK\x01\x02garbage'));
    await writeTree(join(work, 'b'), { 'b3.txt': 'third\n' });
    digestB = await treeDigest(join(work, 'b'));
    const sync = await runCli(['point', 'create', sourceB, '--wait', '--json']);
    assert.equal(sync.state, 'succeeded', JSON.stringify(sync));
    const target = join(work, 'recovered-b');
    const rec = await runCli(['recover', sourceB, '--point', 'latest', '--to', `alice:${target}`, '--wait', '--json']);
    assert.equal(rec.state, 'succeeded');
    assert.deepEqual(diffDigests(digestB, await treeDigest(target)), []);
    // A's own jobs fail, and say why.
    const r = await server.cli(['sync', sourceA, '--wait', '--json'], { timeoutMs: 120_000 });
    assert.notEqual(r.code, 0);
    const failedJob = JSON.parse(r.stdout || '{}') as Partial<ApiJob>;
    if (failedJob.error) assert.match(failedJob.error, /point|authentication|malformed|integrity/i);
  });
});
