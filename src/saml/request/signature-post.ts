import { createHash, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { findAncestorNsForElement } from 'xml-crypto/lib/utils';
import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import { digestHash, inboundSignatureAlgorithm, verifySignature, type SignatureAlgorithm } from '../algorithms';
import { NS, STATUS } from '../constants';
import { childElements, isElement, textOf } from '../xml';
import { forXmlCrypto, type LightElement } from '../request-tree';
import { describe, XMLNS_NS } from './dom';
import type { DocumentScan } from './scan';
import { algorithmRefusal, signingKeysFor } from './signature';

/**
 * HTTP-POST enveloped signature, verified on the one DOM the intake parsed.
 *
 * First an allow-list of the whole ds:Signature (`checkSignatureStructure`): one Reference, to
 * the root's own ID, transforms enveloped-signature + exc-c14n, allowed digest and signature
 * algorithms. Then the verification itself, reproducing what xml-crypto's
 * `SignedXml.checkSignature` computes for exactly that shape, with xml-crypto's own
 * `ExclusiveCanonicalization` called with the options `SignedXml` passes, so the canonical octets
 * are the same (test/saml/post-signature-oracle.test.ts runs both on every fixture and attack):
 *
 *   1. SignedInfo: exc-c14n, with the namespaces in scope from its ancestors
 *      (`findAncestorNsForElement`, as xml-crypto) for its InclusiveNamespaces PrefixList;
 *   2. the Reference: the root with the enveloped Signature removed, exc-c14n without comments
 *      with the Transform's PrefixList; one digest, compared with DigestValue (timingSafeEqual);
 *   3. one `crypto.verify` of SignatureValue over (1) with the SP's metadata KeyObjects. KeyInfo is
 *      never read.
 *
 * On success the root has become the signed node itself: the Signature is removed (the enveloped
 * transform) and so are comments (exc-c14n leaves them out of what is digested), so every value
 * read afterwards is covered by the signature.
 */

const DSIG_ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

function sigStructure(message: string): PasarelaError {
  return new PasarelaError('ERR_REQUEST_SIGNATURE_STRUCTURE', message);
}

/** Element children of an XML-DSig element, refusing text other than whitespace. */
function dsChildren(el: LightElement): LightElement[] {
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if ((c.nodeType === 3 || c.nodeType === 4) && c.data.trim() !== '') {
      throw sigStructure(`ds:${el.localName} must not contain text.`);
    }
  }
  return childElements(el);
}

function expectDs(el: LightElement | undefined, localName: string, parent: string): LightElement {
  if (!el || !isElement(el, NS.ds, localName)) {
    throw sigStructure(`ds:${parent} must contain ds:${localName} ${el ? `where ${describe(el)} was found` : 'but it is missing'}.`);
  }
  return el;
}

