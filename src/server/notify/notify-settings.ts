/**
 * The notification settings kept in the catalog: the mail server (SMTP,
 * its password included: it is needed to log in, so it cannot be a hash)
 * and the daily digest, as JSON in `settings`; recipients and webhooks in
 * their own tables. Everything read back is parsed with a schema, never
 * trusted. Who may read the secrets: this module and the senders only; the
 * REST views say whether a password is set, never what it is.
 */
import { isIP } from 'node:net';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CustosError } from '../../base/index.js';
import type { Catalog } from '../../catalog/index.js';
import { SMTP_TLS_MODES, type DigestSettings, type SmtpSettingsInput, type SmtpTlsMode } from '../../protocol/rest/index.js';

const SMTP_KEY = 'notify.smtp';
const DIGEST_KEY = 'notify.digest';
/** The local date (YYYY-MM-DD) of the last digest queued: one a day, also across restarts. */
const DIGEST_DAY_KEY = 'notify.digest-day';

const StoredSmtpSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  tls: Type.Union(SMTP_TLS_MODES.map((m) => Type.Literal(m))),
  user: Type.Union([Type.String(), Type.Null()]),
  password: Type.Union([Type.String(), Type.Null()]),
  from: Type.String({ minLength: 3 }),
});
/** The mail server as stored, password included: for the sender, never for an answer or a log line. */
export type StoredSmtp = Static<typeof StoredSmtpSchema>;

const StoredDigestSchema = Type.Object({ enabled: Type.Boolean(), at: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }) });

export const DEFAULT_DIGEST: DigestSettings = { enabled: false, at: '07:00' };
const DEFAULT_PORT: Record<SmtpTlsMode, number> = { implicit: 465, starttls: 587, none: 25 };

export async function readSmtp(catalog: Catalog): Promise<StoredSmtp | null> {
  return parseStored(await catalog.setting(SMTP_KEY), StoredSmtpSchema, 'the SMTP settings');
}

/**
 * Stores the mail server. A password left out is kept when the user is the
 * same (changing the host or port does not make you type it again); no
 * user, no password.
 */
export async function writeSmtp(catalog: Catalog, input: SmtpSettingsInput): Promise<StoredSmtp> {
  const tls = input.tls ?? 'starttls';
  if (tls === 'none' && !isLoopbackHost(input.host)) {
    throw new CustosError('usage', `--tls none sends mail and passwords in plain text: it is allowed only to a mail server on this computer (127.0.0.1, ::1, localhost), not ${input.host}; use implicit or starttls`);
  }
  if (input.password !== undefined && input.user === undefined) throw new CustosError('usage', 'a password needs a user (--user)');
  const old = await readSmtp(catalog);
  const user = input.user ?? null;
  const password = user === null ? null : input.password ?? (old?.user === user ? old.password : null);
  const stored: StoredSmtp = { host: input.host, port: input.port ?? DEFAULT_PORT[tls], tls, user, password, from: input.from };
  await catalog.setSetting(SMTP_KEY, JSON.stringify(stored));
  return stored;
}

export async function readDigest(catalog: Catalog): Promise<DigestSettings> {
  return (await parseStored(await catalog.setting(DIGEST_KEY), StoredDigestSchema, 'the digest settings')) ?? DEFAULT_DIGEST;
}

export async function writeDigest(catalog: Catalog, d: DigestSettings): Promise<void> {
  await catalog.setSetting(DIGEST_KEY, JSON.stringify({ enabled: d.enabled, at: d.at }));
}

export async function lastDigestDay(catalog: Catalog): Promise<string | null> {
  return catalog.setting(DIGEST_DAY_KEY);
}

export async function setLastDigestDay(catalog: Catalog, day: string): Promise<void> {
  await catalog.setSetting(DIGEST_DAY_KEY, day);
}

function parseStored<T extends Parameters<typeof Value.Check>[0]>(text: string | null, schema: T, what: string): Static<T> | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CustosError('format', `the catalog holds ${what} in a form this server cannot read`);
  }
  if (!Value.Check(schema, value)) throw new CustosError('format', `the catalog holds ${what} in a form this server cannot read`);
  return value as Static<T>;
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x) and localhost: the only hosts plain-text mail and http webhooks may go to. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * A webhook URL: https to anywhere, plain http to this computer only (a
 * secret-signed alert must not cross a network in clear), no user or
 * password in the URL (it would be stored and shown).
 */
export function checkWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CustosError('usage', `${text} is not a URL`);
  }
  if (url.username || url.password) throw new CustosError('usage', 'a webhook URL may not hold a user or password: the request is signed with the secret instead');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  if (url.protocol === 'http:') throw new CustosError('usage', `webhooks over plain http go only to this computer (127.0.0.1, ::1, localhost), not ${url.hostname}: use https`);
  throw new CustosError('usage', `a webhook URL is https://… (or http:// to this computer), not ${url.protocol}`);
}
