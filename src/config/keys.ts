import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../errors';
import { makeSelfSignedRsa, pemToB64 } from '../pki/self-signed';
import type { SigningKey } from '../saml/types';
import type { Config } from './index';

export interface BrokerKeys {
  /** Signs responses and assertions; rolled over as `keys.nextSigningCertPath` says. */
  signing: SigningKey;
  /**
   * Signs `/metadata` only. Long-lived and apart from the assertion key, so that an SP that
   * pinned it to check our metadata keeps refreshing across an assertion-key rollover.
   */
  metadataSigning: SigningKey;
  /** Published in metadata ahead of a rollover; never used to sign yet. */
  nextSigningCertB64?: string;
  /** Published in metadata (use="encryption") ahead of an encryption-key rollover. */
  nextEncryptionCertB64?: string;
  encryption: SigningKey;
}

function loadPair(dir: string, name: string, generate: boolean, log: Logger, cn: string, bits = 2048): SigningKey {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    if (!generate) throw new ConfigError(`keys.dir`, `${keyFile} and ${certFile} to exist (key generation is off)`);
    const { keyPem, certPem } = makeSelfSignedRsa(cn, { bits });
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(keyFile, keyPem, { mode: 0o600 });
      writeFileSync(certFile, certPem);
    } catch (err) {
      throw new ConfigError('keys.dir', `a directory where ${keyFile} and ${certFile} can be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    log.warn({ keyFile, certFile }, 'generated a self-signed development key pair; use managed keys in production');
  }
  // Unreadable (a directory, no permission for the broker's user) or not PEM: name the setting and the file, never a bare ENOENT.
  const keyPem = readKeyFile(keyFile);
  const certPem = readKeyFile(certFile);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError(`keys.dir`, `${certFile} to hold a PEM certificate (${(err as Error).message})`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError('keys.dir', `${keyFile} to hold a PEM private key (${(err as Error).message.split('\n')[0]})`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError('keys.dir', `${keyFile} to be the private key of ${certFile}`);
  if (new Date(cert.validTo) < new Date()) log.warn({ certFile, validTo: cert.validTo }, 'certificate has expired');
  return { key, certPem, certB64: pemToB64(certPem) };
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('keys.dir', `${file} to be a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A certificate published in metadata ahead of a rollover (base64 DER), or undefined. */
function nextCert(config: Config, key: 'nextSigningCertPath' | 'nextEncryptionCertPath'): string | undefined {
  const configured = config.keys[key];
  if (!configured) return undefined;
  const file = path.resolve(config.root, configured);
  try {
    const pem = readFileSync(file, 'utf8');
    new X509Certificate(pem);
    return pemToB64(pem);
  } catch (err) {
    throw new ConfigError(`keys.${key}`, `a readable PEM certificate at ${file} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Our signing and encryption keys, as KeyObjects parsed once (PERFORMANCE.md). */
export function loadKeys(config: Config, log: Logger): BrokerKeys {
  const dir = path.resolve(config.root, config.keys.dir);
  const signing = loadPair(dir, 'signing', config.keys.generateIfMissing, log, `${new URL(config.baseUrl).hostname} SAML signing`);
  const encryption = loadPair(dir, 'encryption', config.keys.generateIfMissing, log, `${new URL(config.baseUrl).hostname} SAML encryption`);
  const metadataSigning = loadPair(
    dir,
    'metadata-signing',
    config.keys.generateIfMissing,
    log,
    `${new URL(config.baseUrl).hostname} SAML metadata signing`,
    3072,
  );
  const nextSigningCertB64 = nextCert(config, 'nextSigningCertPath');
  const nextEncryptionCertB64 = nextCert(config, 'nextEncryptionCertPath');
  return { signing, metadataSigning, encryption, nextSigningCertB64, nextEncryptionCertB64 };
}

export interface Secrets {
  pairwise: string;
  csrf: string;
}

/**
 * Secrets from the configuration; in development, generated once into var/secrets.json
 * (so pairwise NameIDs stay stable across restarts) with a loud warning.
 */
export function loadSecrets(config: Config, log: Logger): Secrets {
  if (config.secrets.pairwise && config.secrets.csrf) return { pairwise: config.secrets.pairwise, csrf: config.secrets.csrf };
  if (config.env === 'production') {
    throw new ConfigError(config.secrets.pairwise ? 'secrets.csrf' : 'secrets.pairwise', 'a secret of at least 32 characters (PASARELA_PAIRWISE_SECRET / PASARELA_CSRF_SECRET)');
  }
  const file = path.resolve(config.root, 'var', 'secrets.json');
  let stored: Partial<Secrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Secrets>;
  const secrets: Secrets = {
    pairwise: config.secrets.pairwise ?? stored.pairwise ?? randomBytes(32).toString('base64url'),
    csrf: config.secrets.csrf ?? stored.csrf ?? randomBytes(32).toString('base64url'),
  };
  if (stored.pairwise !== secrets.pairwise || stored.csrf !== secrets.csrf) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  log.warn({ file }, 'using development secrets from var/secrets.json; set PASARELA_PAIRWISE_SECRET and PASARELA_CSRF_SECRET in production');
  return secrets;
}
