import type { X509Certificate } from 'node:crypto';
import { identityFromCertificate, type CertificateIdentity } from './identity';
import type { RevocationChecker } from './revocation';
import { CertificateParseError, details, describeCert, OID, parseCertificate, safeName, UNDERSTOOD_CRITICAL } from './x509';

/**
 * Client certificate validation with node:crypto `X509Certificate` (never node-forge's
 * verifyCertificateChain, which accepted a leaf as an intermediate: CVE-2026-33896). Every check
 * has its own error code, so the citizen's page and the log say exactly what was wrong.
 */

export type AnchorKind = 'dnie' | 'qualified';

export interface TrustAnchor {
  cert: X509Certificate;
  kind: AnchorKind;
}

export type CertErrorCode =
  | 'ERR_CERT_MISSING'
  | 'ERR_CERT_MALFORMED'
  | 'ERR_CERT_UNKNOWN_CA'
  | 'ERR_CERT_ISSUER_NOT_CA'
  | 'ERR_CERT_SIGNATURE'
  | 'ERR_CERT_PATH_LENGTH'
  | 'ERR_CERT_CRITICAL_EXTENSION'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_NOT_YET_VALID'
  | 'ERR_CERT_USAGE'
  | 'ERR_CERT_IDENTITY'
  | 'ERR_CERT_REVOKED'
  | 'ERR_CERT_STATUS_UNKNOWN'
  | 'ERR_CERT_REVOCATION_UNAVAILABLE';

export type CertificateValidation =
  | {
      ok: true;
      kind: AnchorKind;
      identity: CertificateIdentity;
      /** Leaf serial (hex) and issuer (the CA's distinguished name). */
      serial: string;
      issuer: string;
      fingerprint256: string;
      /** Leaf, intermediates, anchor. */
      path: X509Certificate[];
      /** Checks that were skipped by configuration (fail-open revocation, intermediates without a revocation source). */
      warnings: string[];
    }
  | { ok: false; code: CertErrorCode; message: string };

export interface ValidateOptions {
  anchors: TrustAnchor[];
  now: Date;
  revocation: RevocationChecker;
  /** Most intermediate CAs between the leaf and the anchor (default 4). */
  maxIntermediates?: number;
}

type Failure = { ok: false; code: CertErrorCode; message: string };

function fail(code: CertErrorCode, message: string): Failure {
  return { ok: false, code, message };
}

/** When several candidate paths fail, report the most telling reason. */
const SEVERITY: Partial<Record<CertErrorCode, number>> = {
  ERR_CERT_ISSUER_NOT_CA: 5,
  ERR_CERT_PATH_LENGTH: 4,
  ERR_CERT_SIGNATURE: 3,
  ERR_CERT_UNKNOWN_CA: 1,
};

function worst(failures: Failure[]): Failure | undefined {
  return [...failures].sort((a, b) => (SEVERITY[b.code] ?? 0) - (SEVERITY[a.code] ?? 0))[0];
}

function toCert(input: X509Certificate | string | Buffer): X509Certificate {
  return typeof input === 'string' || Buffer.isBuffer(input) ? parseCertificate(input) : input;
}

/** Is `c` fit to sign certificates: basicConstraints CA:TRUE and keyUsage keyCertSign (both present)? */
export function caProblem(c: X509Certificate): string | null {
  const d = details(c);
  if (!d.basicConstraints) return 'it has no basicConstraints extension';
  if (!d.basicConstraints.ca) return 'its basicConstraints say it is not a CA';
  if (!d.keyUsage) return 'it has no keyUsage extension';
  if (!d.keyUsage.has('keyCertSign')) return 'its keyUsage does not allow signing certificates (keyCertSign)';
  return null;
}

interface Path {
  chain: X509Certificate[];
  anchor: TrustAnchor;
}

function buildPath(leaf: X509Certificate, pool: X509Certificate[], anchors: TrustAnchor[], maxIntermediates: number): Path | Failure {
  const failures: Failure[] = [];
  const walk = (chain: X509Certificate[]): Path | null => {
    const current = chain[chain.length - 1]!;
    const who = chain.length === 1 ? 'the certificate' : `the intermediate CA ${describeCert(current)}`;
    for (const anchor of anchors) {
      if (anchor.cert.subject !== current.issuer && !current.checkIssued(anchor.cert)) continue;
      if (current.checkIssued(anchor.cert) && current.verify(anchor.cert.publicKey)) return { chain, anchor };
      failures.push(fail('ERR_CERT_SIGNATURE', `the signature on ${who} does not verify with the trusted CA ${describeCert(anchor.cert)}`));
    }
    const candidates = pool.filter((c) => !chain.some((p) => p.raw.equals(c.raw)) && (c.subject === current.issuer || current.checkIssued(c)));
    for (const c of candidates) {
      if (!current.verify(c.publicKey)) {
        failures.push(fail('ERR_CERT_SIGNATURE', `the signature on ${who} does not verify with the key of ${describeCert(c)}`));
        continue;
      }
      const problem = caProblem(c);
      if (problem) {
        failures.push(fail('ERR_CERT_ISSUER_NOT_CA', `${describeCert(c)} signed ${who} but is not a certification authority: ${problem}`));
        continue;
      }
      if (!current.checkIssued(c)) {
        failures.push(fail('ERR_CERT_SIGNATURE', `${who} does not name ${describeCert(c)} as its issuer (names or key identifiers differ)`));
        continue;
      }
      if (chain.length - 1 >= maxIntermediates) {
        failures.push(fail('ERR_CERT_PATH_LENGTH', `the chain has more than ${maxIntermediates} intermediate CAs`));
        continue;
      }
      const found = walk([...chain, c]);
      if (found) return found;
    }
    return null;
  };
  const found = walk([leaf]);
  if (found) return found;
  return (
    worst(failures) ??
    fail(
      'ERR_CERT_UNKNOWN_CA',
      `the certificate was issued by "${safeName(leaf.issuer)}", which is not a trusted certification authority (nor chains to one)`,
    )
  );
}

