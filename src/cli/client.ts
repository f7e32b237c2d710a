/**
 * The protection server's REST client (docs/design/rest-api.md) used by the
 * server-mode commands: HTTPS verified against the Custos CA, a bearer token
 * on every call, JSON both ways. Every failure becomes a CustosError whose
 * code the CLI maps to an exit status: the server's own code, 'denied' for
 * 401/403, 'unreachable' when the server cannot be reached or its
 * certificate cannot be verified, 'usage' when a setting is missing. No
 * message ever contains the token.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request } from 'node:https';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CustosError, errorMessage, type ErrorCode } from '../base/index.js';
import { pathFor, queryFor, SUMMARY_TRAILER, type CallArgs, type ReplyOf, type RouteSpec } from '../protocol/rest/index.js';

export type { CallArgs };
import type { Static } from '@sinclair/typebox';
import { isErrorCode } from './exit-codes.js';

export interface ServerClientOptions {
  /** Server URL, e.g. https://127.0.0.1:8440; default $CUSTOS_SERVER. */
  readonly server?: string;
  /** The token itself; default $CUSTOS_TOKEN. */
  readonly token?: string;
  /** A file holding the token (used when `token` is not given), e.g. DATA/admin.token. */
  readonly tokenFile?: string;
  /** Path of the server's CA certificate (DATA/ca.pem); default $CUSTOS_CA. */
  readonly ca?: string;
  /** Where the fallbacks come from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Give up on a call that has not answered in this many ms (default 60 s). */
  readonly timeoutMs?: number;
}

const EXAMPLE = 'export CUSTOS_SERVER=https://127.0.0.1:8440 CUSTOS_TOKEN=$(cat custos-data/server/admin.token) CUSTOS_CA=custos-data/server/ca.pem';
const CA_HINT = "set CUSTOS_CA (or --ca) to the server's ca.pem (DATA/ca.pem on the protection server)";

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';


export class ServerClient {
  /** The server URL without a trailing slash (safe to print). */
  readonly url: string;
  readonly #token: string;
  readonly #agent: HttpsAgent;
  readonly #timeoutMs: number;

