/**
 * `custos server notify …` and `custos recover --notify`, as a person types
 * them: the real CLI against a server in this process, a real SMTP server
 * and webhook receiver on loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';
import { MailTrap, startReceiver } from '../helpers/mail-trap.js';
import { cleanupTempDirs, describeCli, makeTempDir } from '../helpers/tree.js';

describe('custos server notify', () => {
  let s: InProcessServer;
  let trap: MailTrap;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;

  before(async () => {
    dir = (await makeTempDir('custos-notify-cli-')).path;
    s = await startInProcessServer(join(dir, 'server'));
    trap = await new MailTrap({ auth: undefined }).start();
    receiver = await startReceiver();
  });

  after(async () => {
    await s?.close();
    await trap?.stop();
    receiver?.server.close();
    await cleanupTempDirs();
  });

  const ok = async (args: string[]) => {
    const r = await s.server.cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    return r.stdout;
  };

  test('smtp, add, webhook add, digest, list, test, remove', async () => {
    writeFileSync(join(dir, 'pw'), 'hunter2-not-printed\n');
    writeFileSync(join(dir, 'secret'), 'whsec-cli-0123456789\n');
    // --tls none to a host that is not this computer is refused by the server.
    const far = await s.server.cli(['server', 'notify', 'smtp', '--host', 'mail.example.com', '--tls', 'none', '--from', 'custos@example.com']);
    assert.notEqual(far.code, 0);
    assert.match(far.stderr, /only to a mail server on this computer/);
    const smtp = await ok(['server', 'notify', 'smtp', '--host', '127.0.0.1', '--port', String(trap.port), '--tls', 'none', '--user', 'custos', '--password-file', join(dir, 'pw'), '--from', 'custos@example.com']);
    assert.match(smtp, new RegExp(`mail server set: 127\\.0\\.0\\.1:${trap.port} \\(none, user custos with a password\\), from custos@example\\.com`));
    // The trap takes no AUTH: set it again without a login.
    await ok(['server', 'notify', 'smtp', '--host', '127.0.0.1', '--port', String(trap.port), '--tls', 'none', '--from', 'custos@example.com']);
    assert.match(await ok(['server', 'notify', 'add', 'ops@example.com', '--severity', 'critical', '--resolved']), /ops@example\.com is mailed about critical alerts and up, and when they are resolved/);
    await ok(['server', 'notify', 'add', 'team@example.com']);
    const badGroup = await s.server.cli(['server', 'notify', 'add', 'x@example.com', '--group', 'nope']);
    assert.notEqual(badGroup.code, 0);
    assert.match(badGroup.stderr, /no protection group nope/);
    const badAddress = await s.server.cli(['server', 'notify', 'add', 'x@example.com\r\nBcc: eve@evil.example']);
    assert.notEqual(badAddress.code, 0);
    assert.match(await ok(['server', 'notify', 'webhook', 'add', receiver.url, '--secret-file', join(dir, 'secret'), '--severity', 'info']), /webhook \d+ added: http:\/\/127\.0\.0\.1:\d+\/hook gets info alerts/);
    const plainFar = await s.server.cli(['server', 'notify', 'webhook', 'add', 'http://example.com/hook', '--secret-file', join(dir, 'secret')]);
    assert.notEqual(plainFar.code, 0);
    assert.match(plainFar.stderr, /plain http go only to this computer/);
    assert.match(await ok(['server', 'notify', 'digest', '--at', '06:30']), /daily digest on, at 06:30/);
    const both = await s.server.cli(['server', 'notify', 'digest', '--at', '06:30', '--off']);
    assert.notEqual(both.code, 0);

    const list = await ok(['server', 'notify', 'list']);
    assert.match(list, /mail server: 127\.0\.0\.1:\d+ \(none\), from custos@example\.com/);
    assert.match(list, /daily digest: at 06:30/);
    assert.match(list, /ops@example\.com +critical +all +yes/);
    assert.match(list, /team@example\.com +warning +all +no/);
    assert.match(list, /http:\/\/127\.0\.0\.1:\d+\/hook +info/);
    assert.doesNotMatch(list, /hunter2|whsec/);
    const json = JSON.parse(await ok(['server', 'notify', 'list', '--json'])) as { smtp: { passwordSet: boolean }; recipients: unknown[]; webhooks: unknown[]; digest: { enabled: boolean } };
    assert.equal(json.recipients.length, 2);
    assert.equal(json.webhooks.length, 1);
    assert.equal(json.digest.enabled, true);

    const t = await ok(['server', 'notify', 'test']);
    assert.match(t, /mail ops@example\.com: sent/);
    assert.match(t, /mail team@example\.com: sent/);
    assert.match(t, /webhook http:\/\/127\.0\.0\.1:\d+\/hook: sent/);
    assert.equal(trap.mails.filter((m) => m.subject === '[Custos] Test notification').length, 2);
    assert.ok(receiver.hooks.some((h) => JSON.parse(h.body).event === 'test'));
    await ok(['server', 'notify', 'test', '--to', 'one@example.com']);
    assert.equal(trap.to('one@example.com').length, 1);

    // A failed test says why and exits non-zero.
    const port = trap.port;
    await trap.stop();
    const down = await s.server.cli(['server', 'notify', 'test', '--to', 'one@example.com']);
    assert.notEqual(down.code, 0);
    assert.match(down.stdout, /mail one@example\.com: failed: .*(ECONNREFUSED|connect)/i);
    await trap.start(port);

    assert.match(await ok(['server', 'notify', 'remove', 'team@example.com']), /team@example\.com removed/);
    assert.match(await ok(['server', 'notify', 'webhook', 'remove', receiver.url]), /removed/);
    assert.match(await ok(['server', 'notify', 'digest', '--off']), /daily digest off/);
    const after = await ok(['server', 'notify', 'list']);
    assert.doesNotMatch(after, /team@example\.com|\/hook/);
    assert.match(after, /no webhooks/);
    const gone = await s.server.cli(['server', 'notify', 'remove', 'team@example.com']);
    assert.notEqual(gone.code, 0);
  });

  test('recover --notify: the addresses reach the request, checked; a download refuses it', async () => {
    const bad = await s.server.cli(['recover', 'nobody:fs:/x', '--point', 'latest', '--to', 'download:' + join(dir, 'x.tar'), '--notify', 'a@example.com']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--notify, --paused and --data-dir do not apply to a download/);
    const tooMany = await s.server.cli(['recover', 'nobody:fs:/x', '--point', 'abcd', '--to', 'laptop:/tmp/r', ...Array.from({ length: 6 }, (_, i) => ['--notify', `u${i}@example.com`]).flat()]);
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /notify must NOT have more than 5 items/);
    const crlf = await s.server.cli(['recover', 'nobody:fs:/x', '--point', 'abcd', '--to', 'laptop:/tmp/r', '--notify', 'a@example.com\nBcc: eve@evil.example']);
    assert.notEqual(crlf.code, 0);
    assert.match(crlf.stderr, /notify\/0 must be one plain e-mail address/);
    // Valid addresses get past the schema to the data source check.
    const valid = await s.server.cli(['recover', 'nobody:fs:/x', '--point', 'abcd', '--to', 'laptop:/tmp/r', '--notify', 'a@example.com', '--notify', 'b@example.com']);
    assert.notEqual(valid.code, 0);
    assert.match(valid.stderr, /nobody:fs:\/x/);
  });
});
