/**
 * `custos agent attach`: enrollment. The token carries the fingerprint of the
 * server's CA, so the agent checks it is talking to the right server before
 * it trusts anything it says (as kubeadm join does); then it makes a key pair
 * here and sends only a certificate request.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CustosError } from '../../base/index.js';
import { certificateFingerprint, createCertificateRequest, decodeEnrollmentToken } from '../../protocol/index.js';
import { agentFiles } from './agent-files.js';
import { httpsJson, httpsRequest } from './https-json.js';
import { makePrivateDir } from './private-files.js';

export interface AttachOptions {
  readonly server: string;
  readonly token: string;
  readonly dataDir: string;
  readonly name?: string | undefined;
  /** Told when the data directory cannot be made private (0700). */
  readonly warn?: ((message: string) => void) | undefined;
}

export async function attachAgent(options: AttachOptions): Promise<{ name: string; server: string }> {
  const token = decodeEnrollmentToken(options.token);
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new CustosError('usage', `--server ${options.server} is not a URL (like https://backup.example:8440)`);
  }
  if (url.protocol !== 'https:') throw new CustosError('usage', '--server must be an https:// URL');
  const files = agentFiles(options.dataDir);
  if (existsSync(files.config)) throw new CustosError('exists', `${options.dataDir} already holds an attached agent; use another --data or remove it`);
  const name = options.name ?? hostname().split('.')[0]!;

  const ca = await httpsRequest(new URL('/api/agent/ca', url));
  if (ca.status !== 200) throw new CustosError('unreachable', `${url.origin} is not a Custos server (GET /api/agent/ca answered ${ca.status})`);
  let fingerprint: string;
  try {
    fingerprint = certificateFingerprint(ca.text);
  } catch {
    throw new CustosError('unreachable', `${url.origin} did not send a CA certificate`);
  }
  if (fingerprint !== token.caFingerprint) {
    throw new CustosError('denied', `the server at ${url.origin} is not the one that issued this token (CA fingerprint ${fingerprint}, token expects ${token.caFingerprint})`);
  }
  const { keyPem, csrPem } = await createCertificateRequest(name);
  // From here on the server is verified against the CA the token vouched for.
  const enrolled = await httpsJson<{ name: string; certificate: string; ca: string }>(new URL('/api/agent/enroll', url), {
    method: 'POST',
    ca: ca.text,
    body: { secret: token.secret, name, csr: csrPem, hostname: hostname() },
  });
  await makePrivateDir(options.dataDir, options.warn ?? (() => undefined)); // an existing directory too
  await writeFile(files.key, keyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(files.cert, enrolled.certificate, { mode: 0o644 });
  await writeFile(files.ca, ca.text, { mode: 0o644 });
  await writeFile(files.config, JSON.stringify({ server: url.origin, name: enrolled.name }, null, 2) + '\n', { mode: 0o644 });
  return { name: enrolled.name, server: url.origin };
}
