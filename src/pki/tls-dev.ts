import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { selfSignedFor } from './self-signed';

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
  const unique = [...new Set(names.filter(Boolean))];
  return selfSignedFor(privateKey, unique[0] ?? 'localhost', days, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: unique.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
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
