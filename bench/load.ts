/**
 * The load run: one protection server and N protection agents (separate
 * processes, each with its own client certificate and TLS connection) on
 * loopback, every agent protecting a small tree of its own. Round 1 creates
 * every replica at once (`--replica now`); round 2 changes every tree and
 * asks for every synchronization at once. Reported: whether every job
 * succeeded, job latency (queued → finished) percentiles, wall time of each
 * round, the server's peak RSS and the agents'.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type CommandSpec, runChecked } from './exec.js';
import { formatBytes, formatSeconds } from './report.js';
import { Rng } from './rng.js';
import { attachCustosAgent, type CustosServer, type Daemon, peakRssKiB, startCustosAgent, startCustosServer } from './services.js';

export interface LoadOptions {
  readonly agents: number;
  /** Files per tree. */
  readonly files: number;
  readonly work: string;
  readonly repoRoot: string;
  readonly log: (message: string) => void;
}

interface JobView {
  readonly id: number;
  readonly state: string;
  readonly source: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly error: string | null;
}

export interface LoadRound {
  readonly name: string;
  readonly jobs: number;
  readonly succeeded: number;
  readonly failed: string[];
  readonly wallSeconds: number;
  /** Queued → finished, seconds. */
  readonly latency: { readonly p50: number; readonly p95: number; readonly max: number };
  /** Started → finished, seconds. */
  readonly run: { readonly p50: number; readonly p95: number; readonly max: number };
}

export interface LoadResult {
  readonly agents: number;
  readonly filesPerAgent: number;
  bytesPerAgent: number;
  attachSeconds: number;
  readonly rounds: LoadRound[];
  serverPeakRssKiB: number;
  agentPeakRssKiB: { readonly max: number; readonly mean: number };
  ok: boolean;
  error?: string;
}

