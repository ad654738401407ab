import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Logger } from 'pino';
import { fetchBytes, FetchError, isFetchableUrl, type HttpFetcher } from './http';
import { UnsupportedAlgorithmError, verifySignature } from './signature';
import { arrayBuffer, bytesOf, details, normalizeSerialHex, OID } from './x509';

/**
 * Revocation of a certificate by OCSP (RFC 6960, with a nonce) and by CRL (RFC 5280, fetched
 * over http, cached, refreshed). OCSP is asked first when the certificate (or the configuration)
 * names a responder; a CRL is the fallback, or the only source. No answer fails closed unless
 * the operator turned `failOpen` on for every source that was tried.
 */

export type RevocationSource = 'ocsp' | 'crl';

export type RevocationVerdict =
  | { status: 'good'; source: RevocationSource }
  | { status: 'revoked'; source: RevocationSource; revokedAt?: Date; reason?: string }
  /** The OCSP responder does not know the certificate and no CRL settled it. */
  | { status: 'unknown'; message: string; failOpen: boolean }
  /** No source could give a trustworthy answer (unreachable, timeout, bad signature, stale, no source at all). */
  | { status: 'unavailable'; message: string; failOpen: boolean; noSource?: boolean }
  /** Revocation checking is turned off in the configuration. */
  | { status: 'not_checked' };

export interface RevocationChecker {
  /** Status of `cert`, issued by `issuer` (whose signature on `cert` the caller has already verified). */
  check(cert: X509Certificate, issuer: X509Certificate, now: Date): Promise<RevocationVerdict>;
}

export interface CrlOptions {
  enabled: boolean;
  /** CRLs to use besides the certificate's distribution points (matched to an issuer by name and signature). */
  urls: string[];
  /** Re-fetch a cached CRL after this long even when its nextUpdate is later. */
  refreshSeconds: number;
  timeoutMs: number;
  maxBytes: number;
  failOpen: boolean;
}

export interface OcspOptions {
  enabled: boolean;
  /** Ask this responder instead of the one in the certificate's AIA. */
  responderUrl?: string;
  timeoutMs: number;
  failOpen: boolean;
  /** Refuse an answer that does not echo our nonce (a responder that only serves pre-signed answers needs this off). */
  requireNonce: boolean;
  /** Oldest acceptable thisUpdate when the answer has no nextUpdate. */
  maxAgeSeconds: number;
}

export interface RevocationOptions {
  crl: CrlOptions;
  ocsp: OcspOptions;
  clockSkewSeconds: number;
  fetch?: HttpFetcher;
  log?: Logger;
  /** Most CRLs kept in memory at once. */
  maxCachedCrls?: number;
}

const ID_PKIX_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ID_PKIX_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
const SHA1 = '1.3.14.3.2.26';
const CRL_NUMBER = '2.5.29.20';
const DELTA_CRL_INDICATOR = '2.5.29.27';
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const CRL_REASON = '2.5.29.21';
const CERTIFICATE_ISSUER = '2.5.29.29';

const REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

const OCSP_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', 'unused', 'sigRequired', 'unauthorized'];

/** An answer from one source that could not settle the question. */
class SourceFailure extends Error {
  constructor(
    message: string,
    readonly unknown = false,
  ) {
    super(message);
  }
}

type SourceAnswer = { status: 'good' } | { status: 'revoked'; revokedAt?: Date; reason?: string };

interface ParsedCrl {
  url: string;
  issuerDer: Buffer;
  issuer: pkijs.RelativeDistinguishedNames;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** serial hex -> revocation */
  revoked: Map<string, { at: Date; reason?: string }>;
  scope: { onlyUser: boolean; onlyCa: boolean };
  signatureAlgorithm: pkijs.AlgorithmIdentifier;
  tbs: Buffer;
  signature: Buffer;
  /** Fingerprints of issuer certificates whose key verified this CRL's signature. */
  verifiedBy: Set<string>;
  fetchedAt: number;
}

function reasonOf(extensions: pkijs.Extension[] | undefined): string | undefined {
  const ext = extensions?.find((e) => e.extnID === CRL_REASON);
  if (!ext) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (parsed.result instanceof asn1js.Enumerated) return REASONS[parsed.result.valueBlock.valueDec] ?? `reason ${parsed.result.valueBlock.valueDec}`;
  return undefined;
}

function sameName(aDer: Buffer, a: pkijs.RelativeDistinguishedNames, bDer: Buffer, b: pkijs.RelativeDistinguishedNames): boolean {
  return aDer.equals(bDer) || a.isEqual(b);
}

