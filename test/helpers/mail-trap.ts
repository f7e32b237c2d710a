/**
 * Test helpers for notifications: a real SMTP server (smtp-server on
 * loopback: plain, STARTTLS or implicit TLS, with or without AUTH) that
 * keeps what it receives, and a webhook receiver (node:http).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { KeyedCertificate } from '../../src/protocol/index.js';

export interface Received {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  readonly secure: boolean;
  readonly user: string | null;
  /** The Subject header, unfolded. */
  readonly subject: string;
  readonly body: string;
}

export class MailTrap {
  readonly mails: Received[] = [];
  readonly logins: Array<{ user: string; ok: boolean }> = [];
  #server: SMTPServer | null = null;
  port = 0;

  constructor(private readonly options: { tls?: 'implicit' | 'starttls' | 'none'; cert?: KeyedCertificate; auth?: { user: string; pass: string } } = {}) {}

  async start(port = 0): Promise<this> {
    const o = this.options;
    const tls = o.tls ?? 'none';
    const config: SMTPServerOptions = {
      logger: false,
      secure: tls === 'implicit',
      ...(o.cert ? { key: o.cert.keyPem, cert: o.cert.certPem } : {}),
      disabledCommands: [...(tls === 'none' ? ['STARTTLS'] : []), ...(o.auth ? [] : ['AUTH'])],
      authOptional: !o.auth,
      onAuth: (auth, _session, cb) => {
        const ok = auth.username === o.auth?.user && auth.password === o.auth?.pass;
        this.logins.push({ user: auth.username ?? '', ok });
        if (!ok) return cb(new Error('535 authentication failed'));
        cb(null, { user: auth.username });
      },
      onData: (stream, session, cb) => {
        const parts: Buffer[] = [];
        stream.on('data', (d: Buffer) => parts.push(d));
        stream.on('end', () => {
          const raw = Buffer.concat(parts).toString('utf8');
          const [head = '', ...rest] = raw.split('\r\n\r\n');
          const subjectLine = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(head)?.[1] ?? '';
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : null,
            subject: decodeHeader(subjectLine.replace(/\r\n[ \t]/g, ' ')),
            body: decodeBody(head, rest.join('\r\n\r\n')),
          });
          cb();
        });
      },
    };
    const server = new SMTPServer(config);
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  to(address: string): Received[] {
    return this.mails.filter((m) => m.to.includes(address));
  }
}

/** Decodes RFC 2047 encoded words (nodemailer writes non-ASCII subjects so). */
function decodeHeader(text: string): string {
  return text.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
  ).trim();
}

function decodeBody(head: string, body: string): string {
  if (/Content-Transfer-Encoding: quoted-printable/i.test(head)) {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (/Content-Transfer-Encoding: base64/i.test(head)) return Buffer.from(body.replace(/\s/g, ''), 'base64').toString('utf8');
  return body;
}

export interface Hook {
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export async function startReceiver(): Promise<{ server: Server; url: string; hooks: Hook[] }> {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      hooks.push({ body: Buffer.concat(parts).toString('utf8'), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hooks };
}
