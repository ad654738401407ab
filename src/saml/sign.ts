import { createHash } from 'node:crypto';
import { PasarelaError } from '../errors';
import { digestUriFor, keyFits, signAsync, signatureAlgorithm } from './algorithms';
import { NS, type SignatureAlgorithmUri } from './constants';
import type { SigningKey } from './types';
import { escapeText } from './xml';

/**
 * The template signer.
 *
 * Our templates (response.ts, metadata.ts) emit XML that is already in exclusive-c14n form
 * (http://www.w3.org/2001/10/xml-exc-c14n#): namespace declarations first, sorted by prefix,
 * each on the outermost element that visibly uses it; attributes sorted by namespace URI then
 * local name; no self-closing tags; c14n escaping; no whitespace between elements. So the
 * canonical text of the element to sign IS the text we hold, and an enveloped signature costs
 * one digest over that text, one canonical SignedInfo (also a template), one private-key
 * operation (on the libuv pool), and a string splice. No DOM, no XPath, no re-parse.
 *
 * The Signature goes between `head` and `tail`: for SAML protocol messages and assertions,
 * right after the Issuer (saml-schema-protocol/assertion: Issuer?, ds:Signature?, ...); for
 * metadata, right after the start tag (md:EntityDescriptor: ds:Signature?, Extensions?, ...).
 * The enveloped-signature transform removes the Signature again, so the digest is over
 * `head + tail`.
 *
 * QNames in attribute values (`xsi:type="eidas-natural:CurrentGivenNameType"`): exclusive
 * c14n renders a namespace declaration only where its prefix is *visibly* used (element or
 * attribute names). A prefix used only inside an attribute value would be dropped by every
 * verifier's c14n, which (a) changes the digest input unless our template also drops it and
 * (b) leaves the QName unresolvable. We therefore list such prefixes in
 * `<ec:InclusiveNamespaces PrefixList="...">` on the exc-c14n transform (as eIDAS nodes do with
 * `eidas-natural eidas-legal`) and declare them in the template on the element that carries
 * the QName. For a listed prefix exc-c14n behaves like inclusive c14n: the declaration is
 * rendered on the first element of the signed subtree where it is in scope and not already
 * rendered by an output ancestor — exactly where the template puts it. Tests prove the
 * template text is byte-identical to xml-crypto's exclusive c14n with that PrefixList and that
 * xmlsec1 verifies it.
 *
 * Everything here works on canonical text. What goes on the wire is `wireForm(text)`, which
 * differs only for U+0085 / U+2028 (written as character references; see there).
 */

const EXC_C14N = NS.exc14n;
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export interface SignatureSpec {
  key: SigningKey;
  algorithm: SignatureAlgorithmUri;
  /**
   * Prefixes for `ec:InclusiveNamespaces PrefixList` (prefixes used only inside attribute
   * values, declared in the template where the QName is). Omit when there are none.
   */
  inclusivePrefixes?: readonly string[];
}

/** An element in canonical form, split where the Signature goes. `head + tail` is the whole element. */
export interface CanonicalElement {
  /** Value of the element's `ID` attribute (the Reference URI is `#id`). */
  id: string;
  head: string;
  tail: string;
}

/** SignedInfo as it is signed (`canonical`, the apex of its own c14n) and as it sits inside ds:Signature. */
export interface SignedInfoText {
  canonical: string;
  inContext: string;
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function signingHash(algorithm: SignatureAlgorithmUri): 'sha256' | 'sha384' | 'sha512' {
  const alg = signatureAlgorithm(algorithm);
  if (!alg || alg.hash === 'sha1') {
    // DESIGN: outbound signatures never use SHA-1.
    throw new PasarelaError('ERR_SIGNING_ALGORITHM', `signature algorithm ${String(algorithm)} is not allowed for signing`);
  }
  return alg.hash;
}

function checkPrefixes(prefixes: readonly string[] | undefined): readonly string[] {
  if (!prefixes || prefixes.length === 0) return [];
  for (const p of prefixes) {
    if (!NCNAME.test(p) || p === 'xmlns' || p === 'xml') {
      throw new PasarelaError('ERR_SIGNING_PREFIX', `"${p}" is not a namespace prefix that can go into an InclusiveNamespaces PrefixList`);
    }
  }
  return prefixes;
}

/**
 * Canonical `ds:SignedInfo` for one enveloped Reference. The DigestMethod matches the hash of
 * the signature algorithm (RSA-SHA256 -> SHA-256, ECDSA-SHA512 -> SHA-512, ...).
 */
export function buildSignedInfo(ref: {
  id: string;
  algorithm: SignatureAlgorithmUri;
  digestValue: string;
  inclusivePrefixes?: readonly string[];
}): SignedInfoText {
  if (!NCNAME.test(ref.id)) throw new PasarelaError('ERR_SIGNING_ID', `"${ref.id}" is not a valid XML ID`);
  const hash = signingHash(ref.algorithm);
  const prefixes = checkPrefixes(ref.inclusivePrefixes);
  const inclusive =
    prefixes.length > 0
      ? `<ec:InclusiveNamespaces xmlns:ec="${EXC_C14N}" PrefixList="${prefixes.join(' ')}"></ec:InclusiveNamespaces>`
      : '';
  const body =
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${ref.algorithm}"></ds:SignatureMethod>` +
    `<ds:Reference URI="#${ref.id}"><ds:Transforms>` +
    `<ds:Transform Algorithm="${ENVELOPED}"></ds:Transform>` +
    `<ds:Transform Algorithm="${EXC_C14N}">${inclusive}</ds:Transform>` +
    `</ds:Transforms><ds:DigestMethod Algorithm="${digestUriFor(hash)}"></ds:DigestMethod>` +
    `<ds:DigestValue>${ref.digestValue}</ds:DigestValue></ds:Reference></ds:SignedInfo>`;
  return { canonical: `<ds:SignedInfo xmlns:ds="${NS.ds}">${body}`, inContext: `<ds:SignedInfo>${body}` };
}

const keyInfoCache = new WeakMap<SigningKey, string>();

function keyInfoOf(key: SigningKey): string {
  let ki = keyInfoCache.get(key);
  if (ki === undefined) {
    const b64 = key.certB64.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      throw new PasarelaError('ERR_SIGNING_CERT', 'the signing certificate is not base64 DER');
    }
    ki = `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${escapeText(b64)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`;
    keyInfoCache.set(key, ki);
  }
  return ki;
}

