/**
 * The server's data directory. First start creates everything a server needs
 * and nothing is ever overwritten afterwards. The directory and tls/ are 0700
 * and every secret or catalog file 0600, at every start (an existing
 * directory and files made by older versions included; a warning when that
 * cannot be done):
 *
 *   DIR/catalog.sqlite      the catalog (and its -wal, -shm files; 0600)
 *   DIR/pool/ + pool.key    the first storage pool directory and its key (0600)
 *   DIR/ca.pem              the certificate authority agents and the CLI trust
 *   DIR/admin.token         an admin API token (0600)
 *   DIR/tls/                CA key, server key and certificate (0600 keys)
 *   DIR/ca-issued.jsonl     append-only record of agent certificates issued and revoked
 *                           (issued-certificates.ts; outside the catalog so a restore can use it)
 *
 * A missing or damaged catalog on a directory that holds any of the others is
 * a lost catalog, not a first start (catalog-guard.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServerCertificate, type KeyedCertificate } from '../protocol/index.js';
import { makePrivateDir, makePrivateFiles, type Warn } from '../agent/remote/private-files.js';

export interface ServerFiles {
  readonly dir: string;
  readonly catalog: string;
  /** The file index (derived from the pool; never backed up: docs/design/file-index.md). */
  readonly fileIndex: string;
  readonly pool: string;
  readonly poolKey: string;
  readonly caPem: string;
  readonly adminToken: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

export function serverFiles(dir: string): ServerFiles {
  return {
    dir,
    catalog: join(dir, 'catalog.sqlite'),
    fileIndex: join(dir, 'file-index.sqlite'),
    pool: join(dir, 'pool'),
    poolKey: join(dir, 'pool.key'),
    caPem: join(dir, 'ca.pem'),
    adminToken: join(dir, 'admin.token'),
    caKey: join(dir, 'tls', 'ca-key.pem'),
    serverCert: join(dir, 'tls', 'server.pem'),
    serverKey: join(dir, 'tls', 'server-key.pem'),
  };
}

/** The catalog's files: SQLite creates -wal and -shm with the database file's mode. */
export function catalogFiles(files: ServerFiles): string[] {
  return [files.catalog, `${files.catalog}-wal`, `${files.catalog}-shm`];
}

/** The file index: names, owners and modes of every protected file, as private as the catalog. */
export function fileIndexFiles(files: ServerFiles): string[] {
  return [files.fileIndex, `${files.fileIndex}-wal`, `${files.fileIndex}-shm`];
}

/**
 * Makes the data directory (created when missing) and tls/ 0700, and every
 * secret and catalog file in it 0600; warns for each it cannot change.
 */
export async function secureDataDir(files: ServerFiles, warn: Warn): Promise<void> {
  await makePrivateDir(files.dir, warn);
  if (existsSync(join(files.dir, 'tls'))) await makePrivateDir(join(files.dir, 'tls'), warn);
  await makePrivateFiles([...catalogFiles(files), files.poolKey, files.adminToken, files.caKey, files.serverKey], warn);
}

/** Writes a file atomically (temp + rename) with the given mode. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode, flag: 'wx' });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newApiToken(): string {
  return `ctk_${randomBytes(24).toString('base64url')}`;
}

/** The CA, created on first start. */
export async function loadOrCreateCa(files: ServerFiles): Promise<KeyedCertificate> {
  await mkdir(join(files.dir, 'tls'), { recursive: true, mode: 0o700 });
  if (existsSync(files.caPem) && existsSync(files.caKey)) {
    return { certPem: await readFile(files.caPem, 'utf8'), keyPem: await readFile(files.caKey, 'utf8') };
  }
  const ca = await createCertificateAuthority(`Custos CA ${hostname()}`);
  await writeFileAtomic(files.caKey, ca.keyPem, 0o600);
  await writeFileAtomic(files.caPem, ca.certPem, 0o644);
  return ca;
}

/**
 * The server certificate, (re)issued when missing or when it does not name
 * the host being listened on (so `--listen 10.0.0.5:8440` works after a first
 * start on loopback).
 */
export async function loadOrIssueServerCertificate(files: ServerFiles, ca: KeyedCertificate, listenHost: string): Promise<KeyedCertificate> {
  const isIp = /^[\d.]+$/.test(listenHost) || listenHost.includes(':');
  if (existsSync(files.serverCert) && existsSync(files.serverKey)) {
    const certPem = await readFile(files.serverCert, 'utf8');
    const x = new X509Certificate(certPem);
    const unspecified = listenHost === '0.0.0.0' || listenHost === '::';
    const names = unspecified || (isIp ? x.checkIP(listenHost) : x.checkHost(listenHost));
    if (names && x.checkIssued(new X509Certificate(ca.certPem)) && new Date(x.validTo).getTime() > Date.now() + 86_400_000) {
      return { certPem, keyPem: await readFile(files.serverKey, 'utf8') };
    }
  }
  const dnsNames = [...new Set(['localhost', hostname(), ...(isIp ? [] : [listenHost])])];
  const ipAddresses = [...new Set(['127.0.0.1', '::1', ...(isIp && listenHost !== '0.0.0.0' && listenHost !== '::' ? [listenHost] : [])])];
  const cert = await issueServerCertificate(ca, { commonName: hostname(), dnsNames, ipAddresses });
  await writeFileAtomic(files.serverKey, cert.keyPem, 0o600);
  await writeFileAtomic(files.serverCert, cert.certPem, 0o644);
  return cert;
}
