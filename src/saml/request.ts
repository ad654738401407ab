import { createHash, type KeyObject } from 'node:crypto';
import { SignedXml, type HashAlgorithm as XmlDsigHash, type SignatureAlgorithm as XmlDsigAlgorithm } from 'xml-crypto';
import { PasarelaError } from '../errors';
import type { ServiceProvider, TrustRegistry } from '../trust/types';
import { digestHash, inboundSignatureAlgorithm, keyFits, verifySignature, type SignatureAlgorithm } from './algorithms';
import { decodePost, decodeRedirect, type BindingLimits, type DecodedPost, type DecodedRedirect, type RedirectSignature } from './bindings';
import {
  BINDING,
  CLAVE,
  NAMEID_FORMAT,
  NS,
  RELEASABLE_ATTRIBUTES,
  SIG_ALG,
  STATUS,
  type Comparison,
  type LoaUri,
  type NameIdFormatName,
} from './constants';
import { isKnownLoa, levelUri, satisfiableWithin } from './loa';
import type { AcsEndpoint, AuthnRequest, MethodId, RequestedAttribute, SamlRequestFailure } from './types';
import { childElements, isElement, parseXml, textOf } from './xml';

/**
 * Intake of an SP's AuthnRequest: binding decode, one parse, a structural allow-list on the
 * parsed DOM (no schema validator per call), trust lookup, signature verification against the
 * SP's metadata keys only, ACS selection, then the checks whose failures may be answered with
 * a SAML error Response because the SP and the ACS are trusted.
 *
 * For a signed HTTP-POST request every value is read from the node xml-crypto returns from
 * `getSignedReferences()` (re-parsed with our one parser), never from the received document.
 */

export type InboundAuthnRequestMessage = { binding: 'redirect'; rawQuery: string } | { binding: 'post'; form: Record<string, unknown> };

export interface ReceiveAuthnRequestOptions {
  trust: Pick<TrustRegistry, 'get'>;
  /** Replay cache: true when the key was stored by this call (first sighting), as `store.setIfAbsent`. */
  replay: (key: string, ttlMs: number) => Promise<boolean>;
  now: Date;
  clockSkewSeconds: number;
  maxRequestAgeSeconds: number;
  /** Our SSO endpoint per binding; an AuthnRequest's Destination must equal the one it arrived at. */
  ssoUrls: { redirect: string; post: string };
  limits?: BindingLimits;
}

export type ReceiveAuthnRequestResult =
  | { ok: true; request: AuthnRequest; sp: ServiceProvider }
  | { ok: false; failure: SamlRequestFailure };

/** The Cl@ve 2 IdP-selector attributes: presence excludes the method. */
export const CLAVE_EXCLUSION_ATTRIBUTES: Readonly<Record<string, MethodId>> = {
  [CLAVE.afirmaIdP]: 'certificate',
  [CLAVE.gissIdP]: 'permanente',
  [CLAVE.aeatIdP]: 'pin',
  [CLAVE.eidasIdP]: 'eidas',
  [CLAVE.clvMovilIdP]: 'movil',
};

/** Attributes the broker can release at all (before the SP policy narrows them). */
export const SUPPORTED_ATTRIBUTES = RELEASABLE_ATTRIBUTES;

const DSIG_ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const MAX_ID_LENGTH = 256;
/**
 * Caps on the free text a request carries into the login transaction (kept in the store for
 * its whole life): without them one request parks up to 256 KiB there (issue: 1,000 requests
 * with a 240 KiB ProviderName held 520 MiB for 30 minutes).
 */
export const REQUEST_TEXT_LIMITS = {
  /** Cl@ve ProviderName is "<sp code>;<application>", e.g. "s0711001h_a04013511;MiApp". */
  providerName: 256,
  /** Our trust list stores entityIDs up to 1024 characters. */
  issuer: 1024,
  requestedAttributes: 32,
  attributeName: 256,
  friendlyName: 128,
  valuesPerAttribute: 4,
  attributeValue: 256,
} as const;
/** Failure messages echo parts of the request; an error page never carries more than this. */
const MAX_MESSAGE_LENGTH = 1000;

function tooLong(what: string, max: number, actual: number): PasarelaError {
  return new PasarelaError('ERR_REQUEST_TOO_LONG', `${what} is ${actual} characters long; at most ${max} are accepted.`);
}

