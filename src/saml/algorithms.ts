import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { DIGEST_ALG, SIG_ALG, type SignatureAlgorithmUri } from './constants';

/**
 * XML-DSig / SAML binding signature algorithms mapped onto node:crypto.
 * ECDSA in XML-DSig is the raw r||s form (RFC 4050 / RFC 6931), i.e. `ieee-p1363`.
 * RSASSA-PSS per RFC 6931 §2.3.10: MGF1 with the same hash, salt length = hash length.
 */
export interface SignatureAlgorithm {
  uri: SignatureAlgorithmUri;
  hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  keyType: 'rsa' | 'rsa-pss' | 'ec';
}

const TABLE: Record<SignatureAlgorithmUri, SignatureAlgorithm> = {
  [SIG_ALG.rsaSha1]: { uri: SIG_ALG.rsaSha1, hash: 'sha1', keyType: 'rsa' },
  [SIG_ALG.rsaSha256]: { uri: SIG_ALG.rsaSha256, hash: 'sha256', keyType: 'rsa' },
  [SIG_ALG.rsaSha384]: { uri: SIG_ALG.rsaSha384, hash: 'sha384', keyType: 'rsa' },
  [SIG_ALG.rsaSha512]: { uri: SIG_ALG.rsaSha512, hash: 'sha512', keyType: 'rsa' },
  [SIG_ALG.rsaPssSha256]: { uri: SIG_ALG.rsaPssSha256, hash: 'sha256', keyType: 'rsa-pss' },
  [SIG_ALG.rsaPssSha384]: { uri: SIG_ALG.rsaPssSha384, hash: 'sha384', keyType: 'rsa-pss' },
  [SIG_ALG.rsaPssSha512]: { uri: SIG_ALG.rsaPssSha512, hash: 'sha512', keyType: 'rsa-pss' },
  [SIG_ALG.ecdsaSha256]: { uri: SIG_ALG.ecdsaSha256, hash: 'sha256', keyType: 'ec' },
  [SIG_ALG.ecdsaSha384]: { uri: SIG_ALG.ecdsaSha384, hash: 'sha384', keyType: 'ec' },
  [SIG_ALG.ecdsaSha512]: { uri: SIG_ALG.ecdsaSha512, hash: 'sha512', keyType: 'ec' },
};

/** Inbound allow-list: never HMAC, SHA-1 only when the SP's policy opts in. */
export function inboundSignatureAlgorithm(uri: string, allowSha1: boolean): SignatureAlgorithm | undefined {
  const alg = (TABLE as Record<string, SignatureAlgorithm | undefined>)[uri];
  if (!alg) return undefined;
  if (alg.hash === 'sha1' && !allowSha1) return undefined;
  return alg;
}

export function signatureAlgorithm(uri: SignatureAlgorithmUri): SignatureAlgorithm {
  return TABLE[uri];
}

/** Digest algorithms accepted in inbound References and used outbound. */
export function digestHash(uri: string, allowSha1: boolean): 'sha1' | 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (uri) {
    case DIGEST_ALG.sha256:
      return 'sha256';
    case DIGEST_ALG.sha384:
      return 'sha384';
    case DIGEST_ALG.sha512:
      return 'sha512';
    case DIGEST_ALG.sha1:
      return allowSha1 ? 'sha1' : undefined;
    default:
      return undefined;
  }
}

export function digestUriFor(hash: 'sha256' | 'sha384' | 'sha512'): string {
  return hash === 'sha256' ? DIGEST_ALG.sha256 : hash === 'sha384' ? DIGEST_ALG.sha384 : DIGEST_ALG.sha512;
}

function keyInput(alg: SignatureAlgorithm, key: KeyObject) {
  if (alg.keyType === 'rsa-pss') {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  }
  if (alg.keyType === 'ec') return { key, dsaEncoding: 'ieee-p1363' as const };
  return { key };
}

/** Does this key fit the algorithm's family? (An EC key never verifies an RSA SigAlg and vice versa.) */
export function keyFits(alg: SignatureAlgorithm, key: KeyObject): boolean {
  const t = key.asymmetricKeyType;
  return alg.keyType === 'ec' ? t === 'ec' : t === 'rsa' || t === 'rsa-pss';
}

export function verifySignature(alg: SignatureAlgorithm, data: Buffer | string, key: KeyObject, signature: Buffer): boolean {
  if (!keyFits(alg, key)) return false;
  try {
    return verify(alg.hash, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, keyInput(alg, key), signature);
  } catch {
    return false;
  }
}

let rsaOnPool = true;

/**
 * Where RSA signatures run. `pool` (one broker process): on the libuv thread pool, so that one
 * process signs on every core and RSA stays off its event loop. `inline` (a cluster worker, one
 * per core): on the event loop, which saves the hand-off to a pool thread and back, and keeps
 * the machine from running more signing threads than it has cores.
 */
export function setRsaSigning(mode: 'pool' | 'inline'): void {
  rsaOnPool = mode === 'pool';
}

/**
 * Sign on the libuv thread pool so RSA stays off the event loop (see setRsaSigning). ECDSA
 * signs in ~40 µs, less than the thread-pool round trip, so it stays on the loop.
 */
export function signAsync(alg: SignatureAlgorithm, data: Buffer | string, key: KeyObject): Promise<Buffer> {
  if (alg.keyType === 'ec' || !rsaOnPool) {
    try {
      return Promise.resolve(signSync(alg, data, key));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return new Promise((resolve, reject) => {
    sign(alg.hash, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, keyInput(alg, key), (err, sig) =>
      err ? reject(err) : resolve(sig),
    );
  });
}

export function signSync(alg: SignatureAlgorithm, data: Buffer | string, key: KeyObject): Buffer {
  return sign(alg.hash, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, keyInput(alg, key));
}