export class DefaultRevocationChecker implements RevocationChecker {
  private readonly fetch: HttpFetcher;
  private readonly crls = new Map<string, ParsedCrl>();
  private readonly inflight = new Map<string, Promise<ParsedCrl>>();

  constructor(private readonly opts: RevocationOptions) {
    this.fetch = opts.fetch ?? fetchBytes;
  }

  async check(cert: X509Certificate, issuer: X509Certificate, now: Date): Promise<RevocationVerdict> {
    const { crl, ocsp } = this.opts;
    if (!crl.enabled && !ocsp.enabled) return { status: 'not_checked' };
    const d = details(cert);
    const failures: Array<{ source: RevocationSource; message: string; unknown: boolean }> = [];

    if (ocsp.enabled) {
      const urls = ocsp.responderUrl ? [ocsp.responderUrl] : d.ocspUrls.filter(isFetchableUrl);
      for (const url of urls.slice(0, 2)) {
        try {
          const answer = await this.ocspCheck(cert, issuer, url, now);
          return { ...answer, source: 'ocsp' };
        } catch (err) {
          failures.push({ source: 'ocsp', message: `OCSP ${url}: ${(err as Error).message}`, unknown: err instanceof SourceFailure && err.unknown });
        }
      }
    }

    if (crl.enabled) {
      const own = d.crlUrls.filter(isFetchableUrl);
      const configured = crl.urls.filter((u) => !own.includes(u));
      for (const url of [...own, ...configured].slice(0, 8)) {
        try {
          const answer = await this.crlCheck(cert, issuer, url, now, own.includes(url));
          if (answer === null) continue; // a configured CRL of another issuer
          return { ...answer, source: 'crl' };
        } catch (err) {
          failures.push({ source: 'crl', message: `CRL ${url}: ${(err as Error).message}`, unknown: false });
        }
      }
    }

    if (failures.length === 0) {
      const enabled = [ocsp.enabled && 'OCSP responder', crl.enabled && 'CRL distribution point'].filter(Boolean).join(' or ');
      return {
        status: 'unavailable',
        message: `the certificate names no ${enabled} and no configured one covers its issuer`,
        failOpen: (!ocsp.enabled || ocsp.failOpen) && (!crl.enabled || crl.failOpen),
        noSource: true,
      };
    }
    const failOpen = failures.every((f) => this.opts[f.source].failOpen);
    const message = failures.map((f) => f.message).join('; ');
    if (failures.some((f) => f.unknown)) return { status: 'unknown', message, failOpen };
    return { status: 'unavailable', message, failOpen };
  }

  // ---------------------------------------------------------------- OCSP