function onlyAttributes(el: LightElement, allowed: readonly string[], code: string): void {
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (a.namespaceURI === XMLNS_NS) continue;
    if (a.namespaceURI || !allowed.includes(a.localName ?? a.name)) {
      throw new PasarelaError(
        code,
        `Attribute ${a.name} is not allowed on ${describe(el)}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      );
    }
  }
}

function algorithmOf(el: LightElement): string {
  onlyAttributes(el, ['Algorithm'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
  const alg = el.getAttribute('Algorithm');
  if (!alg) throw sigStructure(`ds:${el.localName} has no Algorithm attribute.`);
  return alg;
}

/** ds:Transform / ds:CanonicalizationMethod for exc-c14n: only ec:InclusiveNamespaces inside. */
function checkExcC14nChildren(el: LightElement): void {
  for (const c of dsChildren(el)) {
    if (!isElement(c, NS.exc14n, 'InclusiveNamespaces')) throw sigStructure(`${describe(c)} is not allowed inside ds:${el.localName}.`);
    onlyAttributes(c, ['PrefixList'], 'ERR_REQUEST_SIGNATURE_STRUCTURE');
    if (childElements(c).length > 0) throw sigStructure('ec:InclusiveNamespaces must be empty.');
  }
}

function base64Value(el: LightElement, what: string): Buffer {
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
  hash: keyof typeof HASH_BYTES;
  signedInfo: LightElement;
  signatureValue: LightElement;
  /** The decoded DigestValue (its length already matches the hash). */
  digest: Buffer;
  /** InclusiveNamespaces PrefixList of the Reference's exc-c14n Transform, as xml-crypto's loadReference reads it. */
  referencePrefixes: string[];
}

/** Allow-list of the whole ds:Signature before anything is canonicalised (the xml-crypto CVE-2025-29774/29775 classes). */
function checkSignatureStructure(sig: LightElement, rootId: string, allowSha1: boolean): CheckedSignature {
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
  const digest = base64Value(digestValue, 'ds:DigestValue');
  if (digest.length !== HASH_BYTES[hash]) {
    throw new PasarelaError('ERR_REQUEST_SIGNATURE_VALUE_FORMAT', `ds:DigestValue is not a ${hash} digest (wrong length).`);
  }
  base64Value(signatureValue, 'ds:SignatureValue');
  return { alg, hash, signedInfo, signatureValue, digest, referencePrefixes: prefixList(ts[1]!) };
}

/** xml-crypto's loadReference: every InclusiveNamespaces child of the last Transform, PrefixList split on spaces, empty tokens dropped. */
function prefixList(transform: LightElement): string[] {
  const out: string[] = [];
  for (const c of childElements(transform)) {
    for (const p of (c.getAttribute('PrefixList') ?? '').split(' ')) if (p.length > 0) out.push(p);
  }
  return out;
}

const EXC_C14N = new ExclusiveCanonicalization();
/** xml-crypto's SignedXml.defaultNsForPrefix, passed to every canonicalisation. */
const DEFAULT_NS_FOR_PREFIX: Record<string, string> = { ds: NS.ds };

function invalid(message: string): PasarelaError {
  return new PasarelaError('ERR_REQUEST_SIGNATURE_INVALID', message, { status: STATUS.requester, subStatus: STATUS.requestDenied });
}

/** What xml-crypto threw, as the intake always reported it. */
function notVerified(detail: string): PasarelaError {
  return invalid(`The enveloped signature could not be verified: ${detail.split('\n')[0]}`);
}

function canonicalise(el: LightElement, options: Parameters<ExclusiveCanonicalization['process']>[1]): string {
  try {
    return EXC_C14N.process(forXmlCrypto(el), options);
  } catch (err) {
    // e.g. "Unable to exclusive canonicalize node type: 4" for an empty CDATA section.
    throw notVerified((err as Error).message ?? '');
  }
}

/**
 * SignatureValue as xml-crypto's loadSignature reads it (`SignatureValue/text()`, the first one):
 * the first child when it is a text node, otherwise nothing, so a value split by a CDATA section
 * does not verify. The structure check already refused comments and elements in it.
 */
function signatureValueOf(el: LightElement): Buffer {
  const first = el.firstChild;
  return first && first.nodeType === 3 ? Buffer.from(first.data, 'base64') : Buffer.alloc(0);
}

/** xml-crypto's findChildren(sig, 'SignatureValue')[0].textContent: the first child of that local name, any namespace. */
function signatureValueText(sig: LightElement): string | undefined {
  for (const c of childElements(sig)) if (c.localName === 'SignatureValue') return c.textContent ?? '';
  return undefined;
}

function removeComments(root: LightElement): void {
  const stack: LightElement[] = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (let c = n.firstChild; c; ) {
      const next = c.nextSibling;
      if (c.nodeType === 8) n.removeChild(c);
      else if (c.nodeType === 1) stack.push(c);
      c = next;
    }
  }
}

/** The octets the verification used, for tests that compare them with xml-crypto's. */
export interface VerifiedPostSignature {
  /** exc-c14n of SignedInfo: what SignatureValue signs. */
  signedInfo: string;
  /** exc-c14n of the AuthnRequest with the enveloped transform applied: what DigestValue digests. */
  reference: string;
}

/**
 * Verify the enveloped signature of `root` (the parsed, scanned AuthnRequest) with the SP's
 * metadata keys. On return `root` is the signed node: its Signature and comments are removed.
 */
export function verifyPostSignature(root: LightElement, sig: LightElement, scan: DocumentScan, sp: ServiceProvider): VerifiedPostSignature {
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
  const keys: KeyObject[] = signingKeysFor(checked.alg, sp);

  // 1. SignedInfo, while the Signature is still in place: its ancestors' namespaces feed the PrefixList.
  // xml-crypto canonicalises a copy because ExclusiveCanonicalization declares those namespaces on the
  // element it is given; here the Signature leaves the document right after, so nothing reads SignedInfo
  // again and the copy (slower than the canonicalisation itself with xmldom) is not needed.
  const signedInfo = canonicalise(checked.signedInfo, {
    ancestorNamespaces: findAncestorNsForElement(forXmlCrypto(checked.signedInfo)),
    defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX,
  });

  // xml-crypto refuses what it cannot resolve; the same refusals, in its words, as the intake always reported them.
  // It re-parses canonical SignedInfo to read the Reference. An empty token in SignedInfo's PrefixList with a
  // default namespace in scope makes ExclusiveCanonicalization declare `xmlns:="…"`, which does not parse,
  // so xml-crypto finds no Reference (attribute values escape '"', so only that declaration can read so).
  if (signedInfo.includes(' xmlns:="')) throw notVerified('could not find any Reference elements');
  if (rootId.includes("'")) throw notVerified('Cannot validate a uri with quotes inside it');
  const own = signatureValueText(sig);
  if (scan.nestedSignatures.some((n) => signatureValueText(n) === own)) {
    throw notVerified(
      'Cannot validate a document which contains multiple Signature elements with the same SignatureValue, in order to prevent signature wrapping attack.',
    );
  }

  // 2. The Reference: the enveloped-signature transform, then exc-c14n of the root (no ancestors: it is the document element).
  root.removeChild(sig);
  const reference = canonicalise(root, {
    inclusiveNamespacesPrefixList: checked.referencePrefixes,
    ancestorNamespaces: [],
    defaultNsForPrefix: DEFAULT_NS_FOR_PREFIX,
  });
  const digest = createHash(checked.hash).update(reference, 'utf8').digest();
  if (!timingSafeEqual(digest, checked.digest)) {
    throw invalid(
      'ds:DigestValue does not match the AuthnRequest: the request was changed after it was signed, or was canonicalized differently (exclusive c14n, enveloped-signature).',
    );
  }

  // 3. One verify over the canonical SignedInfo with the metadata keys.
  const value = signatureValueOf(checked.signatureValue);
  if (!keys.some((k) => verifySignature(checked.alg, signedInfo, k, value))) {
    throw invalid('ds:SignatureValue does not verify with any signing key in the SP metadata (a certificate in KeyInfo is never trusted by itself).');
  }

  // What was digested has no comments; drop them so that values read from the root are exactly the signed ones.
  if (scan.hasComments) removeComments(root);
  return { signedInfo, reference };
}
