import { constants, verify, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';

/**
 * Signatures on CRLs and OCSP responses, verified with node:crypto over the signed bytes as
 * received. An allow-list of algorithms: RSA PKCS#1 v1.5 and RSASSA-PSS with SHA-2, ECDSA with
 * SHA-2, Ed25519/Ed448. SHA-1 is refused (as for SAML signatures).
 */

const HASH_OIDS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const SIMPLE: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null, // Ed25519
  '1.3.101.113': null, // Ed448
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

export class UnsupportedAlgorithmError extends Error {}

/** Does `signature` over `data` verify with `key` under the given AlgorithmIdentifier? Throws on an algorithm we refuse. */
export function verifySignature(algorithm: pkijs.AlgorithmIdentifier, data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  const oid = algorithm.algorithmId;
  if (oid in SIMPLE) {
    try {
      return verify(SIMPLE[oid] ?? null, data, key, signature);
    } catch {
      return false;
    }
  }
  if (oid === RSASSA_PSS) {
    let params: pkijs.RSASSAPSSParams;
    try {
      params = new pkijs.RSASSAPSSParams({ schema: algorithm.algorithmParams });
    } catch {
      throw new UnsupportedAlgorithmError('RSASSA-PSS with unreadable parameters');
    }
    const hash = HASH_OIDS[params.hashAlgorithm.algorithmId];
    if (!hash) throw new UnsupportedAlgorithmError(`RSASSA-PSS with hash ${params.hashAlgorithm.algorithmId}`);
    try {
      return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength }, signature);
    } catch {
      return false;
    }
  }
  throw new UnsupportedAlgorithmError(`signature algorithm ${oid} is not accepted`);
}
