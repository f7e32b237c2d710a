/**
 * `custos job list|show|cancel|wait`, and the waiting shared by every command
 * that starts a job (`sync`, `point create`, `check`, `recover`): ask
 * GET /api/jobs/:id?wait=1 over and over (the server answers as soon as the
 * job has finished, else after a second), show phase and progress on one line
 * on a terminal, and exit 0 / 13 (failed) / 15 (cancelled).
 */
import { api, describeProgress, JOB_KIND_NAMES, JOB_STATES, resultFields } from '../../protocol/rest/index.js';
import { Option, type Command } from 'commander';
import { CustosError, parseDuration, type ErrorCode } from '../../base/index.js';
import type { Job, ServerClient } from '../client.js';
import { print, printJson } from '../output.js';
import { clockTime, connect, duration, positiveInt, printFields, printTable, shortDuration, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

/** How long the server may hold each request (it answers at once when the job finishes). */
const WAIT_S = 1;
/** Requests are at least this far apart (a server that answers at once is not flooded). */
const POLL_MS = 500;
/** While waiting, how long the server may be unreachable (say, restarting) before we give up. */
const UNREACHABLE_GRACE_MS = 30_000;


export interface WaitOptions {
  /** Give up (status 11, the job goes on) after this long; no limit when absent. */
  readonly timeout?: string;
  /** Show a progress line on stderr when it is a terminal. */
  readonly progress: boolean;
}

/** A job id as typed on the command line (digits only). */
function jobId(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text.trim())) throw new CustosError('usage', `not a job id: ${JSON.stringify(text)} (see custos job list)`);
  return Number(text.trim());
}

function isFinished(job: Job): boolean {
  return job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled';
}

/** Polls a job until it has finished; returns its final state. */
export async function waitForJob(client: ServerClient, id: Job['id'], options: WaitOptions): Promise<Job> {
  const limitMs = options.timeout === undefined ? undefined : parseDuration(options.timeout);
  const deadline = limitMs === undefined ? Infinity : Date.now() + limitMs;
  const line = progressLine(options.progress);
  let unreachableSince: number | undefined;
  try {
    for (;;) {
      let job: Job | undefined;
      const asked = Date.now();
      try {
        job = await client.call(api.getJob, { params: { id: String(id) }, query: { wait: Math.max(0, Math.min(WAIT_S, Math.floor((deadline - Date.now()) / 1000))) } });
        unreachableSince = undefined;
      } catch (err) {
        if (!(err instanceof CustosError && err.code === 'unreachable' && err.transient)) throw err;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      }
      if (job !== undefined) {
        if (isFinished(job)) return job;
        line.show(describeRunning(job));
      }
      if (Date.now() >= deadline) {
        throw new CustosError('io', `gave up waiting after ${options.timeout}: job ${id} is still ${job?.state ?? 'running'} (custos job wait ${id} to keep waiting)`, {
          transient: true,
        });
      }
      await new Promise((r) => setTimeout(r, Math.min(Math.max(0, POLL_MS - (Date.now() - asked)), Math.max(0, deadline - Date.now()))));
    }
  } finally {
    line.end();
  }
}

/**
 * Prints a finished job and turns failure and cancellation into their exit
 * statuses: job-failed, unless the failure's code (result.errorCode) is one
 * of `ownCodes`, which then is the status (so `recover --wait` exits as
 * `restore` would for the same mistake).
 */
export function reportFinished(job: Job, json: boolean | undefined, ownCodes: readonly ErrorCode[] = []): void {
  if (json) printJson(job);
  if (job.state === 'failed') {
    const code = job.result?.['errorCode'];
    const own = ownCodes.find((c) => c === code);
    throw new CustosError(own ?? 'job-failed', `job ${job.id} (${describeJob(job)}) failed: ${job.error ?? 'the server gave no reason'}`);
  }
  if (job.state === 'cancelled') throw new CustosError('cancelled', `job ${job.id} (${describeJob(job)}) was cancelled`);
  if (json) return;
  const took = job.startedAt && job.finishedAt ? ` in ${shortDuration(Date.parse(job.finishedAt) - Date.parse(job.startedAt))}` : '';
  print(`job ${job.id} succeeded: ${describeJob(job)}${took}`);
  for (const [label, value] of resultFields(job.result)) print(`  ${label}: ${value}`);
  const note = pointNote(job);
  if (note) print(note);
}

/**
 * What the point a synchronization made is: `point list` shows recovery
 * points only, so a replica-only point's id needs saying where it can be seen.
 */
export function pointNote(job: Pick<Job, 'result' | 'source'>): string | null {
  const point = job.result?.['point'];
  if (typeof point !== 'string' || job.result?.['recoveryPoint'] !== false) return null;
  return `note: ${point} is a replica-only synchronization point, not a recovery point (the next point replaces it; custos point list ${job.source ?? 'SOURCE'} --all shows it)`;
}

/** After a POST that queued a job: print its id (or JSON), or wait for it with --wait (`ownCodes`: see reportFinished). */
export async function reportStarted(client: ServerClient, job: Job, opts: { wait?: boolean; timeout?: string; json?: boolean }, ownCodes: readonly ErrorCode[] = []): Promise<void> {
  if (!opts.wait) {
    if (opts.json) printJson(job);
    else print(String(job.id));
    return;
  }
  if (!opts.json && process.stderr.isTTY) process.stderr.write(`job ${job.id} queued: ${describeJob(job)}\n`);
  reportFinished(await waitForJob(client, job.id, { timeout: opts.timeout, progress: !opts.json }), opts.json, ownCodes);
}

