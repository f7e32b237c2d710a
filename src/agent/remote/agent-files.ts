/**
 * The agent's data directory: what attach wrote and the agent needs to
 * connect. The key never leaves this directory (mode 0600).
 *
 *   DIR/agent.json   { server, name }
 *   DIR/key.pem      the agent's private key
 *   DIR/cert.pem     its client certificate, issued by the server's CA
 *   DIR/ca.pem       the server's CA (the only CA the agent trusts)
 *   DIR/journal/     change journals of the fs data sources
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustosError, isErrno } from '../../base/index.js';

export interface AgentIdentity {
  readonly server: string;
  readonly name: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
}

export function agentFiles(dir: string) {
  return { config: join(dir, 'agent.json'), key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem'), ca: join(dir, 'ca.pem'), journal: join(dir, 'journal') };
}

export async function loadIdentity(dir: string): Promise<AgentIdentity> {
  const f = agentFiles(dir);
  try {
    const config = JSON.parse(await readFile(f.config, 'utf8')) as { server: string; name: string };
    return { server: config.server, name: config.name, keyPem: await readFile(f.key, 'utf8'), certPem: await readFile(f.cert, 'utf8'), caPem: await readFile(f.ca, 'utf8') };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new CustosError('not-found', `${dir} holds no attached agent: run custos agent attach --server URL --token T --data ${dir}`);
    throw err;
  }
}