  private async ocspCheck(cert: X509Certificate, issuer: X509Certificate, url: string, now: Date): Promise<SourceAnswer> {
    const d = details(cert);
    const issuerDetails = details(issuer);
    const nameHash = createHash('sha1').update(d.issuerDer).digest();
    const keyHash = createHash('sha1').update(issuerDetails.publicKeyBits).digest();
    const certId = new pkijs.CertID({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA1, algorithmParams: new asn1js.Null() }),
      issuerNameHash: new asn1js.OctetString({ valueHex: nameHash }),
      issuerKeyHash: new asn1js.OctetString({ valueHex: keyHash }),
      serialNumber: d.pkijs.serialNumber,
    });
    const nonce = randomBytes(16);
    const nonceExtnValue = bytesOf(new asn1js.OctetString({ valueHex: nonce }).toBER());
    const request = new pkijs.OCSPRequest();
    request.tbsRequest.requestList = [new pkijs.Request({ reqCert: certId })];
    request.tbsRequest.requestExtensions = [
      new pkijs.Extension({ extnID: ID_PKIX_OCSP_NONCE, critical: false, extnValue: arrayBuffer(nonceExtnValue) }),
    ];
    const body = bytesOf(request.toSchema(true).toBER());

    let res;
    try {
      res = await this.fetch({
        url,
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
        body,
        timeoutMs: this.opts.ocsp.timeoutMs,
        maxBytes: 1024 * 1024,
      });
    } catch (err) {
      throw new SourceFailure(err instanceof FetchError && err.kind === 'timeout' ? `no answer within ${this.opts.ocsp.timeoutMs} ms` : (err as Error).message);
    }
    if (res.status !== 200) throw new SourceFailure(`HTTP ${res.status}`);

    let response: pkijs.OCSPResponse;
    let basic: pkijs.BasicOCSPResponse;
    try {
      response = pkijs.OCSPResponse.fromBER(arrayBuffer(res.body));
    } catch {
      throw new SourceFailure('the answer is not an OCSP response');
    }
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) throw new SourceFailure(`the responder answered "${OCSP_STATUS[status] ?? status}"`);
    if (!response.responseBytes || response.responseBytes.responseType !== ID_PKIX_OCSP_BASIC) {
      throw new SourceFailure('the answer is not a basic OCSP response');
    }
    try {
      basic = pkijs.BasicOCSPResponse.fromBER(arrayBuffer(response.responseBytes.response.valueBlock.valueHexView));
    } catch {
      throw new SourceFailure('the basic OCSP response could not be read');
    }

    // Who signed it: the issuer itself, or a responder the issuer delegated with id-kp-OCSPSigning.
    const signer = this.ocspSigner(basic, issuer, now);
    let signatureOk: boolean;
    try {
      signatureOk = verifySignature(
        basic.signatureAlgorithm,
        basic.tbsResponseData.tbsView,
        basic.signature.valueBlock.valueHexView,
        signer.publicKey,
      );
    } catch (err) {
      if (err instanceof UnsupportedAlgorithmError) throw new SourceFailure(`the response signature uses a refused algorithm (${err.message})`);
      throw err;
    }
    if (!signatureOk) throw new SourceFailure('the response signature does not verify');

    // Freshness: our nonce echoed (no replayed answer), and thisUpdate/nextUpdate around now.
    const echoed = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === ID_PKIX_OCSP_NONCE);
    if (echoed) {
      if (!bytesOf(echoed.extnValue.valueBlock.valueHexView).equals(nonceExtnValue)) {
        throw new SourceFailure('the response nonce does not match the request (a replayed answer?)');
      }
    } else if (this.opts.ocsp.requireNonce) {
      throw new SourceFailure('the responder did not echo the request nonce');
    }

    const single = basic.tbsResponseData.responses.find(
      (r) =>
        r.certID.hashAlgorithm.algorithmId === SHA1 &&
        bytesOf(r.certID.issuerNameHash.valueBlock.valueHexView).equals(nameHash) &&
        bytesOf(r.certID.issuerKeyHash.valueBlock.valueHexView).equals(keyHash) &&
        normalizeSerialHex(r.certID.serialNumber.valueBlock.valueHexView) === d.serialHex,
    );
    if (!single) throw new SourceFailure('the response does not cover this certificate');
    const skew = this.opts.clockSkewSeconds * 1000;
    if (single.thisUpdate.getTime() > now.getTime() + skew) throw new SourceFailure('the response is dated in the future (thisUpdate)');
    if (single.nextUpdate) {
      if (single.nextUpdate.getTime() < now.getTime() - skew) throw new SourceFailure('the response is stale (nextUpdate has passed)');
    } else if (single.thisUpdate.getTime() < now.getTime() - this.opts.ocsp.maxAgeSeconds * 1000 - skew) {
      throw new SourceFailure('the response is older than allowed');
    }

    const certStatus: unknown = single.certStatus;
    if (!(certStatus instanceof asn1js.BaseBlock)) throw new SourceFailure('the certificate status could not be read');
    const tag = certStatus.idBlock.tagNumber;
    if (certStatus.idBlock.tagClass !== 3 || tag > 2) throw new SourceFailure('the certificate status could not be read');
    if (tag === 0) return { status: 'good' };
    if (tag === 2) throw new SourceFailure('the responder does not know this certificate (status "unknown")', true);
    // revoked [1] { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
    let revokedAt: Date | undefined;
    let reason: string | undefined;
    if (certStatus instanceof asn1js.Constructed) {
      const [time, why] = certStatus.valueBlock.value;
      if (time instanceof asn1js.GeneralizedTime) revokedAt = time.toDate();
      if (why instanceof asn1js.Constructed) {
        const e = why.valueBlock.value[0];
        if (e instanceof asn1js.Enumerated) reason = REASONS[e.valueBlock.valueDec];
      }
    }
    return { status: 'revoked', revokedAt, reason };
  }

  private ocspSigner(basic: pkijs.BasicOCSPResponse, issuer: X509Certificate, now: Date): X509Certificate {
    const responderId: unknown = basic.tbsResponseData.responderID;
    const candidates: X509Certificate[] = [issuer];
    for (const c of basic.certs ?? []) {
      try {
        candidates.push(new X509Certificate(bytesOf(c.toSchema().toBER())));
      } catch {
        // an unreadable extra certificate cannot be the signer
      }
    }
    const matches = (c: X509Certificate): boolean => {
      const cd = details(c);
      if (responderId instanceof pkijs.RelativeDistinguishedNames) return cd.pkijs.subject.isEqual(responderId);
      if (responderId instanceof asn1js.OctetString) {
        return createHash('sha1').update(cd.publicKeyBits).digest().equals(bytesOf(responderId.valueBlock.valueHexView));
      }
      return false;
    };
    const signer = candidates.find(matches);
    if (!signer) throw new SourceFailure('the response is signed by an unknown responder');
    if (signer === issuer || signer.raw.equals(issuer.raw)) return issuer;
    // A delegated responder: issued directly by the issuer, for OCSP signing, and valid now.
    if (!signer.checkIssued(issuer) || !signer.verify(issuer.publicKey)) {
      throw new SourceFailure('the responder certificate is not issued by the certificate issuer');
    }
    const sd = details(signer);
    if (!sd.extKeyUsage?.includes(OID.kpOcspSigning)) throw new SourceFailure('the responder certificate is not authorised for OCSP signing');
    const skew = this.opts.clockSkewSeconds * 1000;
    if (new Date(signer.validFrom).getTime() > now.getTime() + skew || new Date(signer.validTo).getTime() < now.getTime() - skew) {
      throw new SourceFailure('the responder certificate is outside its validity period');
    }
    return signer;
  }

  // ---------------------------------------------------------------- CRL

  /** null when `url` is a configured CRL of another issuer. */
  private async crlCheck(cert: X509Certificate, issuer: X509Certificate, url: string, now: Date, fromCert: boolean): Promise<SourceAnswer | null> {
    const d = details(cert);
    const issuerDetails = details(issuer);
    let crl = await this.getCrl(url, now, false);
    if (!sameName(crl.issuerDer, crl.issuer, issuerDetails.subjectDer, issuerDetails.pkijs.subject)) {
      if (!fromCert) return null;
      throw new SourceFailure('the CRL is issued by another authority (indirect CRLs are not supported)');
    }
    if (issuerDetails.keyUsage && !issuerDetails.keyUsage.has('cRLSign')) throw new SourceFailure('the issuer is not allowed to sign CRLs (keyUsage)');
    const skew = this.opts.clockSkewSeconds * 1000;
    if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime() - skew) {
      // Past nextUpdate: fetch again once; a CRL still past its nextUpdate is not used.
      crl = await this.getCrl(url, now, true);
      if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime() - skew) throw new SourceFailure(`the CRL expired at ${crl.nextUpdate.toISOString()}`);
    }
    if (crl.thisUpdate.getTime() > now.getTime() + skew) throw new SourceFailure('the CRL is dated in the future (thisUpdate)');
    const isCa = d.basicConstraints?.ca === true;
    if ((crl.scope.onlyUser && isCa) || (crl.scope.onlyCa && !isCa)) throw new SourceFailure('the CRL does not cover this kind of certificate');

    const fp = issuer.fingerprint256;
    if (!crl.verifiedBy.has(fp)) {
      let ok: boolean;
      try {
        ok = verifySignature(crl.signatureAlgorithm, crl.tbs, crl.signature, issuer.publicKey);
      } catch (err) {
        if (err instanceof UnsupportedAlgorithmError) throw new SourceFailure(`the CRL signature uses a refused algorithm (${err.message})`);
        throw err;
      }
      if (!ok) throw new SourceFailure('the CRL signature does not verify with the issuer key');
      crl.verifiedBy.add(fp);
    }
    const hit = crl.revoked.get(d.serialHex);
    if (hit && hit.reason !== 'removeFromCRL') return { status: 'revoked', revokedAt: hit.at, reason: hit.reason };
    return { status: 'good' };
  }

  private async getCrl(url: string, now: Date, force: boolean): Promise<ParsedCrl> {
    const cached = this.crls.get(url);
    const refreshMs = this.opts.crl.refreshSeconds * 1000;
    const fresh =
      cached &&
      !force &&
      now.getTime() - cached.fetchedAt < refreshMs &&
      (!cached.nextUpdate || cached.nextUpdate.getTime() >= now.getTime());
    if (cached && fresh) return cached;
    let pending = this.inflight.get(url);
    if (!pending) {
      pending = this.fetchCrl(url, now).finally(() => this.inflight.delete(url));
      this.inflight.set(url, pending);
    }
    try {
      const crl = await pending;
      this.remember(url, crl);
      return crl;
    } catch (err) {
      // A failed refresh keeps using a CRL that is still within its nextUpdate.
      if (cached && (!cached.nextUpdate || cached.nextUpdate.getTime() >= now.getTime())) {
        this.opts.log?.warn({ event: 'crl.refresh_failed', url, err: (err as Error).message }, 'CRL refresh failed; using the cached one');
        return cached;
      }
      throw err;
    }
  }

  private remember(url: string, crl: ParsedCrl): void {
    this.crls.delete(url);
    this.crls.set(url, crl);
    const max = this.opts.maxCachedCrls ?? 64;
    while (this.crls.size > max) {
      const oldest = this.crls.keys().next().value;
      if (oldest === undefined) break;
      this.crls.delete(oldest);
    }
  }

  private async fetchCrl(url: string, now: Date): Promise<ParsedCrl> {
    let res;
    try {
      res = await this.fetch({ url, method: 'GET', timeoutMs: this.opts.crl.timeoutMs, maxBytes: this.opts.crl.maxBytes });
    } catch (err) {
      throw new SourceFailure(err instanceof FetchError && err.kind === 'timeout' ? `no answer within ${this.opts.crl.timeoutMs} ms` : (err as Error).message);
    }
    if (res.status !== 200) throw new SourceFailure(`HTTP ${res.status}`);
    const crl = parseCrl(url, res.body, this.opts.crl.maxBytes);
    crl.fetchedAt = now.getTime();
    this.opts.log?.info({ event: 'crl.fetched', url, entries: crl.revoked.size, nextUpdate: crl.nextUpdate?.toISOString() }, 'CRL fetched');
    return crl;
  }
}

