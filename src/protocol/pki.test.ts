import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { UserError } from '../base/index.js';
import {
  certificateFingerprint,
  certificateSerial,
  createCertificateAuthority,
  createCertificateRequest,
  issueServerCertificate,
  signClientCertificate,
  type KeyedCertificate,
} from './pki.js';

const ca = await createCertificateAuthority('Custos test CA');
const server = await issueServerCertificate(ca, {
  commonName: 'protection.example',
  dnsNames: ['protection.example', 'localhost'],
  ipAddresses: ['127.0.0.1', '::1', '::ffff:10.1.2.3', '2001:db8::42'],
});

interface Result {
  status: number;
  body: string;
}

/** Starts an mTLS server with `serverCert`, trusting `ca`, and runs `fn` against its port. */
async function withServer<T>(serverCert: KeyedCertificate, trustCa: string, fn: (port: number, seen: string[]) => Promise<T>): Promise<T> {
  const seen: string[] = [];
  const srv = https.createServer(
    { key: serverCert.keyPem, cert: serverCert.certPem, ca: trustCa, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push(String(peer.subject.CN));
      res.end(`hello ${peer.subject.CN}`);
    },
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    return await fn((srv.address() as AddressInfo).port, seen);
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

function get(port: number, options: { ca: string; key?: string; cert?: string; servername?: string; host?: string }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: options.host ?? '127.0.0.1', port, path: '/', method: 'GET', ca: options.ca, key: options.key, cert: options.cert, servername: options.servername, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('mutual TLS: the server sees the agent name from the client certificate', async () => {
  const agentName = 'web-01.prod';
  const { keyPem, csrPem } = await createCertificateRequest('whatever-the-agent-asked-for');
  const client = await signClientCertificate(ca, csrPem, { commonName: agentName });
  await withServer(server, ca.certPem, async (port, seen) => {
    const res = await get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem });
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello ${agentName}`);
    assert.deepEqual(seen, [agentName]);
  });
});

test('mutual TLS: the server identity validates through the IP SAN (and DNS SAN)', async () => {
  const { keyPem, csrPem } = await createCertificateRequest('a');
  const client = await signClientCertificate(ca, csrPem, { commonName: 'a' });
  await withServer(server, ca.certPem, async (port) => {
    // host 127.0.0.1, no servername: node's default checkServerIdentity matches the IP SAN.
    assert.equal((await get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem })).status, 200);
    assert.equal((await get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem, servername: '127.0.0.1' })).status, 200);
    assert.equal((await get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem, servername: 'localhost' })).status, 200);
    // A name the certificate does not carry is refused by the client.
    await assert.rejects(get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem, servername: 'elsewhere.example' }), /ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert's altnames/);
  });
});

test('mutual TLS: the server certificate carries IPv6 SANs that node reads back', () => {
  const san = new X509Certificate(server.certPem).subjectAltName ?? '';
  assert.match(san, /DNS:protection\.example/);
  assert.match(san, /IP Address:127\.0\.0\.1/);
  assert.match(san, /IP Address:0:0:0:0:0:0:0:1\b|IP Address:::1\b/);
  assert.match(san, /IP Address:0:0:0:0:0:FFFF:A01:203|IP Address:::ffff:10\.1\.2\.3|IP Address:::FFFF:A01:203/i);
  assert.match(san, /IP Address:2001:DB8:0:0:0:0:0:42|IP Address:2001:db8::42/i);
  const cert = new X509Certificate(server.certPem);
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'EKU serverAuth only');
  assert.equal(cert.checkIssued(new X509Certificate(ca.certPem)), true);
  assert.equal(cert.checkIP('::1'), '::1');
  assert.equal(cert.checkIP('2001:db8::42'), '2001:db8::42');
  assert.equal(cert.checkIP('::2'), undefined);
});

test('mutual TLS: a client certificate from another CA is refused', async () => {
  const otherCa = await createCertificateAuthority('Impostor CA');
  const { keyPem, csrPem } = await createCertificateRequest('intruder');
  const client = await signClientCertificate(otherCa, csrPem, { commonName: 'intruder' });
  await withServer(server, ca.certPem, async (port, seen) => {
    await assert.rejects(get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem }));
    await assert.rejects(get(port, { ca: ca.certPem }), 'no client certificate at all is refused too');
    assert.deepEqual(seen, []);
  });
});

test('mutual TLS: the client refuses a server whose certificate is from another CA', async () => {
  const otherCa = await createCertificateAuthority('Impostor CA');
  const impostor = await issueServerCertificate(otherCa, { commonName: 'x', dnsNames: [], ipAddresses: ['127.0.0.1'] });
  const { keyPem, csrPem } = await createCertificateRequest('a');
  const client = await signClientCertificate(ca, csrPem, { commonName: 'a' });
  await withServer(impostor, ca.certPem, async (port) => {
    await assert.rejects(get(port, { ca: ca.certPem, key: keyPem, cert: client.certPem }), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
  });
});

test('client certificates use clientAuth, the agent name, and the reported serial', async () => {
  const { csrPem } = await createCertificateRequest('requested-name');
  const issued = await signClientCertificate(ca, csrPem, { commonName: 'agent-7', days: 30 });
  const cert = new X509Certificate(issued.certPem);
  assert.equal(cert.subject, 'CN=agent-7');
  assert.equal(cert.issuer, 'CN=Custos test CA');
  assert.equal(cert.ca, false);
  assert.equal(issued.serial, certificateSerial(issued.certPem));
  assert.match(issued.serial, /^[1-9a-f][0-9a-f]*$/);
  assert.equal(issued.serial.length, 32, '16 bytes, top byte always 0x40..0x7f');
  assert.ok(BigInt('0x' + issued.serial) > 0n);
  assert.equal(issued.serial, cert.serialNumber.toLowerCase().replace(/^0+/, ''));
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30.01, `validity ${days}`);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'EKU clientAuth only');
  assert.equal(cert.checkIssued(new X509Certificate(ca.certPem)), true);
  const again = await signClientCertificate(ca, csrPem, { commonName: 'agent-7' });
  assert.notEqual(again.serial, issued.serial);
});

test('certificates are ECDSA P-256 signed with SHA-256, CA has path length 0', async () => {
  const caCert = new X509Certificate(ca.certPem);
  assert.equal(caCert.ca, true);
  assert.equal(caCert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(caCert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(caCert.verify(caCert.publicKey), true);
  // basicConstraints value: SEQUENCE { cA TRUE, pathLenConstraint 0 }
  assert.ok(caCert.raw.includes(Buffer.from('30060101ff020100', 'hex')), 'CA path length 0');
  const ecdsaWithSha256 = Buffer.from('06082a8648ce3d040302', 'hex'); // OID 1.2.840.10045.4.3.2
  for (const pem of [ca.certPem, server.certPem]) assert.ok(new X509Certificate(pem).raw.includes(ecdsaWithSha256));
  for (const keyPem of [ca.keyPem, server.keyPem]) {
    const key = createPrivateKey(keyPem);
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  }
  const text = caCert.toString();
  assert.ok(text.length > 0);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\r?\n/);
  const validYears = (Date.parse(caCert.validTo) - Date.now()) / (365 * 86_400_000);
  assert.ok(validYears > 9.9 && validYears < 10.1, `CA validity ${validYears}`);
});

test('fingerprints are sha256 of the DER, lowercase hex, and stable', async () => {
  const fp = certificateFingerprint(ca.certPem);
  assert.match(fp, /^sha256:[0-9a-f]{64}$/);
  assert.equal(certificateFingerprint(ca.certPem), fp);
  assert.equal(certificateFingerprint('\n' + ca.certPem.replace(/\n/g, '\r\n') + '\n'), fp, 'formatting of the PEM does not matter');
  assert.equal(fp, 'sha256:' + new X509Certificate(ca.certPem).fingerprint256.replace(/:/g, '').toLowerCase());
  assert.notEqual(certificateFingerprint(server.certPem), fp);
  assert.throws(() => certificateFingerprint('not a certificate'), UserError);
});

test('a tampered certificate request is rejected', async () => {
  const { csrPem } = await createCertificateRequest('honest-agent');
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  // Change one character of the subject CN inside the signed part.
  const at = der.indexOf(Buffer.from('honest-agent'));
  assert.ok(at > 0);
  der[at] = 'H'.charCodeAt(0);
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(signClientCertificate(ca, tampered, { commonName: 'x' }), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.code, 'usage');
    assert.equal(err.message, 'certificate request signature is invalid');
    return true;
  });
  await assert.rejects(signClientCertificate(ca, 'garbage', { commonName: 'x' }), UserError);
});

test('bad inputs are usage errors', async () => {
  const other = await createCertificateAuthority('Other');
  const mismatched: KeyedCertificate = { certPem: ca.certPem, keyPem: other.keyPem };
  const { csrPem } = await createCertificateRequest('a');
  await assert.rejects(signClientCertificate(mismatched, csrPem, { commonName: 'a' }), /does not belong/);
  await assert.rejects(signClientCertificate(server, csrPem, { commonName: 'a' }), /not a certificate authority/);
  await assert.rejects(issueServerCertificate(ca, { commonName: 's', dnsNames: [], ipAddresses: ['1.2.3'] }), UserError);
  await assert.rejects(issueServerCertificate(ca, { commonName: 's', dnsNames: [], ipAddresses: ['::1::2'] }), UserError);
  await assert.rejects(issueServerCertificate(ca, { commonName: 's', dnsNames: ['bad name'], ipAddresses: [] }), UserError);
  await assert.rejects(issueServerCertificate(ca, { commonName: 's', dnsNames: [], ipAddresses: [] }), UserError);
  await assert.rejects(createCertificateAuthority(''), UserError);
  await assert.rejects(createCertificateAuthority('x', { days: 0 }), UserError);
});

test('common names are stored verbatim, DN special characters included', async () => {
  const { csrPem } = await createCertificateRequest('x');
  for (const name of ['db, primary=1+"a"', '#00ff', 'back\\slash', 'ünïcødé agent']) {
    const issued = await signClientCertificate(ca, csrPem, { commonName: name });
    assert.equal(new X509Certificate(issued.certPem).toLegacyObject().subject.CN, name);
  }
  const quoted = await createCertificateAuthority('CA "quoted"');
  assert.equal(new X509Certificate(quoted.certPem).toLegacyObject().subject.CN, 'CA "quoted"');
});

test('a request for a key other than ECDSA P-256 is refused', async () => {
  // pki.js has installed what @peculiar/x509 needs by now.
  const x509 = await import('@peculiar/x509');
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=rsa', keys, signingAlgorithm: alg }, webcrypto as never);
  await assert.rejects(signClientCertificate(ca, csr.toString('pem'), { commonName: 'rsa' }), /must be ECDSA P-256/);
});