/** Adds --wait, --timeout and --json to a command that starts a job. */
export function withWait(cmd: Command): Command {
  return cmd
    .option('--wait', 'wait for the job to finish (status 0 succeeded, 13 failed, 15 cancelled)')
    .option('--timeout <duration>', 'with --wait: stop waiting after this long (status 11; the job goes on)', duration)
    .option('--json', 'print the job as JSON');
}

function describeJob(job: Job): string {
  return job.source ? `${job.kind} of ${job.source}` : job.agent ? `${job.kind} on ${job.agent}` : job.kind;
}

function describeRunning(job: Job): string {
  const progress = job.progress ? describeProgress(job.progress, job.startedAt, Date.now()) : '';
  return `job ${job.id} ${describeJob(job)}: ${job.state}${progress ? `, ${progress}` : ''}`;
}

/** One line on stderr, redrawn; nothing when stderr is not a terminal. */
function progressLine(enabled: boolean): { show(text: string): void; end(): void } {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY) return { show: () => {}, end: () => {} };
  let drawn = false;
  return {
    show(text) {
      const width = stream.columns && stream.columns > 10 ? stream.columns - 1 : 200;
      stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

function jobRows(jobs: readonly Job[]): string[][] {
  return jobs.map((j) => [
    String(j.id),
    j.kind,
    j.state,
    j.source ?? j.agent ?? '-',
    shortTime(j.createdAt),
    j.startedAt && j.finishedAt ? shortDuration(Date.parse(j.finishedAt) - Date.parse(j.startedAt)) : j.state === 'running' ? (j.progress?.phase ?? '') : '',
  ]);
}

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('list, follow and cancel jobs on the protection server');

  withConnection(
    job
      .command('list')
      .description('jobs, newest first')
      .addOption(new Option('--state <state>', 'only jobs in this state').choices(JOB_STATES))
      .addOption(new Option('--kind <kind>', 'only jobs of this kind').choices(JOB_KIND_NAMES))
      .option('--source <id>', 'only jobs of this data source')
      .option('--limit <n>', 'at most this many (server default 100)', positiveInt)
      .option('--json', 'print the jobs as JSON'),
  ).action(async (opts: ConnectionOptions & { state?: string; kind?: string; source?: string; limit?: number; json?: boolean }) => {
    const query = { state: opts.state as Job['state'] | undefined, kind: opts.kind, source: opts.source, limit: opts.limit };
    const jobs = await connect(opts).call(api.listJobs, { query });
    if (opts.json) return printJson(jobs);
    if (jobs.length === 0) return print('no jobs');
    printTable(['ID', 'KIND', 'STATE', 'SOURCE', 'CREATED', 'DURATION'], jobRows(jobs));
  });

  withConnection(
    job.command('show').description('one job: its fields, progress and log').argument('<id>', 'job id').option('--json', 'print the job as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { json?: boolean }) => {
    const j = await connect(opts).call(api.getJob, { params: { id: String(jobId(id)) } });
    if (opts.json) return printJson(j);
    const fields: Array<[string, string]> = [
      ['id', String(j.id)],
      ['kind', j.kind],
      ['state', j.state],
      ['data source', j.source ?? '-'],
      ['agent', j.agent ?? '-'],
      ['created', shortTime(j.createdAt)],
      ['started', shortTime(j.startedAt)],
      ['finished', shortTime(j.finishedAt)],
      ['attempts', String(j.attempts)],
    ];
    const progress = isFinished(j) ? '' : describeProgress(j.progress, j.startedAt, Date.now());
    if (progress) fields.push(['progress', progress]);
    if (j.error) fields.push(['error', j.error]);
    fields.push(...resultFields(j.result));
    printFields(fields);
    const note = pointNote(j);
    if (note) print(note);
    if (j.log && j.log.length > 0) {
      print('log:');
      for (const l of j.log) print(`  ${clockTime(l.time)} ${l.level.padEnd(7)} ${l.message}`);
    }
  });

  withConnection(
    job.command('cancel').description('cancel a queued or running job').argument('<id>', 'job id').option('--json', 'print the job as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { json?: boolean }) => {
    const j = await connect(opts).call(api.cancelJob, { params: { id: String(jobId(id)) } });
    if (opts.json) return printJson(j);
    print(`job ${j.id} (${describeJob(j)}): ${j.state === 'cancelled' ? 'cancelled' : `cancel requested (${j.state})`}`);
  });

  withConnection(
    job
      .command('wait')
      .description('wait for a job to finish: status 0 succeeded, 13 failed, 15 cancelled')
      .argument('<id>', 'job id')
      .option('--timeout <duration>', 'stop waiting after this long (status 11; the job goes on)', duration)
      .option('--json', 'print the finished job as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { timeout?: string; json?: boolean }) => {
    const client = connect(opts);
    reportFinished(await waitForJob(client, jobId(id), { timeout: opts.timeout, progress: !opts.json }), opts.json);
  });
}