  constructor(options: ServerClientOptions = {}) {
    const env = options.env ?? process.env;
    const server = nonEmpty(options.server) ?? nonEmpty(env['CUSTOS_SERVER']);
    let token = nonEmpty(options.token);
    if (token === undefined && options.tokenFile !== undefined) token = nonEmpty(readSetting(options.tokenFile, 'token file (--token-file)'));
    token ??= nonEmpty(env['CUSTOS_TOKEN']);
    const caPath = nonEmpty(options.ca) ?? nonEmpty(env['CUSTOS_CA']);

    const missing: string[] = [];
    if (server === undefined) missing.push('CUSTOS_SERVER (or --server)');
    if (token === undefined) missing.push('CUSTOS_TOKEN (or --token-file)');
    if (caPath === undefined) missing.push('CUSTOS_CA (or --ca)');
    if (missing.length > 0) {
      throw new CustosError('usage', `no protection server configured: set ${missing.join(', ')}, e.g. ${EXAMPLE}`);
    }

    let url: URL;
    try {
      url = new URL(server!);
    } catch {
      throw new CustosError('usage', `not a URL: ${server} (CUSTOS_SERVER or --server, e.g. https://127.0.0.1:8440)`);
    }
    if (url.protocol !== 'https:') {
      throw new CustosError('usage', `the server URL must start with https:// (got ${url.protocol}//…): the protection server speaks only HTTPS`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new CustosError('usage', `the server URL must be just scheme, host, port (and path): ${url.origin}${url.pathname}`);
    }
    this.url = `${url.origin}${url.pathname}`.replace(/\/+$/, '');

    // Header values may not hold control characters; a token pasted with a
    // space or newline inside is refused here with a message that does not echo it.
    if (!/^[\x21-\x7e]+$/.test(token!)) {
      throw new CustosError('usage', 'the token contains spaces or control characters: check CUSTOS_TOKEN or the --token-file');
    }
    this.#token = token!;

    const ca = readSetting(caPath!, 'CA certificate (CUSTOS_CA or --ca)');
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CustosError('usage', `${caPath} is not a PEM certificate: ${CA_HINT}`);
    }
    this.#agent = new HttpsAgent({ ca, keepAlive: true });
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Makes one call of the REST contract: its path parameters, query and body
   * are typed by the contract, and so is the answer.
   */
  call<R extends RouteSpec>(spec: R, ...args: CallArgs<R>): Promise<ReplyOf<R>> {
    const a = (args[0] ?? {}) as { params?: Record<string, string | number>; query?: Record<string, string | number | boolean | undefined>; body?: unknown };
    return this.#call<ReplyOf<R>>(spec.method, pathFor(spec, a.params) + queryFor(a.query), a.body);
  }

  /**
   * Makes a streaming call of the contract (one whose answer is bytes, such
   * as a download): the bytes go into `sink` (with backpressure: the server
   * sends as fast as the sink takes them), `onBytes` is told the count as
   * they arrive, and the answer is the summary the server sends after the
   * last byte. A stream that ends without its summary was cut short: an
   * error, whatever the sink got.
   */
  async stream<R extends RouteSpec & { readonly stream: readonly string[] }>(
    spec: R,
    sink: Writable,
    onBytes: (n: number) => void,
    ...args: CallArgs<R>
  ): Promise<Static<R['response']>> {
    const a = (args[0] ?? {}) as { params?: Record<string, string | number>; query?: Record<string, string | number | boolean | undefined>; body?: unknown };
    const path = pathFor(spec, a.params) + queryFor(a.query);
    const what = `${spec.method} ${path}`;
    const res = await this.#open(spec.method, path, a.body, spec.stream.join(', '));
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return answer(status, Buffer.concat(chunks).toString('utf8'), what);
    }
    let received = 0;
    res.on('data', (c: Buffer) => onBytes((received += c.length)));
    try {
      await pipeline(res, sink);
    } catch (err) {
      if (err instanceof CustosError) throw err;
      const local = (err as NodeJS.ErrnoException).syscall !== undefined && !res.destroyed;
      throw local
        ? new CustosError('io', `cannot write the download: ${errorMessage(err)}`, { cause: err })
        : new CustosError('io', `the download broke off after ${received} bytes (${errorMessage(err)}); try again`, { cause: err, transient: true });
    }
    const trailer = res.trailers[SUMMARY_TRAILER];
    if (trailer === undefined) throw new CustosError('io', `the download broke off after ${received} bytes (the server sent no summary); try again`, { transient: true });
    try {
      return JSON.parse(trailer) as Static<R['response']>;
    } catch {
      throw new CustosError('internal', `the summary the server sent after ${what} is not JSON`);
    }
  }

