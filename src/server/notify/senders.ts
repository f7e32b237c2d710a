/**
 * The two ways a notification leaves the server: a mail through the SMTP
 * server of the settings (nodemailer), and a signed JSON POST to a webhook
 * (fetch). Each send is bounded in time and reports failure by throwing an
 * error whose message says what the other side answered — never the
 * password or the secret, which only go into the SMTP login and the HMAC.
 */
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import { CustosError, errorMessage } from '../../base/index.js';
import type { Mail } from './messages.js';
import type { StoredSmtp } from './notify-settings.js';

/** How long one SMTP conversation or one webhook POST may take before it counts as failed (and is retried later). */
export const SEND_TIMEOUT_MS = 15_000;

export interface MailSender {
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** A sender for one pass of the outbox (one connection per message; closed at the end). */
export function smtpSender(smtp: StoredSmtp, options: { ca?: string; timeoutMs?: number } = {}): MailSender {
  const timeout = options.timeoutMs ?? SEND_TIMEOUT_MS;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'implicit',
    requireTLS: smtp.tls === 'starttls',
    ignoreTLS: smtp.tls === 'none',
    ...(smtp.user !== null ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
    disableFileAccess: true,
    disableUrlAccess: true,
    tls: { minVersion: 'TLSv1.2', ...(options.ca ? { ca: [options.ca] } : {}) },
  });
  return {
    async send(mail) {
      try {
        await transport.sendMail({
          from: smtp.from, to: mail.to, subject: mail.subject, text: mail.text, disableFileAccess: true, disableUrlAccess: true,
          ...(mail.attachment ? { attachments: [{ filename: mail.attachment.fileName, contentType: mail.attachment.contentType, content: mail.attachment.content }] } : {}),
        });
      } catch (err) {
        throw new CustosError('unreachable', `mail to ${mail.to} through ${smtp.host}:${smtp.port}: ${scrub(errorMessage(err), smtp.password)}`, { transient: true });
      }
    },
    close: () => transport.close(),
  };
}

/** The headers a webhook request carries: the time it was signed and the signature over that time and the body. */
export const SIGNATURE_HEADER = 'x-custos-signature';
export const TIMESTAMP_HEADER = 'x-custos-timestamp';

/**
 * The signature of a webhook body: `sha256=` and the hex HMAC-SHA256, keyed
 * with the webhook's secret, of `TIMESTAMP.BODY` (the timestamp header's
 * value, a dot, the raw body bytes). A receiver recomputes it, compares in
 * constant time and refuses a timestamp more than 5 minutes off its clock,
 * so a recorded request cannot be replayed later.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function postWebhook(url: string, secret: string, body: string, now: Date, timeoutMs = SEND_TIMEOUT_MS): Promise<void> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  let status: number;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'custos-notify', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body) },
      body,
      // A redirect would send the signed alert somewhere nobody configured.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    throw new CustosError('unreachable', `webhook ${url}: ${scrub(errorMessage(err), secret)}`, { transient: true });
  }
  if (status < 200 || status > 299) throw new CustosError('unreachable', `webhook ${url} answered HTTP ${status}`, { transient: true });
}

/** An error message with a secret taken out, should a library ever echo it. */
function scrub(message: string, secret: string | null): string {
  return secret ? message.split(secret).join('***') : message;
}
