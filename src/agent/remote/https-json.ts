/** A small HTTPS JSON client for enrollment (before the agent has a certificate). */
import { request } from 'node:https';
import { isIP } from 'node:net';
import { CustosError } from '../../base/index.js';

export interface HttpsOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  /** Trust only this CA (PEM); without it the peer is not verified (used once, to fetch the CA to check its fingerprint). */
  readonly ca?: string;
}

export function httpsRequest(url: URL, options: HttpsOptions = {}): Promise<{ status: number; text: string }> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
        ...(isIP(url.hostname.replace(/^\[|\]$/g, '')) ? { servername: '' } : {}),
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: 30_000,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new CustosError('unreachable', `${url.origin} did not answer within 30 s`)));
    req.on('error', (err: Error & { code?: string }) =>
      reject(err instanceof CustosError ? err : new CustosError('unreachable', `cannot reach ${url.origin}: ${err.message}`, { cause: err, transient: true })));
    req.end(payload);
  });
}

export async function httpsJson<T>(url: URL, options: HttpsOptions = {}): Promise<T> {
  const { status, text } = await httpsRequest(url, options);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CustosError('internal', `${url.pathname}: the server answered ${status} with something that is not JSON`);
  }
  if (status >= 400) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    throw new CustosError((e?.code as never) ?? 'internal', e?.message ?? `the server answered ${status}`);
  }
  return body as T;
}
