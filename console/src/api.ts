/**
 * The console's REST client: every call goes through an entry of the one
 * contract (src/protocol/rest), so a call the server does not have, or a
 * body of the wrong shape, fails the type check. Signed in with a session
 * cookie (HttpOnly: the page never sees it); calls that change something
 * carry the session's CSRF token.
 */
import { pathFor, queryFor, type CallArgs, type ReplyOf, type RouteSpec } from '../../src/protocol/rest/contract.js';
import { formatBytes } from './format.js';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let csrf = '';
let onSignedOut: () => void = () => undefined;

/** The CSRF token of the current session (from sign-in or GET /api/session). */
export function setCsrf(token: string): void {
  csrf = token;
}

/** What happens when the server says the session is gone (401): back to the sign-in page. */
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

interface AnyArgs {
  readonly params?: Record<string, string | number>;
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
}

/** The headers of a call: JSON, and the session's CSRF token on anything but GET. */
function headersFor(spec: RouteSpec, body: unknown): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (spec.method !== 'GET' && csrf) headers['x-custos-csrf'] = csrf;
  return headers;
}

/** The error a failed answer carries, as the server worded it. */
async function failure(spec: RouteSpec, res: Response): Promise<ApiError> {
  const text = await res.text();
  let code = 'internal';
  let message = `${res.status} ${res.statusText}`;
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) code = e.code;
    if (e?.message) message = e.message;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401 && spec.access !== 'public') onSignedOut();
  return new ApiError(res.status, code, message);
}

async function send(spec: RouteSpec, a: AnyArgs): Promise<Response> {
  try {
    return await fetch(pathFor(spec, a.params) + queryFor(a.query), {
      method: spec.method,
      headers: headersFor(spec, a.body),
      credentials: 'same-origin',
      ...(a.body !== undefined ? { body: JSON.stringify(a.body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the protection server cannot be reached');
  }
}

/** A call whose answer is a byte stream (an archive): the response, to be read by the caller. */
export async function stream<R extends RouteSpec>(spec: R, ...[args]: CallArgs<R>): Promise<Response> {
  const res = await send(spec, (args ?? {}) as AnyArgs);
  if (!res.ok) throw await failure(spec, res);
  return res;
}

export async function call<R extends RouteSpec>(spec: R, ...[args]: CallArgs<R>): Promise<ReplyOf<R>> {
  const res = await send(spec, (args ?? {}) as AnyArgs);
  if (!res.ok) throw await failure(spec, res);
  const text = await res.text();
  return (spec.text ? text : text === '' ? undefined : JSON.parse(text)) as ReplyOf<R>;
}

/** Hands a downloaded body to the browser to save, under the name the server's Content-Disposition gives; returns what to tell the user. */
export function saveBlob(blob: Blob, res: Response, fallbackName: string): string {
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return `Saved ${name} (${formatBytes(blob.size)}).`;
}
