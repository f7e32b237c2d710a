/**
 * Roles, scopes, expiry and the audit log against a real server and two
 * real agents, through the CLI as an administrator would use it: a
 * recovery-operator scoped to one group sees and recovers only that group's
 * data source, only to that group's agent, never onto a system directory;
 * an operator runs jobs but makes no tokens; a revoked or expired token is
 * refused; every recovery is in the audit log with the name of the token
 * that asked for it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, makeTempDir, memoryTmpBase, treeDigest, writeTree } from '../helpers/tree.js';
import { attachAgent, listPoints, startServer, stopAllProcesses, waitFor, type ApiJob, type ApiSource, type TestServer } from '../helpers/server.js';

describe('server mode: roles, scopes and the audit log', { timeout: 300_000 }, () => {
  let server: TestServer;
  let work: string;
  let srcA: string;
  let srcB: string;
  let sourceA: string;
  let sourceB: string;
  const tokens: Record<string, string> = {};

  const makeToken = async (args: string[]) => {
    const r = await server.cli(['token', 'create', ...args]);
    assert.equal(r.code, 0, describeCli(['token', 'create', ...args], r));
    return r.stdout.trim();
  };

  before(async () => {
    work = (await makeTempDir('custos-e2e-roles-', { base: memoryTmpBase() })).path;
    srcA = join(work, 'a');
    srcB = join(work, 'b');
    await writeTree(srcA, { 'thesis.tex': 'chapter one\n', 'notes/n.txt': 'n\n' });
    await writeTree(srcB, { 'payroll.csv': 'secret\n' });
    server = await startServer();
    const alpha = await attachAgent(server, 'alpha');
    const bravo = await attachAgent(server, 'bravo');
    await Promise.all([alpha.start(), bravo.start()]);
    sourceA = `alpha:fs:${srcA}`;
    sourceB = `bravo:fs:${srcB}`;
    for (const [name, source] of [['homes', sourceA], ['finance', sourceB]] as const) {
      const r = await server.cli(['group', 'create', name, '--source', source]);
      assert.equal(r.code, 0, describeCli(['group', 'create', name], r));
    }
    await waitFor('both replicas', async () => (await listPoints(server, sourceA)).length > 0 && (await listPoints(server, sourceB)).length > 0, 120_000);
    tokens['helpdesk'] = await makeToken(['--name', 'helpdesk', '--role', 'recovery-operator', '--scope', 'group:homes']);
    tokens['ops'] = await makeToken(['--name', 'ops', '--role', 'operator']);
    tokens['short'] = await makeToken(['--name', 'short', '--role', 'viewer', '--expires', '2s']);
  });

  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('a recovery-operator sees only its scope and recovers only within it', async () => {
    const helpdesk = { token: tokens['helpdesk']! };
    const seen = await server.cliJson<ApiSource[]>(['source', 'list', '--json'], helpdesk);
    assert.deepEqual(seen.map((s) => s.id), [sourceA]);
    const other = await server.cli(['point', 'list', sourceB], helpdesk);
    assert.equal(other.code, 4, describeCli(['point', 'list', sourceB], other));

    const target = join(work, 'recovered');
    const args = ['recover', sourceA, '--point', 'latest', '--to', `alpha:${target}`, '--wait', '--json'];
    const ok = await server.cli(args, helpdesk);
    assert.equal(ok.code, 0, describeCli(args, ok));
    assert.deepEqual(diffDigests(await treeDigest(srcA), await treeDigest(target)), []);

    const toBravo = await server.cli(['recover', sourceA, '--point', 'latest', '--to', `bravo:${join(work, 'leak')}`], helpdesk);
    assert.equal(toBravo.code, 12, describeCli(['recover … --to bravo:…'], toBravo));
    const foreign = await server.cli(['recover', sourceB, '--point', 'latest', '--to', `alpha:${join(work, 'leak')}`], helpdesk);
    assert.equal(foreign.code, 4, describeCli(['recover', sourceB], foreign));
    const system = await server.cli(['recover', sourceA, '--point', 'latest', '--to', 'alpha:/etc', '--allow-system-target'], helpdesk);
    assert.equal(system.code, 12, describeCli(['recover … --allow-system-target'], system));
    const noToken = await server.cli(['token', 'list'], helpdesk);
    assert.equal(noToken.code, 12);
    const jobs = await server.cliJson<ApiJob[]>(['job', 'list', '--json'], helpdesk);
    assert.ok(jobs.length > 0 && jobs.every((j) => j.source === sourceA), JSON.stringify(jobs.map((j) => j.source)));
  });

  test('a system target needs --allow-system-target, and only an admin may give it', async () => {
    const refused = await server.cli(['recover', sourceA, '--point', 'latest', '--to', 'alpha:/usr'], { token: tokens['ops'] });
    assert.equal(refused.code, 12, describeCli(['recover … --to alpha:/usr'], refused));
    assert.match(refused.stderr, /system files/);
    const opAllow = await server.cli(['recover', sourceA, '--point', 'latest', '--to', 'alpha:/usr', '--allow-system-target'], { token: tokens['ops'] });
    assert.equal(opAllow.code, 12, describeCli(['recover … --allow-system-target (operator)'], opAllow));
    assert.match(opAllow.stderr, /only an admin/);
  });

  test('an operator runs jobs but makes no tokens and changes no groups', async () => {
    const ops = { token: tokens['ops']! };
    const sync = await server.cli(['sync', sourceB, '--wait'], ops);
    assert.equal(sync.code, 0, describeCli(['sync', sourceB], sync));
    const mk = await server.cli(['token', 'create', '--name', 'mine', '--role', 'admin'], ops);
    assert.equal(mk.code, 12, describeCli(['token', 'create (operator)'], mk));
    const del = await server.cli(['group', 'delete', 'finance', '--keep-points'], ops);
    assert.equal(del.code, 12, describeCli(['group', 'delete (operator)'], del));
  });

  test('expired and revoked tokens are refused; the last admin token cannot be revoked', async () => {
    await waitFor('the short token to expire', async () => (await server.cli(['job', 'list'], { token: tokens['short'] })).code === 12, 30_000, 500);
    const revoke = await server.cli(['token', 'revoke', 'ops']);
    assert.equal(revoke.code, 0, describeCli(['token', 'revoke', 'ops'], revoke));
    const after = await server.cli(['job', 'list'], { token: tokens['ops'] });
    assert.equal(after.code, 12, describeCli(['job', 'list (revoked)'], after));
    const last = await server.cli(['token', 'revoke', 'admin']);
    assert.equal(last.code, 9, describeCli(['token', 'revoke', 'admin'], last));
    const list = await server.cliJson<Array<{ name: string; revokedAt: string | null }>>(['token', 'list', '--all', '--json']);
    assert.deepEqual(list.map((t) => [t.name, t.revokedAt !== null]), [['admin', false], ['helpdesk', false], ['ops', true], ['short', false]]);
    assert.ok(!JSON.stringify(list).includes(tokens['helpdesk']!), 'token list never shows a secret');
  });

  test('the audit log names who recovered what, and every refusal', async () => {
    const entries = await server.cliJson<Array<{ actor: string; action: string; target: string | null; outcome: string; detail: string }>>(['audit', 'list', '--json', '--limit', '1000']);
    const recoveries = entries.filter((e) => e.action === 'recovery');
    assert.ok(recoveries.some((e) => e.actor === 'helpdesk' && e.outcome === 'ok' && e.target === sourceA), JSON.stringify(recoveries));
    assert.ok(recoveries.some((e) => e.actor === 'helpdesk' && e.outcome === 'denied' && /bravo/.test(e.detail)));
    assert.ok(entries.some((e) => e.action === 'token.create' && e.actor === 'admin' && e.target === 'helpdesk'));
    assert.ok(entries.some((e) => e.action === 'token.revoke' && e.target === 'ops' && e.outcome === 'ok'));
    assert.ok(entries.some((e) => e.action === 'group.create' && e.target === 'homes'));
    assert.ok(entries.some((e) => e.action === 'agent.enroll' && e.target === 'alpha' && e.outcome === 'ok'));
    assert.ok(entries.some((e) => e.outcome === 'denied' && e.actor === 'ops' && e.action === 'token.create'));
    for (const t of Object.values(tokens)) assert.ok(!JSON.stringify(entries).includes(t), 'no token in the audit log');
    const viewerTry = await server.cli(['audit', 'list'], { token: tokens['helpdesk'] });
    assert.equal(viewerTry.code, 12);
  });
});