/** A DER (or PEM) CRL, reduced to what revocation needs. Throws SourceFailure when it cannot be used. */
export function parseCrl(url: string, input: Buffer, maxBytes: number): ParsedCrl {
  let der = input;
  const text = input.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN X509 CRL-----')) {
    der = Buffer.from(input.toString('latin1').replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, ''), 'base64');
  }
  // Large CRLs have many nodes: the node limit follows the size, which the fetch already capped.
  const asn = asn1js.fromBER(der, { maxNodes: Math.ceil(der.length / 2) + 64, maxContentLength: maxBytes });
  if (asn.offset === -1) throw new SourceFailure('the CRL could not be read');
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = new pkijs.CertificateRevocationList({ schema: asn.result });
  } catch {
    throw new SourceFailure('the CRL could not be read');
  }
  if (crl.signature.algorithmId !== crl.signatureAlgorithm.algorithmId) throw new SourceFailure('the CRL names two different signature algorithms');
  const scope = { onlyUser: false, onlyCa: false };
  for (const ext of crl.crlExtensions?.extensions ?? []) {
    if (ext.extnID === DELTA_CRL_INDICATOR) throw new SourceFailure('delta CRLs are not supported');
    if (ext.extnID === ISSUING_DISTRIBUTION_POINT) {
      const idp = ext.parsedValue;
      if (!(idp instanceof pkijs.IssuingDistributionPoint)) throw new SourceFailure('unreadable issuingDistributionPoint');
      if (idp.indirectCRL || idp.onlyContainsAttributeCerts || idp.onlySomeReasons !== undefined) {
        throw new SourceFailure('partitioned or indirect CRLs are not supported');
      }
      scope.onlyUser = idp.onlyContainsUserCerts;
      scope.onlyCa = idp.onlyContainsCACerts;
      continue;
    }
    if (ext.critical && ext.extnID !== CRL_NUMBER) throw new SourceFailure(`unsupported critical CRL extension ${ext.extnID}`);
  }
  const revoked = new Map<string, { at: Date; reason?: string }>();
  for (const entry of crl.revokedCertificates ?? []) {
    const exts = entry.crlEntryExtensions?.extensions;
    if (exts?.some((e) => e.extnID === CERTIFICATE_ISSUER)) throw new SourceFailure('indirect CRL entries are not supported');
    const critical = exts?.find((e) => e.critical && e.extnID !== CRL_REASON);
    if (critical) throw new SourceFailure(`unsupported critical CRL entry extension ${critical.extnID}`);
    revoked.set(normalizeSerialHex(entry.userCertificate.valueBlock.valueHexView), { at: entry.revocationDate.value, reason: reasonOf(exts) });
  }
  return {
    url,
    issuerDer: bytesOf(crl.issuer.toSchema().toBER()),
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value,
    revoked,
    scope,
    signatureAlgorithm: crl.signatureAlgorithm,
    tbs: bytesOf(crl.tbsView),
    signature: bytesOf(crl.signatureValue.valueBlock.valueHexView),
    verifiedBy: new Set(),
    fetchedAt: 0,
  };
}
