/**
 * Recovery guards on the agent, end to end (a real protection server and a
 * real agent process; the recoveries are asked for with `custos recover`):
 *
 * - a target whose root, or an ancestor of it, is a symbolic link a user
 *   could have made is refused: nothing is written where the link points;
 * - a target that resolves to a system directory is refused without
 *   allowSystemTarget, though its path as written looks harmless;
 * - `--item` naming something the point does not hold is refused before
 *   the job is queued (not found, naming the missing items), and nothing is
 *   written, though other items are in the point (recovery-choices.test.ts
 *   has the rest of the item rules).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir, writeTree } from '../helpers/tree.js';
import { attachAgent, stopAllProcesses, type ApiJob, type ApiPoint, type TestAgent } from '../helpers/server.js';
import { protectAndWaitFirstPoint, startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';

const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);
const isRoot = process.getuid?.() === 0;

describe('recovery guards', { timeout: 240_000 }, () => {
  let s: InProcessServer;
  let agent: TestAgent;
  let work: string;
  let source: string;
  let point: ApiPoint;

  before(async () => {
    work = (await makeTempDir('custos-e2e-guards-')).path;
    s = await startInProcessServer(join(work, 'server'));
    agent = await attachAgent(s.server, 'g1');
    await agent.start();
    const src = join(work, 'src');
    await writeTree(src, { 'a.txt': 'alpha\n', 'sub/b.txt': 'bravo\n' }, { mtimeMs: T1 });
    source = `g1:fs:${src}`;
    point = await protectAndWaitFirstPoint(s, 'guards', source);
  });

  after(async () => {
    await stopAllProcesses();
    await s?.close();
    await cleanupTempDirs();
  });

  /** `custos recover … --wait --json`: the exit status and the job as printed (or fetched when the CLI printed an error). */
  async function recover(to: string, items: string[] = []): Promise<{ code: number | null; job: ApiJob; stderr: string }> {
    const args = ['recover', source, '--point', point.id, '--to', `g1:${to}`, ...items.flatMap((i) => ['--item', i]), '--wait', '--json', '--timeout', '2m'];
    const r = await s.server.cli(args, { timeoutMs: 150_000 });
    const jobs = await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json', '--limit', '1']);
    return { code: r.code, job: jobs[0]!, stderr: r.stderr };
  }

  test('a target whose root or an ancestor is a link a user could have made is refused; nothing lands where it points', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    const home = join(work, 'home-of-a-user');
    mkdirSync(home);
    const link = join(home, 'restore-here');
    symlinkSync(outside, link);
    if (isRoot) lchownSync(link, 65534, 65534); // the user's link, not root's
    for (const to of [link, join(link, 'deeper')]) {
      const r = await recover(to);
      assert.notEqual(r.code, 0, `recover to ${to} must fail`);
      assert.equal(r.job.state, 'failed', JSON.stringify(r.job));
      assert.match(r.job.error ?? '', /symbolic link/, JSON.stringify(r.job));
    }
    assert.deepEqual(readdirSync(outside), [], 'nothing was written through the link');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is left as it was');
  });

  test('a target that resolves to a system directory is refused without allowSystemTarget', { skip: !isRoot && 'needs a link only root can make' }, async () => {
    // Only root made this link (in a directory only root may write to): it is followed, and leads to /etc.
    const link = join(work, 'etc-link');
    symlinkSync('/etc', link);
    const name = `custos-guard-test-${process.pid}`;
    try {
      const r = await recover(join(link, name));
      assert.notEqual(r.code, 0);
      assert.equal(r.job.state, 'failed', JSON.stringify(r.job));
      assert.match(r.job.error ?? '', /system files/, JSON.stringify(r.job));
      assert.equal(existsSync(join('/etc', name)), false, 'nothing was made in /etc');
    } finally {
      rmSync(join('/etc', name), { recursive: true, force: true }); // only if the guard failed
    }
  });

  test('items that are not in the point are refused before anything is queued or written, and are named', async () => {
    const jobsBefore = (await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json'])).length;
    const none = await recover(join(work, 'r-none'), ['no/such']);
    assert.equal(none.code, 4, none.stderr);
    assert.match(none.stderr, /not in recovery point [0-9a-f]+ \([^)]+\): no\/such; nothing was recovered/);

    const some = await recover(join(work, 'r-some'), ['a.txt', 'no/such', './sub/']);
    assert.equal(some.code, 4, some.stderr);
    assert.match(some.stderr, /not in recovery point [0-9a-f]+ \([^)]+\): no\/such; nothing was recovered/);
    assert.equal(existsSync(join(work, 'r-some')), false, 'nothing written, not even the items that are in the point');
    assert.equal((await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json'])).length, jobsBefore, 'no job queued');

    const ok = await recover(join(work, 'r-ok'), ['sub/b.txt']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.job.state, 'succeeded');
  });
});