/** Small trees: text-like files (compressible), some content shared by every agent (deduplicated), some unique. */
async function writeTree(dir: string, agent: number, files: number): Promise<number> {
  const rng = new Rng(`load-${agent}`);
  const shared = new Rng('load-shared');
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${i % 10}`);
    await mkdir(sub, { recursive: true });
    const size = 1024 + rng.int(16 * 1024);
    const src = i % 4 === 0 ? shared : rng;
    const words: string[] = [];
    let n = 0;
    while (n < size) {
      const w = src.pick(WORDS);
      words.push(w);
      n += w.length + 1;
    }
    const text = words.join(' ').slice(0, size);
    await writeFile(join(sub, `f${i}.txt`), text);
    bytes += text.length;
  }
  return bytes;
}

const WORDS = ['backup', 'replica', 'recovery', 'point', 'agent', 'server', 'pool', 'chunk', 'journal', 'schedule', 'retention', 'alert', 'the', 'of', 'and', 'data', 'source', 'group'];

function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0;
  return { p50: at(0.5), p95: at(0.95), max: v.at(-1) ?? 0 };
}

function api<T>(server: CustosServer, method: string, path: string, body?: unknown): Promise<T> {
  const env = server.env();
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), {
      method,
      ca: readFileSync(env['CUSTOS_CA']!),
      servername: '',
      headers: { authorization: `Bearer ${env['CUSTOS_TOKEN']}`, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as T);
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Waits until every job in `ids` has finished (polling the job list), at most `timeoutMs`. */
async function waitJobs(server: CustosServer, ids: ReadonlySet<number>, timeoutMs: number): Promise<JobView[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const jobs = (await api<JobView[]>(server, 'GET', '/api/jobs?limit=10000')).filter((j) => ids.has(j.id));
    if (jobs.length === ids.size && jobs.every((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state))) return jobs;
    if (performance.now() > deadline) throw new Error(`jobs still unfinished after ${timeoutMs / 1000} s: ${jobs.filter((j) => !['succeeded', 'failed', 'cancelled'].includes(j.state)).length}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function summarize(name: string, jobs: JobView[], wallSeconds: number): LoadRound {
  const s = (a: string | null, b: string | null) => (a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : 0);
  return {
    name,
    jobs: jobs.length,
    succeeded: jobs.filter((j) => j.state === 'succeeded').length,
    failed: jobs.filter((j) => j.state !== 'succeeded').map((j) => `job ${j.id} ${j.source}: ${j.state} ${j.error ?? ''}`),
    wallSeconds,
    latency: percentiles(jobs.map((j) => s(j.createdAt, j.finishedAt))),
    run: percentiles(jobs.map((j) => s(j.startedAt, j.finishedAt))),
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const bin = join(o.repoRoot, 'bin', 'custos.js');
  let env: Record<string, string> = {};
  const cli = (args: string[], extra: Record<string, string> = {}): CommandSpec => ({ cmd: process.execPath, args: [bin, ...args], env: { ...env, ...extra } });
  const result: LoadResult = { agents: o.agents, filesPerAgent: o.files, bytesPerAgent: 0, attachSeconds: 0, rounds: [], serverPeakRssKiB: 0, agentPeakRssKiB: { max: 0, mean: 0 }, ok: false };
  const agents: Daemon[] = [];
  let server: CustosServer | null = null;
  try {
    o.log(`load: writing ${o.agents} trees of ${o.files} files...`);
    const trees: string[] = [];
    for (let i = 0; i < o.agents; i++) {
      const dir = join(o.work, 'trees', `agent${i}`);
      result.bytesPerAgent = await writeTree(dir, i, o.files);
      trees.push(dir);
    }
    server = await startCustosServer(cli, join(o.work, 'server'));
    env = server.env();
    o.log(`load: attaching and starting ${o.agents} agents...`);
    const t0 = performance.now();
    for (let i = 0; i < o.agents; i++) {
      const dir = join(o.work, 'agents', `agent${i}`);
      await attachCustosAgent(cli, server, `agent${i}`, dir);
    }
    // Started a few at a time: 50 Node.js processes loading at once on 2 cores take long to say "connected".
    for (let i = 0; i < o.agents; i += 5) {
      const batch = await Promise.all(Array.from({ length: Math.min(5, o.agents - i) }, (_, k) => startCustosAgent(cli, `agent${i + k}`, join(o.work, 'agents', `agent${i + k}`))));
      agents.push(...batch);
    }
    result.attachSeconds = (performance.now() - t0) / 1000;
    o.log(`load: ${o.agents} agents connected in ${formatSeconds(result.attachSeconds)}`);

    // Round 1: one group with every tree, replicas created now (all queued by the same scheduler tick).
    const sources = trees.map((t, i) => `agent${i}:fs:${t}`);
    const before = new Set((await api<JobView[]>(server, 'GET', '/api/jobs?limit=10000')).map((j) => j.id));
    let t = performance.now();
    await runChecked(cli(['group', 'create', 'load', '--source', ...sources, '--replica', 'now', '--sync', '24h', '--points', '20:00', '--json']));
    o.log('load: round 1, every initial replica at once...');
    let ids = new Set<number>();
    const deadline = performance.now() + 120_000;
    while (ids.size < o.agents && performance.now() < deadline) {
      ids = new Set((await api<JobView[]>(server, 'GET', '/api/jobs?limit=10000')).filter((j) => !before.has(j.id) && j.source !== null).map((j) => j.id));
      await new Promise((r) => setTimeout(r, 100));
    }
    let jobs = await waitJobs(server, ids, 30 * 60_000);
    result.rounds.push(summarize('initial replicas', jobs, (performance.now() - t) / 1000));

    // Round 2: every tree changes; every synchronization asked for at once.
    for (const [i, dir] of trees.entries()) await writeFile(join(dir, 'd0', `changed-${i}.txt`), `a change on agent ${i}\n`.repeat(100));
    o.log('load: round 2, every synchronization at once...');
    t = performance.now();
    const queued = await Promise.all(sources.map((s) => api<JobView>(server!, 'POST', `/api/data-sources/${encodeURIComponent(s)}/sync`, {})));
    jobs = await waitJobs(server, new Set(queued.map((j) => j.id)), 30 * 60_000);
    result.rounds.push(summarize('synchronizations', jobs, (performance.now() - t) / 1000));

    result.serverPeakRssKiB = peakRssKiB(server.daemon.child.pid!);
    const peaks = agents.map((a) => peakRssKiB(a.child.pid!));
    result.agentPeakRssKiB = { max: Math.max(...peaks), mean: peaks.reduce((a, b) => a + b, 0) / peaks.length };
    result.ok = result.rounds.every((r) => r.succeeded === o.agents && r.jobs === o.agents);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server?.daemon.stop();
  }
  return result;
}

export function renderLoad(r: LoadResult): string {
  const lines = [`== load: ${r.agents} agents (each its own process and TLS connection), ${r.filesPerAgent} files / ${formatBytes(r.bytesPerAgent)} each`];
  lines.push(`   attach + start: ${formatSeconds(r.attachSeconds)}`);
  for (const round of r.rounds) {
    lines.push(
      `   ${round.name}: ${round.succeeded}/${round.jobs} succeeded in ${formatSeconds(round.wallSeconds)}; ` +
        `latency queued→finished p50 ${formatSeconds(round.latency.p50)}, p95 ${formatSeconds(round.latency.p95)}, max ${formatSeconds(round.latency.max)}; ` +
        `running p50 ${formatSeconds(round.run.p50)}, max ${formatSeconds(round.run.max)}`,
    );
    for (const f of round.failed.slice(0, 10)) lines.push(`     ${f}`);
  }
  lines.push(`   server peak RSS ${formatBytes(r.serverPeakRssKiB * 1024)}; agent peak RSS max ${formatBytes(r.agentPeakRssKiB.max * 1024)}, mean ${formatBytes(r.agentPeakRssKiB.mean * 1024)}`);
  lines.push(`   ${r.ok ? 'all jobs succeeded' : `FAILED: ${r.error ?? 'not every job succeeded'}`}`);
  return lines.join('\n');
}