function dateOf(s: string): Date {
  return new Date(s);
}

/**
 * Validate a client certificate: path to a configured anchor through intermediates that really
 * are CAs, signatures, validity dates, critical extensions, path length, the leaf's key usage,
 * the identity in its subject, and revocation of the leaf and the intermediates.
 */
export async function validateClientCertificate(
  leafInput: X509Certificate | string | Buffer,
  chainInput: Array<X509Certificate | string | Buffer>,
  opts: ValidateOptions,
): Promise<CertificateValidation> {
  let leaf: X509Certificate;
  let pool: X509Certificate[];
  try {
    leaf = toCert(leafInput);
    pool = chainInput.map(toCert);
    details(leaf);
    for (const c of pool) details(c);
  } catch (err) {
    if (err instanceof CertificateParseError) return fail('ERR_CERT_MALFORMED', err.message);
    throw err;
  }
  // Never trust a certificate just because the client sent it: anchors are configuration only.
  pool = pool.filter((c) => !c.raw.equals(leaf.raw));

  const built = buildPath(leaf, pool, opts.anchors, opts.maxIntermediates ?? 4);
  if ('ok' in built) return built;
  const { chain, anchor } = built;
  const full = [...chain, anchor.cert];

  for (const [i, c] of chain.entries()) {
    const bad = details(c).critical.find((oid) => !UNDERSTOOD_CRITICAL.has(oid));
    if (bad) {
      const who = i === 0 ? 'the certificate' : `the intermediate CA ${describeCert(c)}`;
      return fail('ERR_CERT_CRITICAL_EXTENSION', `${who} has a critical extension (${bad}) that is not supported`);
    }
  }

  const now = opts.now.getTime();
  for (const [i, c] of full.entries()) {
    const who = i === 0 ? 'the certificate' : `the certification authority ${describeCert(c)}`;
    const from = dateOf(c.validFrom);
    const to = dateOf(c.validTo);
    if (from.getTime() > now) return fail('ERR_CERT_NOT_YET_VALID', `${who} is not valid until ${from.toISOString()}`);
    if (to.getTime() < now) return fail('ERR_CERT_EXPIRED', `${who} expired on ${to.toISOString()}`);
  }

  // Path length: a CA's pathLenConstraint bounds the intermediates below it.
  for (let i = 1; i < full.length; i++) {
    const pathLen = details(full[i]!).basicConstraints?.pathLen;
    const below = i - 1;
    if (pathLen !== undefined && below > pathLen) {
      return fail('ERR_CERT_PATH_LENGTH', `${describeCert(full[i]!)} allows ${pathLen} intermediate CA(s) below it, the chain has ${below}`);
    }
  }

  const ld = details(leaf);
  if (ld.basicConstraints?.ca) return fail('ERR_CERT_USAGE', 'the certificate is a CA certificate, not a personal certificate');
  if (ld.keyUsage && !ld.keyUsage.has('digitalSignature')) {
    return fail('ERR_CERT_USAGE', 'the certificate is not meant for authentication: its keyUsage lacks digitalSignature (a signing-only certificate?)');
  }
  if (ld.extKeyUsage && !ld.extKeyUsage.includes(OID.kpClientAuth) && !ld.extKeyUsage.includes(OID.anyExtendedKeyUsage)) {
    return fail('ERR_CERT_USAGE', 'the certificate is not meant for client authentication: its extendedKeyUsage lacks clientAuth');
  }

  const id = identityFromCertificate(leaf);
  if (!id.ok) return fail('ERR_CERT_IDENTITY', id.message);

  const warnings: string[] = [];
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const issuer = full[i + 1]!;
    const who = i === 0 ? 'the certificate' : `the intermediate CA ${describeCert(c)}`;
    const verdict = await opts.revocation.check(c, issuer, opts.now);
    switch (verdict.status) {
      case 'good':
      case 'not_checked':
        break;
      case 'revoked': {
        const when = verdict.revokedAt ? ` on ${verdict.revokedAt.toISOString()}` : '';
        const why = verdict.reason ? ` (${verdict.reason})` : '';
        return fail('ERR_CERT_REVOKED', `${who} was revoked${when}${why} according to the ${verdict.source.toUpperCase()}`);
      }
      case 'unknown':
      case 'unavailable': {
        // An intermediate whose CA publishes no revocation source at all cannot be checked; the leaf must be.
        if (i > 0 && verdict.status === 'unavailable' && verdict.noSource) {
          warnings.push(`${who}: ${verdict.message}`);
          break;
        }
        if (verdict.failOpen) {
          warnings.push(`revocation of ${who} not checked (fail-open): ${verdict.message}`);
          break;
        }
        return verdict.status === 'unknown'
          ? fail('ERR_CERT_STATUS_UNKNOWN', `the revocation service does not know ${who}: ${verdict.message}`)
          : fail('ERR_CERT_REVOCATION_UNAVAILABLE', `the revocation status of ${who} could not be checked: ${verdict.message}`);
      }
    }
  }

  return {
    ok: true,
    kind: anchor.kind,
    identity: id.identity,
    serial: leaf.serialNumber,
    issuer: safeName(leaf.issuer),
    fingerprint256: leaf.fingerprint256,
    path: full,
    warnings,
  };
}