export async function receiveAuthnRequest(
  msg: InboundAuthnRequestMessage,
  opts: ReceiveAuthnRequestOptions,
): Promise<ReceiveAuthnRequestResult> {
  // Stage 1: nothing is trusted yet. Failures here go to an error page, never to the SP.
  let decoded: DecodedRedirect | DecodedPost;
  let sp: ServiceProvider;
  let parsed: ParsedAuthnRequest;
  let acs: AcsEndpoint;
  try {
    decoded = msg.binding === 'redirect' ? decodeRedirect(msg.rawQuery, opts.limits) : decodePost(msg.form, opts.limits);
    const doc = parseXml(decoded.xml, { maxBytes: opts.limits?.maxXmlBytes });
    const root = doc.documentElement;
    if (!isElement(root, NS.samlp, 'AuthnRequest')) {
      throw new PasarelaError(
        'ERR_REQUEST_NOT_AUTHNREQUEST',
        `Root element is ${describe(root)}; expected AuthnRequest in namespace ${NS.samlp}.`,
      );
    }
    const signatures = scanDocument(root);
    const issuer = readIssuerForLookup(root);
    const found = opts.trust.get(issuer);
    if (!found) {
      throw new PasarelaError(
        'ERR_REQUEST_UNKNOWN_SP',
        `Issuer "${issuer}" is not a registered service provider; ask the operator to add its metadata to the trust list.`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
    sp = found;
    const signatureRequired = sp.policy.requireSignedRequests || sp.authnRequestsSigned;
    let dataRoot: Element = root;
    if (decoded.binding === 'redirect') {
      if (signatures.length > 0) {
        throw new PasarelaError(
          'ERR_REQUEST_REDIRECT_ENVELOPED_SIGNATURE',
          'An HTTP-Redirect AuthnRequest must not contain a ds:Signature; sign the query string (SigAlg and Signature parameters) instead.',
        );
      }
      if (decoded.signature) verifyRedirectSignature(decoded.signature, sp);
      else if (signatureRequired) throw unsigned(sp, 'redirect');
    } else {
      if (signatures.length > 1) {
        throw new PasarelaError(
          'ERR_REQUEST_SIGNATURE_COUNT',
          `AuthnRequest contains ${signatures.length} ds:Signature elements; exactly one enveloped signature over the AuthnRequest is accepted.`,
        );
      }
      const signature = signatures[0];
      if (signature) dataRoot = verifyPostSignature(decoded.xml, root, signature, sp, opts.limits?.maxXmlBytes);
      else if (signatureRequired) throw unsigned(sp, 'post');
    }
    parsed = readAuthnRequest(dataRoot);
    if (parsed.issuer !== issuer) {
      // Cannot happen with an enveloped signature over the root; kept as a tripwire.
      throw new PasarelaError('ERR_REQUEST_SIGNED_ISSUER_MISMATCH', 'The signed AuthnRequest names a different Issuer than the received one.');
    }
    acs = selectAcs(sp.acs, parsed);
  } catch (err) {
    if (err instanceof PasarelaError) return { ok: false, failure: toFailure(err) };
    throw err;
  }

  // Stage 2: the SP is trusted and the ACS is one of its metadata endpoints: failures may be answered there.
  const respondTo: NonNullable<SamlRequestFailure['respondTo']> = {
    spEntityId: sp.entityId,
    acs,
    inResponseTo: parsed.id,
    ...(decoded.relayState !== undefined ? { relayState: decoded.relayState } : {}),
  };
  try {
    const request = checkTrustedRequest(parsed, decoded, sp, acs, opts);
    // Replay last: a request refused for another reason must not burn its ID.
    const ttlMs = (opts.maxRequestAgeSeconds + 2 * opts.clockSkewSeconds) * 1000;
    const first = await opts.replay(`req:${parsed.issuer}:${parsed.id}`, ttlMs);
    if (!first) {
      throw new PasarelaError(
        'ERR_REQUEST_REPLAY',
        `AuthnRequest ID "${parsed.id}" was already received; every AuthnRequest needs a fresh ID.`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
    return { ok: true, request, sp };
  } catch (err) {
    if (err instanceof PasarelaError) return { ok: false, failure: { ...toFailure(err), respondTo } };
    throw err;
  }
}

function toFailure(err: PasarelaError): SamlRequestFailure {
  return {
    code: err.code,
    message: err.message.length > MAX_MESSAGE_LENGTH ? `${err.message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : err.message,
    status: err.options.status ?? STATUS.requester,
    ...(err.options.subStatus !== undefined ? { subStatus: err.options.subStatus } : {}),
  };
}

function unsigned(sp: ServiceProvider, binding: 'redirect' | 'post'): PasarelaError {
  const how =
    binding === 'redirect'
      ? 'sign the query string (SigAlg and Signature parameters, SAML bindings §3.4.4.1)'
      : 'include an enveloped ds:Signature right after saml:Issuer';
  return new PasarelaError(
    'ERR_REQUEST_UNSIGNED',
    `AuthnRequests from "${sp.entityId}" must be signed (${sp.authnRequestsSigned ? 'AuthnRequestsSigned="true" in its metadata' : 'operator policy'}); ${how}.`,
    { status: STATUS.requester, subStatus: STATUS.requestDenied },
  );
}

// ---------------------------------------------------------------------------------------------
// Document scan: duplicate IDs, nested requests, where XML-DSig elements sit.

/** One walk over the whole document. Returns the top-level ds:Signature elements (any depth). */
function scanDocument(root: Element): Element[] {
  const ids = new Set<string>();
  const signatures: Element[] = [];
  const stack: Element[] = [root];
  while (stack.length > 0) {
    const el = stack.pop()!;
    const attrs = el.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs.item(i)!;
      // xml-crypto resolves References through any attribute named ID / Id / id, whatever its namespace.
      if (a.localName === 'ID' || a.localName === 'Id' || a.localName === 'id') {
        if (ids.has(a.value)) {
          throw new PasarelaError(
            'ERR_REQUEST_DUPLICATE_ID',
            `The ID value "${a.value}" appears on more than one element; ID values must be unique in the document.`,
          );
        }
        ids.add(a.value);
      }
    }
    if (el !== root && isElement(el, NS.samlp, 'AuthnRequest')) {
      throw new PasarelaError('ERR_REQUEST_NESTED', 'An AuthnRequest must not contain another AuthnRequest.');
    }
    if (el.namespaceURI === NS.ds) {
      const parent = el.parentNode as Element | null;
      if (!parent || parent.namespaceURI !== NS.ds) {
        if (el.localName !== 'Signature') {
          throw new PasarelaError('ERR_REQUEST_SIGNATURE_STRUCTURE', `XML-DSig element ds:${el.localName} found outside a ds:Signature.`);
        }
        signatures.push(el);
      }
    }
    for (let c = el.lastChild; c; c = c.previousSibling) if (c.nodeType === 1) stack.push(c as Element);
  }
  // Document order for messages and placement checks.
  return signatures.reverse();
}

function readIssuerForLookup(root: Element): string {
  const first = childElements(root)[0];
  if (!first || !isElement(first, NS.saml, 'Issuer')) {
    throw new PasarelaError(
      'ERR_REQUEST_ISSUER_MISSING',
      'AuthnRequest has no saml:Issuer as its first child element; it must carry the SP entityID (SAML profiles §4.1.4.1).',
    );
  }
  const issuer = textOf(first).trim();
  if (issuer === '') throw new PasarelaError('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest saml:Issuer is empty; it must carry the SP entityID.');
  if (issuer.length > REQUEST_TEXT_LIMITS.issuer) throw tooLong('saml:Issuer', REQUEST_TEXT_LIMITS.issuer, issuer.length);
  return issuer;
}

// ---------------------------------------------------------------------------------------------
// HTTP-Redirect signature.

function allowedAlgorithms(allowSha1: boolean): string {
  return Object.values(SIG_ALG)
    .filter((u) => inboundSignatureAlgorithm(u, allowSha1))
    .join(', ');
}

function algorithmRefusal(uri: string, allowSha1: boolean, what: string, code: string): PasarelaError {
  const reason = /hmac/i.test(uri)
    ? 'HMAC signatures are never accepted'
    : /sha1$/i.test(uri)
      ? 'SHA-1 is refused unless the operator enables allowSha1 for this SP'
      : 'it is not on the allow-list';
  return new PasarelaError(code, `${what} "${uri}" is not accepted (${reason}). Accepted: ${allowedAlgorithms(allowSha1)}.`);
}

function signingKeysFor(alg: SignatureAlgorithm, sp: ServiceProvider): KeyObject[] {
  if (sp.signingKeys.length === 0) {
    throw new PasarelaError(
      'ERR_REQUEST_NO_SIGNING_KEY',
      `The metadata of "${sp.entityId}" has no signing certificate, so its signed AuthnRequests cannot be verified; publish a KeyDescriptor use="signing".`,
    );
  }
  const keys = sp.signingKeys.filter((k) => keyFits(alg, k));
  if (keys.length === 0) {
    throw new PasarelaError(
      'ERR_REQUEST_NO_SIGNING_KEY',
      `No signing key in the metadata of "${sp.entityId}" fits ${alg.uri} (${alg.keyType === 'ec' ? 'an EC' : 'an RSA'} key is needed).`,
    );
  }
  return keys;
}

function verifyRedirectSignature(sig: RedirectSignature, sp: ServiceProvider): void {
  const alg = inboundSignatureAlgorithm(sig.sigAlg, sp.policy.allowSha1);
  if (!alg) throw algorithmRefusal(sig.sigAlg, sp.policy.allowSha1, 'SigAlg', 'ERR_REQUEST_SIGALG');
  const keys = signingKeysFor(alg, sp);
  if (!keys.some((k) => verifySignature(alg, sig.signedOctets, k, sig.value))) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_INVALID',
      'The HTTP-Redirect signature does not verify with any signing key in the SP metadata. It must be computed over the query octets ' +
        '"SAMLRequest=<value>&RelayState=<value>&SigAlg=<value>" exactly as sent (URL-encoded, RelayState only when present).',
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP-POST enveloped signature.

function sigStructure(message: string): PasarelaError {
  return new PasarelaError('ERR_REQUEST_SIGNATURE_STRUCTURE', message);
}

/** Element children of an XML-DSig element, refusing text other than whitespace. */
function dsChildren(el: Element): Element[] {
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if ((c.nodeType === 3 || c.nodeType === 4) && (c as CharacterData).data.trim() !== '') {
      throw sigStructure(`ds:${el.localName} must not contain text.`);
    }
  }
  return childElements(el);
}

function expectDs(el: Element | undefined, localName: string, parent: string): Element {
  if (!el || !isElement(el, NS.ds, localName)) {
    throw sigStructure(`ds:${parent} must contain ds:${localName} ${el ? `where ${describe(el)} was found` : 'but it is missing'}.`);
  }
  return el;
}

function onlyAttributes(el: Element, allowed: readonly string[], code: string): void {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    if (a.namespaceURI === XMLNS_NS) continue;
    if (a.namespaceURI || !allowed.includes(a.localName ?? a.name)) {
      throw new PasarelaError(
        code,
        `Attribute ${a.name} is not allowed on ${describe(el)}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      );
    }
  }
}

function algorithmOf(el: Element): string {
  onlyAttributes(el, ['Algorithm'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const alg = el.getAttribute('Algorithm');
  if (!alg) throw sigStructure(`ds:${el.localName} has no Algorithm attribute.`);
  return alg;
}

/** ds:Transform / ds:CanonicalizationMethod for exc-c14n: only ec:InclusiveNamespaces inside. */
function checkExcC14nChildren(el: Element): void {
  for (const c of dsChildren(el)) {
    if (!isElement(c, NS.exc14n, 'InclusiveNamespaces')) throw sigStructure(`${describe(c)} is not allowed inside ds:${el.localName}.`);
    onlyAttributes(c, ['PrefixList'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
    if (childElements(c).length > 0) throw sigStructure('ec:InclusiveNamespaces must be empty.');
  }
}

function base64Value(el: Element, what: string): Buffer {
  let text: string;
  try {
    text = textOf(el);
  } catch {
    // CVE-2025-29775: a comment inside DigestValue let xml-crypto read only part of it.
    throw new PasarelaError('ERR_REQUEST_SIGNATURE_VALUE_FORMAT', `${what} must contain base64 text only (no comments or elements).`);
  }
  const compact = text.replace(/[ \t\r\n]/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new PasarelaError('ERR_REQUEST_SIGNATURE_VALUE_FORMAT', `${what} is not valid base64.`);
  }
  return Buffer.from(compact, 'base64');
}

const HASH_BYTES = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const;

interface CheckedSignature {
  alg: SignatureAlgorithm;
  digestUri: string;
  hash: keyof typeof HASH_BYTES;
}

/** Allow-list of the whole ds:Signature before xml-crypto sees it (CVE-2025-29774/29775 classes). */
function checkSignatureStructure(sig: Element, rootId: string, allowSha1: boolean): CheckedSignature {
  onlyAttributes(sig, ['Id'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const parts = dsChildren(sig);
  const signedInfos = parts.filter((p) => isElement(p, NS.ds, 'SignedInfo'));
  if (signedInfos.length !== 1) throw sigStructure(`ds:Signature must contain exactly one ds:SignedInfo (found ${signedInfos.length}).`);
  const signedInfo = expectDs(parts[0], 'SignedInfo', 'Signature');
  const signatureValue = expectDs(parts[1], 'SignatureValue', 'Signature');
  onlyAttributes(signatureValue, ['Id'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  for (const extra of parts.slice(2)) {
    if (isElement(extra, NS.ds, 'KeyInfo') && extra === parts[2]) continue; // its content is never trusted nor read
    if (isElement(extra, NS.ds, 'Object')) throw sigStructure('ds:Object is not accepted in an AuthnRequest signature.');
    throw sigStructure(`${describe(extra)} is not allowed in ds:Signature (expected SignedInfo, SignatureValue, optional KeyInfo).`);
  }

  onlyAttributes(signedInfo, ['Id'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const si = dsChildren(signedInfo);
  const c14n = expectDs(si[0], 'CanonicalizationMethod', 'SignedInfo');
  const c14nAlg = algorithmOf(c14n);
  if (c14nAlg !== NS.exc14n) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_C14N',
      `CanonicalizationMethod "${c14nAlg}" is not accepted; use exclusive canonicalization ${NS.exc14n}.`,
    );
  }
  checkExcC14nChildren(c14n);
  const method = expectDs(si[1], 'SignatureMethod', 'SignedInfo');
  const methodUri = algorithmOf(method);
  const alg = inboundSignatureAlgorithm(methodUri, allowSha1);
  if (!alg) throw algorithmRefusal(methodUri, allowSha1, 'SignatureMethod', 'ERR_REQUEST_SIGNATURE_ALGORITHM');
  if (dsChildren(method).length > 0) throw sigStructure('ds:SignatureMethod must be empty.');
  const references = si.slice(2);
  if (references.length !== 1 || !isElement(references[0]!, NS.ds, 'Reference')) {
    throw sigStructure(`ds:SignedInfo must contain exactly one ds:Reference after SignatureMethod (found ${references.length} elements).`);
  }
  const reference = references[0]!;
  onlyAttributes(reference, ['URI', 'Id', 'Type'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const uri = reference.getAttribute('URI');
  if (uri !== `#${rootId}`) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_REFERENCE',
      `ds:Reference URI is "${uri ?? ''}"; it must be "#${rootId}", the ID of the AuthnRequest itself.`,
    );
  }
  const ref = dsChildren(reference);
  const transforms = expectDs(ref[0], 'Transforms', 'Reference');
  onlyAttributes(transforms, [], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const ts = dsChildren(transforms);
  const tAlgs = ts.map((t) => (isElement(t, NS.ds, 'Transform') ? algorithmOf(t) : ''));
  if (ts.length !== 2 || tAlgs[0] !== DSIG_ENVELOPED || tAlgs[1] !== NS.exc14n) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_TRANSFORMS',
      `ds:Transforms must be exactly enveloped-signature then exclusive c14n (${DSIG_ENVELOPED}, ${NS.exc14n}); found [${tAlgs.join(', ')}].`,
    );
  }
  if (dsChildren(ts[0]!).length > 0) throw sigStructure('The enveloped-signature ds:Transform must be empty.');
  checkExcC14nChildren(ts[1]!);
  const digestMethod = expectDs(ref[1], 'DigestMethod', 'Reference');
  const digestUri = algorithmOf(digestMethod);
  const hash = digestHash(digestUri, allowSha1);
  if (!hash) {
    throw new PasarelaError(
      'ERR_REQUEST_DIGEST_ALGORITHM',
      `DigestMethod "${digestUri}" is not accepted; use SHA-256, SHA-384 or SHA-512${allowSha1 ? ' (or SHA-1, enabled for this SP)' : ''}.`,
    );
  }
  if (dsChildren(digestMethod).length > 0) throw sigStructure('ds:DigestMethod must be empty.');
  const digestValue = expectDs(ref[2], 'DigestValue', 'Reference');
  if (ref.length !== 3) throw sigStructure('ds:Reference must contain exactly Transforms, DigestMethod and DigestValue.');
  onlyAttributes(digestValue, [], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  if (base64Value(digestValue, 'ds:DigestValue').length !== HASH_BYTES[hash]) {
    throw new PasarelaError('ERR_REQUEST_SIGNATURE_VALUE_FORMAT', `ds:DigestValue is not a ${hash} digest (wrong length).`);
  }
  base64Value(signatureValue, 'ds:SignatureValue');
  return { alg, digestUri, hash };
}

/** Verification-only XML-DSig algorithm over the SP's cached metadata KeyObjects (node:crypto.verify). */
function verifierFor(alg: SignatureAlgorithm, keys: readonly KeyObject[]): new () => XmlDsigAlgorithm {
  return class MetadataKeyVerifier implements XmlDsigAlgorithm {
    getSignature(): string {
      throw new Error('verification only');
    }
    verifySignature(material: string, _key: unknown, signatureValue: string): boolean {
      const signature = Buffer.from(signatureValue, 'base64');
      return keys.some((k) => verifySignature(alg, material, k, signature));
    }
    getAlgorithmName(): string {
      return alg.uri;
    }
  };
}

function hashFor(uri: string, hash: keyof typeof HASH_BYTES): new () => XmlDsigHash {
  return class AllowedDigest implements XmlDsigHash {
    getHash(xml: string): string {
      return createHash(hash).update(xml, 'utf8').digest('base64');
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

/** Verify the enveloped signature and return the signed AuthnRequest, re-parsed from what the signature covers. */
function verifyPostSignature(xml: string, root: Element, sig: Element, sp: ServiceProvider, maxXmlBytes = 256 * 1024): Element {
  const kids = childElements(root);
  if (sig.parentNode !== root || kids[1] !== sig || !kids[0] || !isElement(kids[0], NS.saml, 'Issuer')) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_PLACEMENT',
      'ds:Signature must be a direct child of the AuthnRequest placed right after saml:Issuer (SAML core §5.4.1).',
    );
  }
  const rootId = root.getAttribute('ID');
  if (!rootId) throw new PasarelaError('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no ID attribute.');
  const checked = checkSignatureStructure(sig, rootId, sp.policy.allowSha1);
  const keys = signingKeysFor(checked.alg, sp);

  // KeyInfo is never consulted: getCertFromKeyInfo stays xml-crypto's noop default; only metadata keys verify.
  const sx = new SignedXml({ publicCert: keys[0] });
  // Resolve the Reference through `ID` only: one whole-document XPath instead of three (ID, Id, id).
  // Uniqueness of all three spellings was already enforced by scanDocument.
  sx.idAttributes = ['ID'];
  const defaults = sx.CanonicalizationAlgorithms;
  sx.CanonicalizationAlgorithms = { [NS.exc14n]: defaults[NS.exc14n]!, [DSIG_ENVELOPED]: defaults[DSIG_ENVELOPED]! };
  sx.HashAlgorithms = { [checked.digestUri]: hashFor(checked.digestUri, checked.hash) };
  sx.SignatureAlgorithms = { [checked.alg.uri]: verifierFor(checked.alg, keys) };
  let valid: boolean;
  try {
    sx.loadSignature(sig);
    valid = sx.checkSignature(xml);
  } catch (err) {
    const detail = (err as Error).message ?? '';
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_INVALID',
      detail.startsWith('invalid signature: the signature value')
        ? 'ds:SignatureValue does not verify with any signing key in the SP metadata (a certificate in KeyInfo is never trusted by itself).'
        : `The enveloped signature could not be verified: ${detail.split('\n')[0]}`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
  if (!valid) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_INVALID',
      'ds:DigestValue does not match the AuthnRequest: the request was changed after it was signed, or was canonicalized differently (exclusive c14n, enveloped-signature).',
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
  const signed = sx.getSignedReferences();
  if (signed.length !== 1) throw sigStructure('The signature must cover exactly one reference, the AuthnRequest.');
  // node-saml getVerifiedXml: from here on only the bytes the signature covers are read, with our one parser.
  // Canonical form expands empty elements and entities, hence the headroom over the inbound cap.
  const signedRoot = parseXml(signed[0]!, { maxBytes: 2 * maxXmlBytes }).documentElement;
  if (!isElement(signedRoot, NS.samlp, 'AuthnRequest') || signedRoot.getAttribute('ID') !== rootId) {
    throw sigStructure('The signed reference is not the AuthnRequest itself.');
  }
  return signedRoot;
}

// ---------------------------------------------------------------------------------------------
// Structural allow-list and extraction (one walk over the request's known children).

interface ParsedAuthnRequest {
  id: string;
  issuer: string;
  issueInstant: Date;
  destination?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  protocolBinding?: string;
  acsUrl?: string;
  acsIndex?: number;
  providerName?: string;
  nameIdPolicy?: { format?: string; spNameQualifier?: string; allowCreate: boolean };
  authnContext?: { comparison: Comparison; classRefs: string[] };
  spType?: 'public' | 'private';
  /** The request carried eidas:SPType or eidas:RequestedAttributes (it speaks the eIDAS profile). */
  eidasExtensions: boolean;
  attributes: RequestedAttribute[];
  /** Refusals that are answered to the SP once it and its ACS are known (VersionMismatch, RequestUnsupported). */
  deferred: PasarelaError[];
}

const ROOT_ATTRIBUTES = [
  'ID',
  'Version',
  'IssueInstant',
  'Destination',
  'Consent',
  'ForceAuthn',
  'IsPassive',
  'ProtocolBinding',
  'AssertionConsumerServiceURL',
  'AssertionConsumerServiceIndex',
  'AttributeConsumingServiceIndex',
  'ProviderName',
] as const;

/** Schema order of AuthnRequest children; each at most once. */
const CHILD_ORDER: ReadonlyArray<{ ns: string; name: string; label: string }> = [
  { ns: NS.saml, name: 'Issuer', label: 'saml:Issuer' },
  { ns: NS.ds, name: 'Signature', label: 'ds:Signature' },
  { ns: NS.samlp, name: 'Extensions', label: 'samlp:Extensions' },
  { ns: NS.saml, name: 'Subject', label: 'saml:Subject' },
  { ns: NS.samlp, name: 'NameIDPolicy', label: 'samlp:NameIDPolicy' },
  { ns: NS.saml, name: 'Conditions', label: 'saml:Conditions' },
  { ns: NS.samlp, name: 'RequestedAuthnContext', label: 'samlp:RequestedAuthnContext' },
  { ns: NS.samlp, name: 'Scoping', label: 'samlp:Scoping' },
];

function structure(code: string, message: string): PasarelaError {
  return new PasarelaError(code, message);
}

function describe(el: Element): string {
  const prefix =
    el.namespaceURI === NS.samlp
      ? 'samlp:'
      : el.namespaceURI === NS.saml
        ? 'saml:'
        : el.namespaceURI === NS.ds
          ? 'ds:'
          : el.namespaceURI === NS.eidas
            ? 'eidas:'
            : el.namespaceURI
              ? `{${el.namespaceURI}}`
              : '';
  return `<${prefix}${el.localName}>`;
}

/** Element children; text other than whitespace is refused (no mixed content in SAML structures). */
function structuralChildren(el: Element): Element[] {
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if ((c.nodeType === 3 || c.nodeType === 4) && (c as CharacterData).data.trim() !== '') {
      throw structure('ERR_REQUEST_TEXT', `${describe(el)} must not contain text outside its child elements.`);
    }
  }
  return childElements(el);
}

function attributesOf(el: Element, allowed: readonly string[], extraNs?: { ns: string; names: readonly string[] }): Map<string, string> {
  const out = new Map<string, string>();
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs.item(i)!;
    if (a.namespaceURI === XMLNS_NS) continue;
    const local = a.localName ?? a.name;
    if (!a.namespaceURI && allowed.includes(local)) out.set(local, a.value);
    else if (extraNs && a.namespaceURI === extraNs.ns && extraNs.names.includes(local)) continue;
    else {
      throw structure(
        'ERR_REQUEST_ATTRIBUTE',
        `Attribute ${a.name} is not allowed on ${describe(el)}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      );
    }
  }
  return out;
}

function xsBoolean(value: string | undefined, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  switch (value.trim()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw structure('ERR_REQUEST_BOOLEAN', `${what} is "${value}"; an xs:boolean is true, false, 1 or 0.`);
  }
}

function unsignedShort(value: string, what: string): number {
  const v = value.trim();
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
    throw structure('ERR_REQUEST_UNSIGNED_SHORT', `${what} is "${value}"; expected an integer from 0 to 65535.`);
  }
  return Number(v);
}

const NCNAME = /^[\p{L}_][\p{L}\p{N}\p{M}._\u00B7-]*$/u;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

/** xs:dateTime in UTC ('Z'), as SAML core §1.3.3 requires. */
export function parseSamlInstant(value: string): Date | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const date = new Date(t);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return date;
}

function readAuthnRequest(root: Element): ParsedAuthnRequest {
  const deferred: PasarelaError[] = [];
  const a = attributesOf(root, ROOT_ATTRIBUTES);
  const id = a.get('ID');
  if (id === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no ID attribute.');
  if (!NCNAME.test(id) || id.length > MAX_ID_LENGTH) {
    throw structure('ERR_REQUEST_ID', `AuthnRequest ID "${id.slice(0, 80)}" is not an xs:ID (an XML NCName of at most ${MAX_ID_LENGTH} characters, e.g. "_" + random hex).`);
  }
  const version = a.get('Version');
  if (version === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no Version attribute; it must be "2.0".');
  if (version !== '2.0') {
    deferred.push(
      new PasarelaError('ERR_REQUEST_VERSION', `AuthnRequest Version is "${version}"; only SAML "2.0" is supported.`, {
        status: STATUS.versionMismatch,
      }),
    );
  }
  const instant = a.get('IssueInstant');
  if (instant === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no IssueInstant attribute.');
  const issueInstant = parseSamlInstant(instant);
  if (!issueInstant) {
    throw structure('ERR_REQUEST_ISSUE_INSTANT_FORMAT', `IssueInstant "${instant}" is not an xs:dateTime in UTC such as 2025-01-01T10:00:00Z.`);
  }
  const providerName = a.get('ProviderName');
  if (providerName !== undefined && providerName.length > REQUEST_TEXT_LIMITS.providerName) {
    throw tooLong('ProviderName', REQUEST_TEXT_LIMITS.providerName, providerName.length);
  }
  const acsIndexRaw = a.get('AssertionConsumerServiceIndex');
  const acsIndex = acsIndexRaw === undefined ? undefined : unsignedShort(acsIndexRaw, 'AssertionConsumerServiceIndex');
  const attrConsumingIndex = a.get('AttributeConsumingServiceIndex');
  if (attrConsumingIndex !== undefined) unsignedShort(attrConsumingIndex, 'AttributeConsumingServiceIndex');

  const parsed: ParsedAuthnRequest = {
    id,
    issuer: '',
    issueInstant,
    destination: a.get('Destination'),
    forceAuthn: xsBoolean(a.get('ForceAuthn'), 'ForceAuthn', false),
    isPassive: xsBoolean(a.get('IsPassive'), 'IsPassive', false),
    protocolBinding: a.get('ProtocolBinding'),
    acsUrl: a.get('AssertionConsumerServiceURL'),
    acsIndex,
    providerName,
    eidasExtensions: false,
    attributes: [],
    deferred,
  };

  let last = -1;
  for (const child of structuralChildren(root)) {
    const slot = CHILD_ORDER.findIndex((c) => isElement(child, c.ns, c.name));
    if (slot === -1) {
      throw structure(
        'ERR_REQUEST_ELEMENT',
        `${describe(child)} is not allowed in an AuthnRequest; expected, in this order: ${CHILD_ORDER.map((c) => c.label).join(', ')}.`,
      );
    }
    if (slot === last) throw structure('ERR_REQUEST_ELEMENT_ORDER', `AuthnRequest contains more than one ${CHILD_ORDER[slot]!.label}.`);
    if (slot < last) {
      throw structure('ERR_REQUEST_ELEMENT_ORDER', `${CHILD_ORDER[slot]!.label} must come before ${CHILD_ORDER[last]!.label} (schema order).`);
    }
    last = slot;
    switch (child.localName) {
      case 'Issuer':
        parsed.issuer = readIssuer(child);
        break;
      case 'Signature':
        break; // verified (POST) or refused (Redirect) before this walk
      case 'Extensions':
        readExtensions(child, parsed);
        break;
      case 'Subject':
        deferred.push(
          new PasarelaError('ERR_REQUEST_SUBJECT', 'AuthnRequest carries a saml:Subject; requesting a specific subject is not supported.', {
            status: STATUS.requester,
            subStatus: STATUS.requestUnsupported,
          }),
        );
        break;
      case 'NameIDPolicy': {
        const p = attributesOf(child, ['Format', 'SPNameQualifier', 'AllowCreate']);
        if (structuralChildren(child).length > 0) throw structure('ERR_REQUEST_ELEMENT', 'samlp:NameIDPolicy must be empty.');
        parsed.nameIdPolicy = {
          format: p.get('Format')?.trim(),
          spNameQualifier: p.get('SPNameQualifier'),
          allowCreate: xsBoolean(p.get('AllowCreate'), 'NameIDPolicy AllowCreate', false),
        };
        break;
      }
      case 'Conditions':
      case 'Scoping':
        // Accepted and not acted upon: no assertion conditions are taken from requests, and we do not proxy by IDPList.
        break;
      case 'RequestedAuthnContext':
        readRequestedAuthnContext(child, parsed);
        break;
    }
  }
  if (!parsed.issuer) {
    throw structure('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest has no saml:Issuer; it must carry the SP entityID (SAML profiles §4.1.4.1).');
  }
  return parsed;
}

function readIssuer(el: Element): string {
  const a = attributesOf(el, ['Format', 'NameQualifier', 'SPNameQualifier', 'SPProvidedID']);
  const format = a.get('Format');
  if (format !== undefined && format !== NAMEID_FORMAT.entity) {
    throw structure('ERR_REQUEST_ISSUER_FORMAT', `saml:Issuer Format is "${format}"; it must be omitted or ${NAMEID_FORMAT.entity}.`);
  }
  const value = textOf(el).trim();
  if (value === '') throw structure('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest saml:Issuer is empty; it must carry the SP entityID.');
  return value;
}

function readExtensions(el: Element, parsed: ParsedAuthnRequest): void {
  attributesOf(el, []);
  let sawSpType = false;
  let sawAttributes = false;
  for (const ext of structuralChildren(el)) {
    const ns = ext.namespaceURI;
    if (ns === NS.eidas && ext.localName === 'SPType') {
      if (sawSpType) throw structure('ERR_REQUEST_EXTENSIONS', 'samlp:Extensions contains more than one eidas:SPType.');
      sawSpType = true;
      attributesOf(ext, []);
      const v = textOf(ext).trim();
      if (v !== 'public' && v !== 'private') throw structure('ERR_REQUEST_SPTYPE', `eidas:SPType is "${v}"; expected "public" or "private".`);
      parsed.spType = v;
      parsed.eidasExtensions = true;
    } else if (ns === NS.eidas && ext.localName === 'RequestedAttributes') {
      if (sawAttributes) throw structure('ERR_REQUEST_EXTENSIONS', 'samlp:Extensions contains more than one eidas:RequestedAttributes.');
      sawAttributes = true;
      parsed.eidasExtensions = true;
      attributesOf(ext, []);
      readRequestedAttributes(ext, parsed);
    } else if (ns === NS.samlp || ns === NS.saml || ns === NS.ds || ns === NS.eidas || !ns) {
      // SAML, XML-DSig and unknown eIDAS elements have no business here (XSW: a signed copy parked in Extensions).
      throw structure(
        'ERR_REQUEST_EXTENSIONS',
        `${describe(ext)} is not accepted in samlp:Extensions; allowed are eidas:SPType, eidas:RequestedAttributes and elements of other namespaces.`,
      );
    }
    // Elements of other namespaces are ignored (SAML core §3.2.1: Extensions are for non-SAML content).
  }
}

function readRequestedAttributes(el: Element, parsed: ParsedAuthnRequest): void {
  const seen = new Set<string>();
  const L = REQUEST_TEXT_LIMITS;
  const children = structuralChildren(el);
  if (children.length > L.requestedAttributes) {
    throw structure('ERR_REQUEST_TOO_LONG', `eidas:RequestedAttributes lists ${children.length} attributes; at most ${L.requestedAttributes} are accepted.`);
  }
  for (const ra of children) {
    if (!isElement(ra, NS.eidas, 'RequestedAttribute')) {
      throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `${describe(ra)} is not allowed in eidas:RequestedAttributes; expected eidas:RequestedAttribute.`);
    }
    const a = attributesOf(ra, ['Name', 'FriendlyName', 'NameFormat', 'isRequired']);
    const name = a.get('Name')?.trim();
    if (!name) throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', 'eidas:RequestedAttribute has no Name attribute (the attribute URI).');
    if (name.length > L.attributeName) throw tooLong('eidas:RequestedAttribute Name', L.attributeName, name.length);
    if (seen.has(name)) throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `eidas:RequestedAttribute "${name}" is listed more than once.`);
    seen.add(name);
    const values: string[] = [];
    const valueElements = structuralChildren(ra);
    if (valueElements.length > L.valuesPerAttribute) {
      throw structure('ERR_REQUEST_TOO_LONG', `eidas:RequestedAttribute "${name}" carries ${valueElements.length} values; at most ${L.valuesPerAttribute} are accepted.`);
    }
    for (const v of valueElements) {
      if (!isElement(v, NS.eidas, 'AttributeValue')) {
        throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `${describe(v)} is not allowed in eidas:RequestedAttribute; expected eidas:AttributeValue.`);
      }
      attributesOf(v, [], { ns: NS.xsi, names: ['type'] });
      const value = textOf(v);
      if (value.length > L.attributeValue) throw tooLong(`A value of eidas:RequestedAttribute "${name}"`, L.attributeValue, value.length);
      values.push(value);
    }
    const friendlyName = a.get('FriendlyName');
    if (friendlyName !== undefined && friendlyName.length > L.friendlyName) {
      throw tooLong(`FriendlyName of eidas:RequestedAttribute "${name}"`, L.friendlyName, friendlyName.length);
    }
    parsed.attributes.push({
      name,
      ...(friendlyName !== undefined ? { friendlyName } : {}),
      isRequired: xsBoolean(a.get('isRequired'), `isRequired of ${name}`, false),
      values,
    });
  }
}

const COMPARISONS: readonly Comparison[] = ['exact', 'minimum', 'maximum', 'better'];

function readRequestedAuthnContext(el: Element, parsed: ParsedAuthnRequest): void {
  const a = attributesOf(el, ['Comparison']);
  const raw = a.get('Comparison');
  // SAML core §3.3.2.2.1: absent Comparison means "exact" (eIDAS SPs send "minimum" explicitly).
  const comparison = raw === undefined ? 'exact' : (raw.trim() as Comparison);
  if (!COMPARISONS.includes(comparison)) {
    throw structure('ERR_REQUEST_COMPARISON', `RequestedAuthnContext Comparison is "${raw}"; expected exact, minimum, maximum or better.`);
  }
  const classRefs: string[] = [];
  let declRefs = 0;
  for (const c of structuralChildren(el)) {
    if (isElement(c, NS.saml, 'AuthnContextClassRef')) {
      attributesOf(c, []);
      const v = textOf(c).trim();
      if (v === '') throw structure('ERR_REQUEST_AUTHNCONTEXT', 'saml:AuthnContextClassRef is empty.');
      if (!classRefs.includes(v)) classRefs.push(v);
    } else if (isElement(c, NS.saml, 'AuthnContextDeclRef')) {
      declRefs++;
    } else {
      throw structure('ERR_REQUEST_ELEMENT', `${describe(c)} is not allowed in samlp:RequestedAuthnContext; expected saml:AuthnContextClassRef.`);
    }
  }
  if (classRefs.length > 0 && declRefs > 0) {
    throw structure('ERR_REQUEST_AUTHNCONTEXT', 'RequestedAuthnContext mixes AuthnContextClassRef and AuthnContextDeclRef; the schema allows one kind.');
  }
  if (declRefs > 0) {
    parsed.deferred.push(
      new PasarelaError(
        'ERR_REQUEST_AUTHNCONTEXT_DECLREF',
        'AuthnContextDeclRef is not supported; request a level of assurance with AuthnContextClassRef (http://eidas.europa.eu/LoA/low|substantial|high).',
        { status: STATUS.requester, subStatus: STATUS.requestUnsupported },
      ),
    );
    return;
  }
  if (classRefs.length === 0) {
    throw structure('ERR_REQUEST_AUTHNCONTEXT', 'RequestedAuthnContext has no AuthnContextClassRef; name at least one level of assurance.');
  }
  parsed.authnContext = { comparison, classRefs };
}

// ---------------------------------------------------------------------------------------------
// ACS selection (pure).

/**
 * Choose the ACS from the SP's metadata. Only HTTP-POST endpoints qualify; a URL must match a
 * metadata location exactly. Never an endpoint the metadata does not list.
 */
export function selectAcs(
  endpoints: readonly AcsEndpoint[],
  req: { acsUrl?: string; acsIndex?: number; protocolBinding?: string },
): AcsEndpoint {
  if (req.protocolBinding !== undefined && req.protocolBinding !== BINDING.post) {
    throw new PasarelaError(
      'ERR_REQUEST_PROTOCOL_BINDING',
      `ProtocolBinding "${req.protocolBinding}" is not supported; responses are only sent with ${BINDING.post}.`,
    );
  }
  const posts = endpoints.filter((e) => e.binding === BINDING.post);
  if (req.acsUrl !== undefined && req.acsIndex !== undefined) {
    throw new PasarelaError(
      'ERR_REQUEST_ACS_AMBIGUOUS',
      'AuthnRequest carries both AssertionConsumerServiceURL and AssertionConsumerServiceIndex; send one of them (SAML core §3.4.1).',
    );
  }
  if (req.acsUrl !== undefined) {
    const hit = posts.find((e) => e.location === req.acsUrl);
    if (!hit) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_URL_UNKNOWN',
        `AssertionConsumerServiceURL "${req.acsUrl}" is not an HTTP-POST AssertionConsumerService in the SP metadata` +
          (posts.length ? ` (registered: ${posts.map((e) => e.location).join(', ')}).` : '.'),
      );
    }
    return hit;
  }
  if (req.acsIndex !== undefined) {
    const hit = endpoints.find((e) => e.index === req.acsIndex);
    if (!hit) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_INDEX_UNKNOWN',
        `AssertionConsumerServiceIndex ${req.acsIndex} does not exist in the SP metadata.`,
      );
    }
    if (hit.binding !== BINDING.post) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_INDEX_BINDING',
        `AssertionConsumerService index ${req.acsIndex} uses ${hit.binding}; responses are only sent with ${BINDING.post}.`,
      );
    }
    return hit;
  }
  const byIndex = [...posts].sort((x, y) => x.index - y.index);
  const chosen = byIndex.find((e) => e.isDefault) ?? byIndex[0];
  if (!chosen) {
    throw new PasarelaError('ERR_REQUEST_ACS_NONE', 'The SP metadata lists no HTTP-POST AssertionConsumerService to send the response to.');
  }
  return chosen;
}

// ---------------------------------------------------------------------------------------------
// Checks on a request from a trusted SP with a valid ACS.

const NAMEID_BY_URI: Readonly<Record<string, NameIdFormatName>> = {
  [NAMEID_FORMAT.persistent]: 'persistent',
  [NAMEID_FORMAT.transient]: 'transient',
};

function checkTrustedRequest(
  p: ParsedAuthnRequest,
  decoded: DecodedRedirect | DecodedPost,
  sp: ServiceProvider,
  acs: AcsEndpoint,
  opts: ReceiveAuthnRequestOptions,
): AuthnRequest {
  const first = p.deferred[0];
  if (first) throw first;

  const expectedDestination = opts.ssoUrls[decoded.binding];
  if (p.destination === undefined) {
    throw new PasarelaError(
      'ERR_REQUEST_DESTINATION_MISSING',
      `AuthnRequest has no Destination attribute; it must be "${expectedDestination}".`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
  if (p.destination !== expectedDestination) {
    throw new PasarelaError(
      'ERR_REQUEST_DESTINATION',
      `AuthnRequest Destination "${p.destination}" is not this endpoint; expected "${expectedDestination}".`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }

  const now = opts.now.getTime();
  const skewMs = opts.clockSkewSeconds * 1000;
  const issued = p.issueInstant.getTime();
  if (issued > now + skewMs) {
    throw new PasarelaError(
      'ERR_REQUEST_ISSUE_INSTANT_FUTURE',
      `AuthnRequest IssueInstant ${p.issueInstant.toISOString()} is in the future (now ${opts.now.toISOString()}, ${opts.clockSkewSeconds} s skew allowed); check the SP clock.`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
  if (issued < now - opts.maxRequestAgeSeconds * 1000 - skewMs) {
    throw new PasarelaError(
      'ERR_REQUEST_EXPIRED',
      `AuthnRequest IssueInstant ${p.issueInstant.toISOString()} is older than ${opts.maxRequestAgeSeconds} s (now ${opts.now.toISOString()}); send a fresh request.`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }

  const { nameIdFormat, allowCreate } = resolveNameIdPolicy(p, sp);
  const requestedLoa = resolveRequestedLoa(p, sp);
  const attrs = classifyAttributes(p.attributes, sp);

  return {
    id: p.id,
    issuer: p.issuer,
    issueInstant: p.issueInstant,
    destination: p.destination,
    binding: decoded.binding,
    acs,
    ...(p.providerName !== undefined ? { providerName: p.providerName } : {}),
    forceAuthn: p.forceAuthn,
    isPassive: p.isPassive,
    nameIdFormat,
    allowCreate,
    requestedLoa,
    ...(p.spType !== undefined ? { spType: p.spType } : {}),
    eidasExtensions: p.eidasExtensions,
    requestedAttributes: attrs.requestedAttributes,
    excludedMethods: attrs.excludedMethods,
    ...(attrs.claveRelayState !== undefined ? { claveRelayState: attrs.claveRelayState } : {}),
    ...(decoded.relayState !== undefined ? { relayState: decoded.relayState } : {}),
  };
}

function resolveNameIdPolicy(p: ParsedAuthnRequest, sp: ServiceProvider): { nameIdFormat: NameIdFormatName; allowCreate: boolean } {
  const policy = sp.policy.nameIdFormats;
  const fallback: NameIdFormatName = policy[0] ?? 'unspecified';
  const nip = p.nameIdPolicy;
  const invalid = (message: string): PasarelaError =>
    new PasarelaError('ERR_REQUEST_NAMEID_POLICY', message, { status: STATUS.requester, subStatus: STATUS.invalidNameIdPolicy });
  if (!nip) return { nameIdFormat: fallback, allowCreate: true };
  if (nip.spNameQualifier !== undefined && nip.spNameQualifier !== sp.entityId) {
    throw invalid(`NameIDPolicy SPNameQualifier "${nip.spNameQualifier}" is not the requesting SP; affiliations are not supported.`);
  }
  if (nip.format === undefined || nip.format === NAMEID_FORMAT.unspecified) return { nameIdFormat: fallback, allowCreate: nip.allowCreate };
  const name = NAMEID_BY_URI[nip.format];
  if (!name) {
    throw invalid(
      `NameIDPolicy Format "${nip.format}" is not supported; use ${NAMEID_FORMAT.persistent}, ${NAMEID_FORMAT.transient} or ${NAMEID_FORMAT.unspecified}.`,
    );
  }
  if (!policy.includes(name)) {
    throw invalid(`NameIDPolicy Format "${nip.format}" is not enabled for this SP (enabled: ${policy.join(', ') || 'none'}).`);
  }
  return { nameIdFormat: name, allowCreate: nip.allowCreate };
}

function resolveRequestedLoa(p: ParsedAuthnRequest, sp: ServiceProvider): { comparison: Comparison; classRefs: LoaUri[] } {
  const noContext = (code: string, message: string): PasarelaError =>
    new PasarelaError(code, message, { status: STATUS.requester, subStatus: STATUS.noAuthnContext });
  let requested: { comparison: Comparison; classRefs: LoaUri[] };
  if (!p.authnContext) {
    requested = { comparison: 'minimum', classRefs: [levelUri(sp.policy.minLoa)] };
  } else {
    const refs: LoaUri[] = [];
    for (const ref of p.authnContext.classRefs) {
      if (!isKnownLoa(ref)) {
        throw noContext(
          'ERR_REQUEST_UNKNOWN_LOA',
          `AuthnContextClassRef "${ref}" is not a known level of assurance; use http://eidas.europa.eu/LoA/low, /substantial or /high.`,
        );
      }
      refs.push(ref);
    }
    requested = { comparison: p.authnContext.comparison, classRefs: refs };
  }
  if (!satisfiableWithin(sp.policy, requested)) {
    throw noContext(
      'ERR_REQUEST_LOA_UNSATISFIABLE',
      `No level of assurance allowed for this SP (${sp.policy.minLoa} to ${sp.policy.maxLoa}) satisfies Comparison="${requested.comparison}" ` +
        `with ${requested.classRefs.join(', ')}.`,
    );
  }
  return requested;
}

function classifyAttributes(
  attributes: readonly RequestedAttribute[],
  sp: ServiceProvider,
): { requestedAttributes: RequestedAttribute[]; excludedMethods: MethodId[]; claveRelayState?: string } {
  const requestedAttributes: RequestedAttribute[] = [];
  const excludedMethods: MethodId[] = [];
  let claveRelayState: string | undefined;
  const releasable = sp.policy.releasedAttributes
    ? SUPPORTED_ATTRIBUTES.filter((n) => sp.policy.releasedAttributes!.includes(n))
    : SUPPORTED_ATTRIBUTES;
  for (const attr of attributes) {
    const method = CLAVE_EXCLUSION_ATTRIBUTES[attr.name];
    if (method) {
      // Cl@ve 2 IdP selector: its presence excludes the method; isRequired means nothing here.
      if (!excludedMethods.includes(method)) excludedMethods.push(method);
      continue;
    }
    if (attr.name === CLAVE.relayState) {
      const v = attr.values[0];
      if (v !== undefined && v !== '') claveRelayState = v;
      continue;
    }
    if (attr.isRequired && !releasable.includes(attr.name)) {
      throw new PasarelaError(
        'ERR_REQUEST_ATTRIBUTE_UNAVAILABLE',
        `Required attribute "${attr.name}"${attr.friendlyName ? ` (${attr.friendlyName})` : ''} cannot be released to this SP; ` +
          `releasable: ${releasable.join(', ') || 'none'}. Mark it isRequired="false" or ask the operator.`,
        { status: STATUS.responder, subStatus: STATUS.requestDenied },
      );
    }
    requestedAttributes.push(attr);
  }
  return { requestedAttributes, excludedMethods, ...(claveRelayState !== undefined ? { claveRelayState } : {}) };
}

/** Short aliases used by the web layer. */
export type ReceiveOptions = ReceiveAuthnRequestOptions;
export type ReceiveMessage = InboundAuthnRequestMessage;
export type ReceiveResult = ReceiveAuthnRequestResult;
