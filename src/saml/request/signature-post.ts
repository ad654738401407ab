import { createHash, type KeyObject } from 'node:crypto';
import { SignedXml, type HashAlgorithm as XmlDsigHash, type SignatureAlgorithm as XmlDsigAlgorithm } from 'xml-crypto';
import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import { digestHash, inboundSignatureAlgorithm, verifySignature, type SignatureAlgorithm } from '../algorithms';
import { NS, STATUS } from '../constants';
import { childElements, isElement, parseXml, textOf } from '../xml';
import { describe, XMLNS_NS } from './dom';
import { algorithmRefusal, signingKeysFor } from './signature';

/**
 * HTTP-POST enveloped signature: an allow-list of the whole ds:Signature, then verification
 * against the SP's metadata keys only. Every value is then read from the node xml-crypto returns
 * from `getSignedReferences()` (re-parsed with our one parser), never from the received document.
 */

const DSIG_ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

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
export function verifyPostSignature(xml: string, root: Element, sig: Element, sp: ServiceProvider, maxXmlBytes = 256 * 1024): Element {
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
