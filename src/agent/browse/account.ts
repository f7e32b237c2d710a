/**
 * Who a local account is on this computer, for the server's `account`
 * question: a console user linked to AGENT:ACCOUNT sees in My files what
 * that account could read (docs/design/security.md, "My files").
 *
 * The group database is asked through `id` (so NSS sources such as LDAP
 * count, as they do for the account's logins), with the C locale and the
 * name after `--`; the name was checked against ACCOUNT_NAME_PATTERN by the
 * question's validator already, so it can never be taken as an option.
 */
import { execFile } from 'node:child_process';
import { CustosError, errorMessage } from '../../base/index.js';
import { ACCOUNT_NAME_PATTERN, MAX_ACCOUNT_GROUPS, type AccountAnswer } from '../../protocol/index.js';

const ID_TIMEOUT_MS = 5_000;

function id(args: string[]): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    execFile('id', args, { timeout: ID_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      if (err) resolve({ ok: false, err: (stderr || errorMessage(err)).trim() });
      else resolve({ ok: true, out: stdout.trim() });
    });
  });
}

function ids(text: string, what: string): number[] {
  if (!/^\d+( \d+)*$/.test(text)) throw new CustosError('io', `id printed ${JSON.stringify(text.slice(0, 80))} for ${what}`);
  return text.split(' ').map(Number);
}

/** The uid, primary gid and every group of account `name`; `not-found` when this computer has no such account. */
export async function lookupAccount(name: string): Promise<AccountAnswer> {
  if (!ACCOUNT_NAME_PATTERN.test(name)) throw new CustosError('usage', `${JSON.stringify(name.slice(0, 40))} is not an account name`);
  const [u, g, all] = await Promise.all([id(['-u', '--', name]), id(['-g', '--', name]), id(['-G', '--', name])]);
  if (!u.ok || !g.ok || !all.ok) {
    const err = [u, g, all].find((r) => !r.ok) as { err: string };
    if (/no such user/i.test(err.err)) throw new CustosError('not-found', `no account ${name} on this computer`);
    throw new CustosError('io', `could not look up account ${name}: ${err.err.slice(0, 200)}`);
  }
  const uid = ids(u.out, 'the uid')[0]!;
  const gid = ids(g.out, 'the group')[0]!;
  const groups = [...new Set([gid, ...ids(all.out, 'the groups')])].sort((a, b) => a - b);
  if (groups.length > MAX_ACCOUNT_GROUPS) throw new CustosError('io', `account ${name} is in ${groups.length} groups, more than the ${MAX_ACCOUNT_GROUPS} an answer carries`);
  return { kind: 'account', name, uid, gid, groups };
}