  /** Sends a request and resolves with the response as it starts (status and headers read, body not yet). */
  #open(method: Method, path: string, body: unknown, accept: string): Promise<IncomingMessage> {
    const target = new URL(this.url + (path.startsWith('/') ? path : `/${path}`));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: `${accept}, application/json`, authorization: `Bearer ${this.#token}`, te: 'trailers' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = request(target, { method, agent: this.#agent, headers, timeout: this.#timeoutMs }, resolve);
      req.on('timeout', () => {
        req.destroy(Object.assign(new Error(`no answer within ${Math.round(this.#timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (err) => reject(this.#networkError(err)));
      req.end(payload);
    });
  }

  /** Closes idle connections (the process would exit anyway: idle sockets do not keep it alive). */
  close(): void {
    this.#agent.destroy();
  }

  #call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const target = new URL(this.url + (path.startsWith('/') ? path : `/${path}`));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.#token}`,
    };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const what = `${method} ${target.pathname}`;
    return new Promise<T>((resolve, reject) => {
      const req = request(target, { method, agent: this.#agent, headers, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(this.#networkError(err)));
        res.on('end', () => {
          try {
            resolve(answer<T>(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), what));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('timeout', () => {
        req.destroy(Object.assign(new Error(`no answer within ${Math.round(this.#timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (err) => reject(this.#networkError(err)));
      req.end(payload);
    });
  }

  #networkError(err: Error): CustosError {
    if (err instanceof CustosError) return err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new CustosError('unreachable', `the certificate of the server at ${this.url} is not for that name (${err.message}): set CUSTOS_SERVER to an address the certificate names (e.g. https://127.0.0.1:8440)`, { cause: err });
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code) || /certificate/i.test(err.message)) {
      return new CustosError('unreachable', `cannot verify the certificate of the server at ${this.url} (${err.message}): ${CA_HINT}`, { cause: err });
    }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(err.message)) {
      return new CustosError('unreachable', `the server at ${this.url} does not speak HTTPS (${err.message}): check CUSTOS_SERVER`, { cause: err });
    }
    const reason = code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    return new CustosError('unreachable', `cannot reach the protection server at ${this.url} (${reason}): is it running, and is CUSTOS_SERVER right?`, {
      cause: err,
      transient: true,
    });
  }
}

/** Turns an HTTP answer into a value or the CustosError it stands for. */
function answer<T>(status: number, text: string, what: string): T {
  let json: unknown;
  let isJson = false;
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
      isJson = true;
    } catch {
      // handled below
    }
  }
  if (status >= 200 && status < 300) {
    if (text.trim() === '') return undefined as T;
    if (!isJson) throw new CustosError('internal', `the server's answer to ${what} is not JSON (status ${status})`);
    return json as T;
  }
  const e = isJson ? (json as { error?: { code?: unknown; message?: unknown } }).error : undefined;
  const serverMessage = typeof e?.message === 'string' && e.message.trim() !== '' ? e.message.trim() : undefined;
  if (status === 401) {
    throw new CustosError('denied', 'the server refused the token (401): set CUSTOS_TOKEN to a valid token');
  }
  if (status === 403) {
    throw new CustosError('denied', `not allowed for this token's role (403): ${serverMessage ?? what}`);
  }
  const code: ErrorCode = isErrorCode(e?.code) ? e.code : codeForStatus(status);
  const transient = code === 'locked' || status === 503;
  if (serverMessage !== undefined) {
    throw new CustosError(code, status >= 500 ? `the server failed (${status}): ${serverMessage}` : serverMessage, { transient });
  }
  throw new CustosError(code, `the server answered ${status} to ${what}${status === 404 ? ' (is it an older version?)' : ''}`, { transient });
}

function codeForStatus(status: number): ErrorCode {
  if (status === 400) return 'usage';
  if (status === 404) return 'not-found';
  if (status === 409) return 'exists';
  if (status === 502 || status === 503 || status === 504) return 'unreachable';
  return 'internal';
}

function nonEmpty(s: string | undefined): string | undefined {
  const t = s?.trim();
  return t === undefined || t === '' ? undefined : t;
}

function readSetting(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CustosError(code === 'ENOENT' ? 'not-found' : 'io', `cannot read the ${what} ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** A path segment for an id (data source ids hold ':' and '/'). */
export function enc(id: string | number): string {
  return encodeURIComponent(String(id));
}

// ---------------------------------------------------------------------------
// The API objects come from the one REST contract (src/protocol/rest).

export type {
  Agent,
  Alert,
  AuditEntry,
  DataSource,
  GroupAnswer,
  GroupCreate,
  GroupUpdate,
  Job,
  JobLogLine,
  JobState,
  PoolStatus,
  ProtectionGroup,
  RecoveryPoint,
  Token,
  TokenCreated,
} from '../protocol/rest/index.js';
