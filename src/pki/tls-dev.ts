import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';

export interface TlsPair {
  keyPem: string;
  certPem: string;
}

/**
 * A self-signed TLS server certificate for development (the certificate host), with the
 * subjectAltNames browsers require. node:crypto makes the key; node-forge only assembles and
 * signs the certificate.
 */
export function makeDevTlsPair(names: string[], days = 825): TlsPair {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const unique = [...new Set(names.filter(Boolean))];
  const attrs = [{ name: 'commonName', value: unique[0] ?? 'localhost' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: unique.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

/** Read a key/certificate pair; when missing and `generate` is set, create a development pair first. Returns whether it was generated. */
export function ensureTlsPair(keyFile: string, certFile: string, names: string[], generate: boolean): TlsPair & { generated: boolean } {
  let generated = false;
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    if (!generate) throw new Error(`${keyFile} and ${certFile} must exist (generation is off)`);
    const pair = makeDevTlsPair(names);
    mkdirSync(path.dirname(keyFile), { recursive: true });
    mkdirSync(path.dirname(certFile), { recursive: true });
    writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
    writeFileSync(certFile, pair.certPem);
    generated = true;
  }
  const keyPem = readFileSync(keyFile, 'utf8');
  const certPem = readFileSync(certFile, 'utf8');
  const cert = new X509Certificate(certPem);
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error(`${keyFile} is not the private key of ${certFile}`);
  return { keyPem, certPem, generated };
}
