/**
 * The protection server's small private PKI: a CA, the server's TLS
 * certificate and agents' client certificates. ECDSA P-256 with SHA-256
 * everywhere; certificates, requests and keys travel as PEM strings
 * (private keys as PKCS#8).
 *
 * Built on @peculiar/x509 (WebCrypto) for generation and node:crypto for
 * parsing, so what we issue is exactly what Node's `tls` will check.
 */
import { X509Certificate as NodeX509Certificate, createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { CustosError, UserError } from '../base/index.js';

// @peculiar/x509 registers its algorithms through tsyringe, which refuses to
// load unless a Reflect metadata polyfill (reflect-metadata) is present. Nothing
// here uses decorator metadata, so a tiny stand-in suffices; it is installed
// only when no real polyfill is, and the library is imported after it.
installReflectMetadataShim();
const x509: typeof X509 = await import('@peculiar/x509');

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start a little in the past so peers with a slow clock accept them. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface KeyedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

/** A self-signed CA that may sign end-entity certificates only (path length 0). */
export async function createCertificateAuthority(commonName: string, options?: { days?: number }): Promise<KeyedCertificate> {
  const name = subjectName(commonName);
  const validity = validityPeriod(options?.days ?? 3650);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name,
      ...validity,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** The server's TLS certificate: SAN with DNS names and IP addresses (v4 and v6), EKU serverAuth. */
export async function issueServerCertificate(
  ca: KeyedCertificate,
  options: { commonName: string; dnsNames: string[]; ipAddresses: string[]; days?: number },
): Promise<KeyedCertificate> {
  const name = subjectName(options.commonName);
  const validity = validityPeriod(options.days ?? 825);
  const names: X509.JsonGeneralName[] = [];
  for (const dns of options.dnsNames) {
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(dns)) {
      throw new UserError('usage', `not a valid DNS name for a certificate: ${JSON.stringify(dns)}`);
    }
    names.push({ type: 'dns', value: dns.toLowerCase() });
  }
  for (const ip of options.ipAddresses) names.push({ type: 'ip', value: canonicalIp(ip) });
  if (names.length === 0) throw new UserError('usage', 'a server certificate needs at least one DNS name or IP address');

  const issuer = await loadIssuer(ca);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: name,
      issuer: issuer.cert.subjectName,
      ...validity,
      publicKey: keys.publicKey,
      signingKey: issuer.key,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** A fresh key pair and a PKCS#10 request for it; the key never leaves the agent. */
export async function createCertificateRequest(commonName: string): Promise<{ keyPem: string; csrPem: string }> {
  const name = subjectName(commonName);
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: SIGNING_ALGORITHM }, crypto);
  return { keyPem: await exportPrivateKey(keys.privateKey), csrPem: csr.toString('pem') };
}

/**
 * Issues an agent's client certificate (EKU clientAuth) for the key in
 * `csrPem`. The subject is `options.commonName` (the agent name the server
 * chose), never what the request asks for.
 */
export async function signClientCertificate(
  ca: KeyedCertificate,
  csrPem: string,
  options: { commonName: string; days?: number },
): Promise<{ certPem: string; serial: string }> {
  const name = subjectName(options.commonName);
  const validity = validityPeriod(options.days ?? 825);
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new UserError('usage', 'not a PEM certificate request', { cause: err });
  }
  const algorithm = csr.publicKey.algorithm as Partial<webcrypto.EcKeyAlgorithm>;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new UserError('usage', 'certificate request key must be ECDSA P-256');
  }
  let valid = false;
  try {
    valid = await csr.verify(crypto);
  } catch {
    valid = false;
  }
  if (!valid) throw new UserError('usage', 'certificate request signature is invalid');

  const issuer = await loadIssuer(ca);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: name,
      issuer: issuer.cert.subjectName,
      ...validity,
      publicKey: csr.publicKey,
      signingKey: issuer.key,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = cert.toString('pem');
  return { certPem, serial: certificateSerial(certPem) };
}

/** 'sha256:' + lowercase hex SHA-256 of the certificate's DER. */
export function certificateFingerprint(pem: string): string {
  return 'sha256:' + createHash('sha256').update(parseCertificate(pem).raw).digest('hex');
}

/** The serial number as lowercase hex without leading zeros ('0' for zero). */
export function certificateSerial(pem: string): string {
  return normalizeSerial(parseCertificate(pem).serialNumber);
}

// ---------------------------------------------------------------------------