/** Base64 digest of an element's canonical text (given as its parts, hashed without concatenation). */
export function digestCanonical(hash: 'sha256' | 'sha384' | 'sha512', ...parts: string[]): string {
  const h = createHash(hash);
  for (const p of parts) h.update(p, 'utf8');
  return h.digest('base64');
}

/**
 * Sign an element whose text is already exclusive-canonical and splice an enveloped
 * `ds:Signature` (with KeyInfo/X509Data of our certificate) between `head` and `tail`.
 */
export async function signCanonical(el: CanonicalElement, spec: SignatureSpec): Promise<string> {
  const alg = signatureAlgorithm(spec.algorithm);
  const hash = signingHash(spec.algorithm);
  if (!keyFits(alg, spec.key.key) || spec.key.key.type !== 'private') {
    throw new PasarelaError(
      'ERR_SIGNING_KEY',
      `the signing key (${spec.key.key.asymmetricKeyType ?? 'unknown'} ${spec.key.key.type}) cannot produce ${spec.algorithm}`,
    );
  }
  const keyInfo = keyInfoOf(spec.key);
  const signedInfo = buildSignedInfo({
    id: el.id,
    algorithm: spec.algorithm,
    digestValue: digestCanonical(hash, el.head, el.tail),
    inclusivePrefixes: spec.inclusivePrefixes,
  });
  const value = (await signAsync(alg, signedInfo.canonical, spec.key.key)).toString('base64');
  return (
    el.head +
    `<ds:Signature xmlns:ds="${NS.ds}">${signedInfo.inContext}<ds:SignatureValue>${value}</ds:SignatureValue>${keyInfo}</ds:Signature>` +
    el.tail
  );
}

const LINE_SEPARATORS = /[\u0085\u2028]/g;

/**
 * The document text to send for a canonical text: identical except that U+0085 (NEL) and
 * U+2028 (LINE SEPARATOR) are written as character references.
 *
 * Why: @xmldom/xmldom (used by node-saml, samlify, xml-crypto and by us) applies XML 1.1
 * line-end normalisation to every document and turns a literal U+0085 / U+2028 into LF
 * before parsing, while XML 1.0 parsers (libxml2, Xerces) keep it. A literal one would make the
 * digest differ between those SP stacks. A character reference is resolved after line-end
 * normalisation by every parser, and its canonical form is the literal character, so the
 * canonical text we digested is what every verifier reconstructs.
 */
export function wireForm(canonical: string): string {
  // indexOf, not a regular expression: this runs over every whole Response.
  if (canonical.indexOf('\u0085') === -1 && canonical.indexOf('\u2028') === -1) return canonical;
  return canonical.replace(LINE_SEPARATORS, (c) => (c === '\u0085' ? '&#x85;' : '&#x2028;'));
}

/**
 * Split a canonical element where its Signature belongs: after a leading `saml:Issuer`
 * child, else right after the start tag. For callers holding a whole canonical string;
 * the builders in this folder produce `head`/`tail` directly.
 */
export function splitForSignature(canonical: string): { head: string; tail: string } {
  if (canonical[0] !== '<') throw new PasarelaError('ERR_SIGNING_TEMPLATE', 'not an element');
  // End of the start tag: the first '>' outside a quoted attribute value ('"' is always &quot; inside one).
  let inQuote = false;
  let end = -1;
  for (let i = 1; i < canonical.length; i++) {
    const c = canonical.charCodeAt(i);
    if (c === 34) inQuote = !inQuote;
    else if (c === 62 && !inQuote) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) throw new PasarelaError('ERR_SIGNING_TEMPLATE', 'unterminated start tag');
  if (canonical.startsWith('<saml:Issuer', end)) {
    // Issuer has text content only, where '<' is always escaped: the first end tag is its own.
    const close = canonical.indexOf('</saml:Issuer>', end);
    if (close < 0) throw new PasarelaError('ERR_SIGNING_TEMPLATE', 'unterminated Issuer');
    end = close + '</saml:Issuer>'.length;
  }
  return { head: canonical.slice(0, end), tail: canonical.slice(end) };
}