function parseCertificate(pem: string): NodeX509Certificate {
  try {
    return new NodeX509Certificate(pem);
  } catch (err) {
    throw new UserError('usage', 'not a PEM certificate', { cause: err });
  }
}

function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/**
 * 16 random bytes as a positive DER INTEGER. The top bit is cleared (so no
 * 0x00 sign byte is needed) and the next one set (so no byte is dropped as
 * a leading zero): the encoding is always exactly 16 bytes, 126 bits random.
 */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function subjectName(commonName: string): X509.Name {
  if (commonName.length === 0 || commonName.length > 64) {
    throw new UserError('usage', `a certificate common name must be 1 to 64 characters: ${JSON.stringify(commonName)}`);
  }
  // The library reads even JSON string values as RFC 2253 text (quotes,
  // backslashes and a leading '#' are interpreted: 'a "b"' becomes 'b'), so
  // give it a typed value, which it stores verbatim.
  return new x509.Name([{ CN: [{ utf8String: commonName }] }]);
}

function validityPeriod(days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1) throw new UserError('usage', `certificate validity must be a whole number of days, at least 1: ${days}`);
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Parses the CA, checks its key belongs to its certificate and may sign. */
async function loadIssuer(ca: KeyedCertificate): Promise<{ cert: X509.X509Certificate; key: CryptoKey }> {
  let cert: X509.X509Certificate;
  let keyObject: ReturnType<typeof createPrivateKey>;
  try {
    cert = new x509.X509Certificate(ca.certPem);
    keyObject = createPrivateKey(ca.keyPem);
  } catch (err) {
    throw new UserError('usage', 'the CA certificate or key is not valid PEM', { cause: err });
  }
  if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new UserError('usage', 'the CA key must be ECDSA P-256');
  }
  const keySpki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new UserError('usage', 'the CA key does not belong to the CA certificate');
  }
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) throw new UserError('usage', 'the CA certificate is not a certificate authority');
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  try {
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, EC_ALGORITHM, false, ['sign']);
    return { cert, key };
  } catch (err) {
    throw new CustosError('internal', 'could not load the CA key into WebCrypto', { cause: err });
  }
}

/**
 * An IP address in a form @peculiar/x509 parses correctly. Its own IPv6
 * parser uses parseInt, so it silently misreads embedded IPv4
 * ('::ffff:127.0.0.1') and junk groups; we validate with node and hand it
 * the full eight-group form instead.
 */
function canonicalIp(text: string): string {
  const version = isIP(text);
  if (version === 4) return text.split('.').map((p) => String(Number(p))).join('.');
  if (version !== 6 || text.includes('%')) throw new UserError('usage', `not a valid IP address for a certificate: ${JSON.stringify(text)}`);
  let groups = text.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(groups);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    groups = groups.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = groups.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  const all = [...left, ...Array<string>(missing).fill('0'), ...right];
  if (all.length !== 8) throw new UserError('usage', `not a valid IP address for a certificate: ${JSON.stringify(text)}`);
  return all.map((g) => parseInt(g, 16).toString(16)).join(':');
}

function installReflectMetadataShim(): void {
  type Metadata = (key: unknown, target: object, property?: string | symbol) => unknown;
  const reflect = Reflect as unknown as Record<string, Metadata | undefined>;
  if (typeof reflect['getMetadata'] === 'function') return;
  const store = new WeakMap<object, Map<string | symbol | undefined, Map<unknown, unknown>>>();
  const own = (target: object, property: string | symbol | undefined, create: boolean): Map<unknown, unknown> | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      store.set(target, (byProperty = new Map()));
    }
    let values = byProperty.get(property);
    if (!values && create) byProperty.set(property, (values = new Map()));
    return values;
  };
  const getOwn = (key: unknown, target: object, property?: string | symbol): unknown => own(target, property, false)?.get(key);
  const get = (key: unknown, target: object, property?: string | symbol): unknown => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const values = own(t, property, false);
      if (values?.has(key)) return values.get(key);
    }
    return undefined;
  };
  const shim: Record<string, (...args: never[]) => unknown> = {
    getOwnMetadata: getOwn,
    getMetadata: get,
    hasOwnMetadata: (key: unknown, target: object, property?: string | symbol) => own(target, property, false)?.has(key) ?? false,
    hasMetadata: (key: unknown, target: object, property?: string | symbol) => get(key, target, property) !== undefined,
    defineMetadata: (key: unknown, value: unknown, target: object, property?: string | symbol) => {
      own(target, property, true)!.set(key, value);
    },
  };
  for (const [name, fn] of Object.entries(shim)) {
    Object.defineProperty(Reflect, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}
