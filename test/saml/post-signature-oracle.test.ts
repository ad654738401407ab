import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml, type HashAlgorithm, type SignatureAlgorithm } from 'xml-crypto';
import { PasarelaError } from '../../src/errors';
import { CLAVE, DIGEST_ALG, EIDAS_ATTR, LOA, NS, SIG_ALG } from '../../src/saml/constants';
import { receiveAuthnRequest, type ReceiveAuthnRequestResult } from '../../src/saml/request';
import { requestRoot, scanDocument } from '../../src/saml/request/scan';
import { verifyPostSignature, type VerifiedPostSignature } from '../../src/saml/request/signature-post';
import type { AcsEndpoint } from '../../src/saml/types';
import type { LightElement } from '../../src/saml/request-tree';
import { parseRequestXml } from '../../src/saml/xml';
import type { ServiceProvider } from '../../src/trust/types';
import {
  buildAuthnRequestXml,
  CLAVE_ATTRS,
  ecSigner,
  makeServiceProvider,
  memoryReplay,
  postAcs,
  postFormFor,
  HASH_OF,
  rsaSigner,
  signAuthnRequestXml,
  trustOf,
  type SpRequestOptions,
  type SpSigner,
  type XmlSigningOptions,
} from '../support/sp-requests';
import { runXmlsec1, xmlsecVerify } from '../support/xmlsec';

/**
 * Our enveloped-signature verifier (saml/request/signature-post.ts, on the one DOM the intake
 * parsed) against xml-crypto's `SignedXml.checkSignature` on the raw document, configured as the
 * intake configured it before it had its own verifier: only the SP's metadata key (KeyInfo never
 * consulted), only the allowed algorithms, only exc-c14n and enveloped-signature, and the signed
 * reference must be the AuthnRequest itself. xmlsec1 (an independent C implementation) is the
 * third opinion where it supports the algorithm (it has no RSASSA-PSS).
 *
 * Every case that reaches the verifier must get the same verdict from both, the same message, and
 * when valid the same canonical octets (SignedInfo and the digested AuthnRequest). Cases the
 * intake's allow-list refuses before verifying are listed with the refusal and with what
 * xml-crypto alone would have said: where it would accept, the case says why we do not.
 */

const SP_ID = 'https://sp.example/metadata';
const ACS = 'https://sp.example/acs';
const EVIL_ACS = 'https://evil.example/steal';
const SSO = 'https://pasarela.example/saml/sso';
const NOW = new Date('2025-06-01T10:00:00.000Z');
const ACS_LIST: AcsEndpoint[] = [postAcs(ACS, 0, true), postAcs('https://sp.example/acs2', 1)];
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

let rsa: SpSigner;
let rsa2: SpSigner;
let ec: SpSigner;
let ec384: SpSigner;
let attacker: SpSigner;

beforeAll(() => {
  rsa = rsaSigner('sp signing');
  rsa2 = rsaSigner('sp next signing');
  ec = ecSigner('sp ec');
  ec384 = ecSigner('sp ec 384', 'secp384r1');
  attacker = rsaSigner('attacker');
});

// ---------------------------------------------------------------------------------------------
// The oracle: xml-crypto, with node:crypto classes for the algorithms it does not ship.


function nodeVerifier(uri: string): new () => SignatureAlgorithm {
  const hash = HASH_OF[uri]!;
  return class NodeVerifier implements SignatureAlgorithm {
    getSignature(): string {
      throw new Error('verification only');
    }
    verifySignature(material: string, pem: string, value: string): boolean {
      const key = createPublicKey(pem);
      const data = Buffer.from(material, 'utf8');
      const sig = Buffer.from(value, 'base64');
      if (uri.includes('ecdsa')) return key.asymmetricKeyType === 'ec' && verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
      if (key.asymmetricKeyType !== 'rsa') return false;
      if (uri.includes('MGF1')) return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
      return verify(hash, data, key, sig);
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

class Sha384 implements HashAlgorithm {
  getHash(xml: string): string {
    return createHash('sha384').update(xml, 'utf8').digest('base64');
  }
  getAlgorithmName(): string {
    return DIGEST_ALG.sha384;
  }
}

/** xml-crypto configured as the intake's old verifyPostSignature: allowed algorithms only, metadata key only. */
function configured(key: KeyObject, allowSha1: boolean): SignedXml {
  // A PEM string: xml-crypto's own RSA-PSS class does not take a KeyObject.
  const sx = new SignedXml({ publicCert: key.export({ type: 'spki', format: 'pem' }) as string });
  const c = sx.CanonicalizationAlgorithms;
  sx.CanonicalizationAlgorithms = { [NS.exc14n]: c[NS.exc14n]!, [ENVELOPED]: c[ENVELOPED]! };
  const h = sx.HashAlgorithms;
  sx.HashAlgorithms = {
    [DIGEST_ALG.sha256]: h[DIGEST_ALG.sha256]!,
    [DIGEST_ALG.sha384]: Sha384,
    [DIGEST_ALG.sha512]: h[DIGEST_ALG.sha512]!,
    ...(allowSha1 ? { [DIGEST_ALG.sha1]: h[DIGEST_ALG.sha1]! } : {}),
  };
  const s = sx.SignatureAlgorithms;
  // xml-crypto's own classes where it has them, node:crypto for the rest (never HMAC).
  sx.SignatureAlgorithms = {
    [SIG_ALG.rsaSha256]: s[SIG_ALG.rsaSha256]!,
    [SIG_ALG.rsaSha384]: nodeVerifier(SIG_ALG.rsaSha384),
    [SIG_ALG.rsaSha512]: s[SIG_ALG.rsaSha512]!,
    [SIG_ALG.rsaPssSha256]: s[SIG_ALG.rsaPssSha256]!,
    [SIG_ALG.rsaPssSha384]: nodeVerifier(SIG_ALG.rsaPssSha384),
    [SIG_ALG.rsaPssSha512]: nodeVerifier(SIG_ALG.rsaPssSha512),
    [SIG_ALG.ecdsaSha256]: nodeVerifier(SIG_ALG.ecdsaSha256),
    [SIG_ALG.ecdsaSha384]: nodeVerifier(SIG_ALG.ecdsaSha384),
    [SIG_ALG.ecdsaSha512]: nodeVerifier(SIG_ALG.ecdsaSha512),
    ...(allowSha1 ? { [SIG_ALG.rsaSha1]: s[SIG_ALG.rsaSha1]! } : {}),
  };
  return sx;
}

type OracleFailure = 'unsigned' | 'digest' | 'signature' | 'error' | 'references' | 'not-root';
type OracleVerdict = { valid: true; reference: string; signedInfo: string } | { valid: false; reason: OracleFailure; detail?: string };

function xmlCrypto(xml: string, sp: ServiceProvider): OracleVerdict {
  const doc = new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
  // What an xml-crypto user does: the first ds:Signature of the document.
  const sig = doc.getElementsByTagNameNS(NS.ds, 'Signature')[0];
  if (!sig) return { valid: false, reason: 'unsigned' };
  const failures: Array<{ reason: OracleFailure; detail?: string }> = [];
  // xml-crypto's parser prints what it cannot parse (the xmlns:="…" case); the verdict is what counts here.
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    return check(xml, doc, sig, sp, failures);
  } finally {
    quiet.mockRestore();
  }
}

function check(xml: string, doc: Document, sig: Element, sp: ServiceProvider, failures: Array<{ reason: OracleFailure; detail?: string }>): OracleVerdict {
  for (const key of sp.signingKeys) {
    const sx = configured(key, sp.policy.allowSha1);
    try {
      sx.loadSignature(sig);
      if (!sx.checkSignature(xml)) {
        failures.push({ reason: 'digest' });
        continue;
      }
    } catch (err) {
      const detail = (err as Error).message;
      failures.push(detail.startsWith('invalid signature: the signature value') ? { reason: 'signature' } : { reason: 'error', detail });
      continue;
    }
    const refs = sx.getSignedReferences();
    if (refs.length !== 1) return { valid: false, reason: 'references' };
    const signed = new DOMParser().parseFromString(refs[0]!, 'text/xml').documentElement as unknown as Element;
    const root = doc.documentElement;
    if (signed.namespaceURI !== NS.samlp || signed.localName !== 'AuthnRequest' || signed.getAttribute('ID') !== root.getAttribute('ID')) {
      return { valid: false, reason: 'not-root' };
    }
    const signedInfo = (sx as unknown as { getCanonSignedInfoXml(d: Document): string }).getCanonSignedInfoXml(doc);
    return { valid: true, reference: refs[0]!, signedInfo };
  }
  // A key of the wrong type fails differently from the right key with a bad signature: the latter is the verdict.
  const f = failures.find((x) => x.reason === "signature") ?? failures[0] ?? { reason: "signature" as const };
  return { valid: false, ...f };
}

/** The message the intake gives for what xml-crypto reported (the old intake's mapping). */
function messageFor(v: OracleVerdict): string {
  if (v.valid) return '';
  switch (v.reason) {
    case 'digest':
      return 'ds:DigestValue does not match the AuthnRequest: the request was changed after it was signed, or was canonicalized differently (exclusive c14n, enveloped-signature).';
    case 'signature':
      return 'ds:SignatureValue does not verify with any signing key in the SP metadata (a certificate in KeyInfo is never trusted by itself).';
    case 'error':
      return `The enveloped signature could not be verified: ${v.detail!.split('\n')[0]}`;
    default:
      return `(${v.reason})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Ours: the intake's stages up to and including the verifier, on our one parse.

type OurVerdict =
  | { valid: true; signed: VerifiedPostSignature; root: LightElement }
  | { valid: false; stage: 'before' | 'verifier'; code: string; message: string };

function ours(xml: string, sp: ServiceProvider): OurVerdict {
  try {
    // The intake's own parser: the octets compared with xml-crypto's are the ones the intake computes.
    const root = requestRoot(parseRequestXml(xml));
    const scan = scanDocument(root);
    if (scan.signatures.length !== 1) return { valid: false, stage: 'before', code: `signatures: ${scan.signatures.length}`, message: '' };
    const signed = verifyPostSignature(root, scan.signatures[0]!, scan, sp);
    return { valid: true, signed, root };
  } catch (err) {
    if (!(err instanceof PasarelaError)) throw err;
    // The verifier's own refusals all carry this code; everything else is the allow-list before it.
    return { valid: false, stage: err.code === 'ERR_REQUEST_SIGNATURE_INVALID' ? 'verifier' : 'before', code: err.code, message: err.message };
  }
}

function intake(xml: string, sp: ServiceProvider): Promise<ReceiveAuthnRequestResult> {
  return receiveAuthnRequest(
    { binding: 'post', form: postFormFor(xml) },
    { trust: trustOf(sp), replay: memoryReplay(), now: NOW, clockSkewSeconds: 60, maxRequestAgeSeconds: 300, ssoUrls: { redirect: SSO, post: SSO } },
  );
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

const spec = (o: Partial<SpRequestOptions> = {}): SpRequestOptions => ({
  issuer: SP_ID,
  destination: SSO,
  issueInstant: NOW,
  id: '_orig',
  acsUrl: ACS,
  ...o,
});

type Signing = Partial<Omit<XmlSigningOptions, 'signer'>> & { signer?: SpSigner };

/** The XML a legitimate SP signs with xml-crypto (test/support/sp-requests.ts). */
function signed(o: Partial<SpRequestOptions> = {}, s: Signing = {}, edit: (xml: string) => string = (x) => x): string {
  return signAuthnRequestXml(edit(buildAuthnRequestXml(spec(o))), { signer: rsa, ...s });
}

const CLAVE_REQUEST: Partial<SpRequestOptions> = {
  prefix: 'saml2p',
  providerName: 's0000000x_e00000000;MiApp',
  forceAuthn: true,
  spType: 'public',
  loa: LOA.low,
  requestedAttributes: [
    { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', isRequired: true },
    { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', isRequired: true },
    { name: CLAVE.firstSurname, friendlyName: 'FirstSurname', isRequired: false },
    { ...CLAVE_ATTRS.excludePermanente },
    CLAVE_ATTRS.relayState('Xy7Ab9Qz'),
  ],
};

const sigOf = (xml: string): string => /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(xml)![0];
const withoutSig = (xml: string): string => xml.replace(sigOf(xml), '');
const ROOT_OPEN = /^<saml2p:AuthnRequest [^>]*>/;
const evilOpen = (xml: string, id: string): string => ROOT_OPEN.exec(xml)![0].replace(/ID="[^"]+"/, `ID="${id}"`).replace(ACS, EVIL_ACS);
const renamed = (xml: string): string => xml.replace(/^<saml2p:AuthnRequest/, '<x:Copy xmlns:x="urn:x"').replace(/<\/saml2p:AuthnRequest>$/, '</x:Copy>');
const ISSUER = `<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">${SP_ID}</saml2:Issuer>`;
/** Put the root (and its children) in the default namespace instead of the saml2p prefix. */
const defaultNamespaceRoot = (x: string): string => x.replace('xmlns:saml2p=', 'xmlns=').replace(/(<\/?)saml2p:/g, '$1');
const addToRoot = (decl: string) => (x: string): string => x.replace(/^(<\S+)/, `$1 ${decl}`);

/** Sign a hand-written signature template with xmlsec1: an independent signer, for layouts xml-crypto does not produce. */
async function xmlsecSigned(unsignedXml: string, signatureTemplate: string, signer: SpSigner): Promise<string> {
  const tmpl = unsignedXml.replace(/(<\/saml2?:Issuer>)/, `$1${signatureTemplate}`);
  const r = await runXmlsec1(
    ['--sign', '--privkey-pem', '{dir}/key.pem', '--id-attr:ID', `${NS.samlp}:AuthnRequest`, '--output', '{dir}/out.xml', '{dir}/tmpl.xml'],
    { 'tmpl.xml': tmpl, 'key.pem': signer.key.export({ type: 'pkcs8', format: 'pem' }) },
    'out.xml',
  );
  if (!r.ok || !r.output) throw new Error(`xmlsec1 --sign failed: ${r.stderr}`);
  return r.output.replace(/^<\?xml[^>]*\?>\s*/, '');
}

/** A signature template laid out the way pretty-printing signers do: CRLF, tabs, spaces inside tags. */
function prettyTemplate(o: { sigAlg: string; digestAlg: string; ds?: string; referencePrefixes?: string }): string {
  const p = o.ds === '' ? '' : `${o.ds ?? 'ds'}:`;
  const decl = o.ds === '' ? `xmlns="${NS.ds}"` : `xmlns:${o.ds ?? 'ds'}="${NS.ds}"`;
  const inc = o.referencePrefixes ? `\r\n\t\t\t\t\t<ec:InclusiveNamespaces xmlns:ec="${NS.exc14n}" PrefixList="${o.referencePrefixes}"/>\r\n\t\t\t\t` : '';
  return (
    `\r\n\t<${p}Signature ${decl}>\r\n\t\t<${p}SignedInfo>\r\n\t\t\t<${p}CanonicalizationMethod  Algorithm = "${NS.exc14n}" />\r\n` +
    `\t\t\t<${p}SignatureMethod Algorithm="${o.sigAlg}"/>\r\n\t\t\t<${p}Reference URI="#_orig">\r\n\t\t\t\t<${p}Transforms>\r\n` +
    `\t\t\t\t\t<${p}Transform Algorithm="${ENVELOPED}"/>\r\n\t\t\t\t\t<${p}Transform Algorithm="${NS.exc14n}">${inc}</${p}Transform>\r\n` +
    `\t\t\t\t</${p}Transforms>\r\n\t\t\t\t<${p}DigestMethod Algorithm="${o.digestAlg}"/>\r\n\t\t\t\t<${p}DigestValue/>\r\n` +
    `\t\t\t</${p}Reference>\r\n\t\t</${p}SignedInfo>\r\n\t\t<${p}SignatureValue/>\r\n\t</${p}Signature>\r\n\t`
  );
}

interface Case {
  name: string;
  xml: () => string | Promise<string>;
  /** Metadata of the SP (default: rsa, ec, ec384 keys, no SHA-1). */
  sp?: () => ServiceProvider;
  /** Cases that reach the verifier: its expected verdict. */
  valid?: boolean;
  /** Cases the allow-list refuses first: the refusal code. */
  before?: string;
  /** For those: xml-crypto alone would accept it, and this is why the intake does not. */
  stricter?: string;
  /** What the whole intake answers when it is not "accepted" (valid) / the verifier's code (invalid). */
  intake?: string;
  /** xmlsec1's verdict when it differs from ours, with the reason; 'skip' where it lacks the algorithm. */
  xmlsec?: { ok: boolean; why: string } | 'skip';
  /** The certificate xmlsec1 verifies with (default: rsa). */
  cert?: () => SpSigner;
}

const defaultSp = (): ServiceProvider => makeServiceProvider({ entityId: SP_ID, signers: [rsa, ec, ec384], acs: ACS_LIST });
const sha1Sp = (): ServiceProvider => makeServiceProvider({ entityId: SP_ID, signers: [rsa], acs: ACS_LIST, policy: { allowSha1: true } });

const reaching: Case[] = [
  { name: 'RSA-SHA256, certificate in KeyInfo', xml: () => signed(), valid: true },
  { name: 'RSA-SHA384', xml: () => signed({}, { sigAlg: SIG_ALG.rsaSha384 }), valid: true },
  { name: 'RSA-SHA512 with a SHA-512 digest', xml: () => signed({}, { sigAlg: SIG_ALG.rsaSha512, digestAlg: DIGEST_ALG.sha512 }), valid: true },
  { name: 'DigestMethod SHA-384', xml: () => signed({}, { digestAlg: DIGEST_ALG.sha384 }), valid: true },
  { name: 'RSASSA-PSS SHA-256', xml: () => signed({}, { sigAlg: SIG_ALG.rsaPssSha256 }), valid: true, xmlsec: 'skip' },
  { name: 'RSASSA-PSS SHA-384', xml: () => signed({}, { sigAlg: SIG_ALG.rsaPssSha384 }), valid: true, xmlsec: 'skip' },
  { name: 'RSASSA-PSS SHA-512', xml: () => signed({}, { sigAlg: SIG_ALG.rsaPssSha512, digestAlg: DIGEST_ALG.sha512 }), valid: true, xmlsec: 'skip' },
  { name: 'ECDSA P-256 SHA-256', xml: () => signed({}, { signer: ec, sigAlg: SIG_ALG.ecdsaSha256 }), valid: true, cert: () => ec },
  { name: 'ECDSA P-384 SHA-384', xml: () => signed({}, { signer: ec384, sigAlg: SIG_ALG.ecdsaSha384, digestAlg: DIGEST_ALG.sha384 }), valid: true, cert: () => ec384 },
  { name: 'ECDSA P-256 SHA-512', xml: () => signed({}, { signer: ec, sigAlg: SIG_ALG.ecdsaSha512 }), valid: true, cert: () => ec },
  { name: 'RSA-SHA1 + SHA-1 digest for an SP opted in (allowSha1)', xml: () => signed({}, { sigAlg: SIG_ALG.rsaSha1, digestAlg: DIGEST_ALG.sha1 }), sp: sha1Sp, valid: true },
  { name: 'a Cl@ve 2 style request (eIDAS extensions, RSA-SHA512)', xml: () => signed(CLAVE_REQUEST, { sigAlg: SIG_ALG.rsaSha512, digestAlg: DIGEST_ALG.sha512 }), valid: true },
  { name: 'SimpleSAMLphp-style samlp/saml prefixes', xml: () => signed({ prefix: 'samlp' }), valid: true },
  { name: 'no KeyInfo', xml: () => signed({}, { keyInfo: false }), valid: true },
  {
    name: 'key rollover: the second metadata key signs',
    xml: () => signed({}, { signer: rsa2 }),
    sp: () => makeServiceProvider({ entityId: SP_ID, signers: [rsa, rsa2], acs: ACS_LIST }),
    valid: true,
    cert: () => rsa2,
  },
  {
    name: 'Signature in the default namespace (no ds: prefix)',
    xml: () => signed({}, { dsPrefix: '' }),
    valid: true,
  },
  {
    name: 'InclusiveNamespaces on SignedInfo naming prefixes declared on the root (inherited into SignedInfo)',
    xml: () => signed({}, { signedInfoPrefixes: ['saml2p', 'saml2'] }),
    valid: true,
  },
  {
    name: 'xmlsec1-signed: Reference PrefixList naming prefixes used only in attribute values (xs, eidas-natural)',
    xml: () =>
      xmlsecSigned(
        addToRoot('xmlns:xs="http://www.w3.org/2001/XMLSchema"')(
          buildAuthnRequestXml(spec({ ...CLAVE_REQUEST, requestedAttributes: [{ name: EIDAS_ATTR.personIdentifier, isRequired: true, values: ['ES/ES/12345678Z'] }] })),
        ),
        prettyTemplate({ sigAlg: SIG_ALG.rsaSha256, digestAlg: DIGEST_ALG.sha256, referencePrefixes: 'xs eidas-natural' }),
        rsa,
      ),
    valid: true,
  },
  {
    name: 'SignedInfo PrefixList naming a prefix nobody declares',
    xml: () => signed(CLAVE_REQUEST, { signedInfoPrefixes: ['saml2', 'nope'] }),
    valid: true,
  },
  {
    name: 'xmlns:ds declared only on the root; the Signature inherits it',
    xml: () => signed({}, {}, addToRoot(`xmlns:ds="${NS.ds}"`)).replace(`<ds:Signature xmlns:ds="${NS.ds}">`, '<ds:Signature>'),
    valid: true,
  },
  {
    name: 'root in the default namespace, SignedInfo PrefixList "#default saml2"',
    xml: () => signed({}, { signedInfoPrefixes: ['#default', 'saml2'] }, defaultNamespaceRoot),
    valid: true,
    xmlsec: { ok: false, why: 'xml-crypto (and so we) read #default as a prefix of that name; xmlsec1 as the default namespace, so it canonicalises SignedInfo differently' },
  },
  {
    name: 'root in the default namespace, an empty token in the SignedInfo PrefixList (xml-crypto canonicalises to xmlns:="…")',
    xml: () => signed({}, { signedInfoPrefixes: ['', 'saml2'] }, defaultNamespaceRoot),
    valid: false,
    xmlsec: { ok: false, why: 'what was signed is not well-formed XML' },
  },
  {
    name: 'comments inside signed values (not part of the digest; the values read have none)',
    xml: () => signed({ spType: 'public' }).replace('>public<', '>pub<!--x-->lic<').replace(`>${LOA.substantial}<`, `>http://eidas.europa.eu/LoA/sub<!---->stantial<`),
    valid: true,
  },
  {
    name: 'a comment inside the Issuer: the signature verifies, the intake refuses it (the Issuer is read before the trust lookup)',
    xml: () => signed().replace(`>${SP_ID}<`, `>${SP_ID}<!--x--><`),
    valid: true,
    intake: 'ERR_XML_MIXED_CONTENT',
  },
  {
    name: 'comment injection in the Issuer, text added after the comment',
    xml: () => signed().replace(`>${SP_ID}<`, `>${SP_ID}<!---->.evil.example<`),
    valid: false,
    intake: 'ERR_XML_MIXED_CONTENT',
  },
  {
    name: 'CDATA around the DigestValue text',
    xml: () => signed().replace(/<ds:DigestValue>([^<]+)<\/ds:DigestValue>/, '<ds:DigestValue><![CDATA[$1]]></ds:DigestValue>'),
    valid: true,
  },
  {
    name: 'an Id on the Signature (outside SignedInfo and removed by the enveloped transform)',
    xml: () => signed().replace('<ds:Signature ', '<ds:Signature Id="sig-1" '),
    valid: true,
  },
  {
    name: 'content outside the signed reference (inside KeyInfo)',
    xml: () => signed().replace(/<ds:X509Data>/, `<ds:X509Data><x:Evil xmlns:x="urn:x" AssertionConsumerServiceURL="${EVIL_ACS}"/>`),
    valid: true,
  },
  {
    name: 'the attacker certificate in KeyInfo of an SP signature (KeyInfo is not consulted)',
    xml: () => {
      const b64 = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
      return signed().replace(b64(rsa.certPem), b64(attacker.certPem));
    },
    valid: true,
  },
  {
    name: 'xmlsec1-signed: pretty-printed SignedInfo (CRLF, tabs, spaces inside tags), wrapped base64',
    xml: () => xmlsecSigned(buildAuthnRequestXml(spec()), prettyTemplate({ sigAlg: SIG_ALG.rsaSha256, digestAlg: DIGEST_ALG.sha256 }), rsa),
    valid: true,
  },
  {
    name: 'xmlsec1-signed: ECDSA P-384, default-namespace Signature, Reference PrefixList',
    xml: () =>
      xmlsecSigned(
        buildAuthnRequestXml(spec(CLAVE_REQUEST)),
        prettyTemplate({ sigAlg: SIG_ALG.ecdsaSha384, digestAlg: DIGEST_ALG.sha512, ds: '', referencePrefixes: 'saml2 eidas-natural' }),
        ec384,
      ),
    valid: true,
    cert: () => ec384,
  },
  {
    name: 'xmlsec1-signed: RSA-SHA512, dsig: prefix',
    xml: () => xmlsecSigned(buildAuthnRequestXml(spec({ prefix: 'samlp' })), prettyTemplate({ sigAlg: SIG_ALG.rsaSha512, digestAlg: DIGEST_ALG.sha384, ds: 'dsig' }), rsa),
    valid: true,
  },

  // Invalid, each for a reason only the cryptography can see.
  { name: 'content changed after signing', xml: () => signed().replace('Consent=', 'ForceAuthn="true" Consent='), valid: false },
  { name: 'text changed inside the eIDAS extensions', xml: () => signed({ spType: 'public' }).replace('>public<', '>private<'), valid: false },
  { name: 'signed by a key that is not in the metadata', xml: () => signed({}, { signer: attacker }), valid: false },
  { name: 'signed by the attacker, with the attacker certificate in KeyInfo', xml: () => signed({}, { signer: attacker, keyInfo: true }), valid: false },
  { name: 'evil root with the signed ID and no copy', xml: () => signed().replace(ROOT_OPEN, (m) => m.replace(ACS, EVIL_ACS)), valid: false },
  {
    name: 'another valid-length DigestValue',
    xml: () => signed().replace(/<ds:DigestValue>[^<]+</, `<ds:DigestValue>${createHash('sha256').update('x').digest('base64')}<`),
    valid: false,
  },
  {
    name: 'SignatureValue with one byte changed',
    xml: () =>
      signed().replace(/<ds:SignatureValue>([^<]+)</, (_m, v: string) => {
        const b = Buffer.from(v, 'base64');
        b[10] = b[10]! ^ 1;
        return `<ds:SignatureValue>${b.toString('base64')}<`;
      }),
    valid: false,
  },
  {
    name: 'whitespace added inside SignedInfo after signing (it is signed as it is)',
    xml: () => signed().replace('<ds:SignatureMethod', '\n  <ds:SignatureMethod'),
    valid: false,
  },
  {
    name: 'an ECDSA signature presented as ECDSA-SHA256 over a SHA-512 one',
    xml: () => signed({}, { signer: ec, sigAlg: SIG_ALG.ecdsaSha512 }).replace(SIG_ALG.ecdsaSha512, SIG_ALG.ecdsaSha256),
    valid: false,
    cert: () => ec,
  },
  {
    name: 'SignatureValue split by a CDATA section (xml-crypto reads the first text node only)',
    xml: () => signed().replace(/<ds:SignatureValue>([^<]{20})([^<]+)</, '<ds:SignatureValue>$1<![CDATA[$2]]><'),
    valid: false,
    xmlsec: { ok: true, why: 'xmlsec1 reads all character data of SignatureValue; xml-crypto, and so we, the first text node' },
  },
  {
    name: 'a second ds:Signature inside KeyInfo carrying the same SignatureValue',
    xml: () => {
      const x = signed();
      const sv = /<ds:SignatureValue>[^<]+<\/ds:SignatureValue>/.exec(x)![0];
      return x.replace('<ds:X509Data>', `<ds:Signature>${sv}</ds:Signature><ds:X509Data>`);
    },
    valid: false,
    xmlsec: { ok: true, why: 'xmlsec1 verifies the signature node it is given and ignores a copy inside KeyInfo' },
  },
  {
    // xmldom (under xml-crypto) makes no node of an empty CDATA section, so the two runs of text
    // are one node and SignatureValue/text() reads the whole value; the intake's tree does the same.
    name: 'SignatureValue split by an empty CDATA section',
    xml: () => signed().replace(/(<ds:SignatureValue>[A-Za-z0-9+/]{20})/, '$1<![CDATA[]]>'),
    valid: true,
  },
  {
    name: 'an empty CDATA section in the signed content (xml-crypto cannot canonicalise it)',
    xml: () => signed({ extensionsXml: '<x:E xmlns:x="urn:x">v</x:E>' }).replace('>v</x:E>', '><![CDATA[]]></x:E>'),
    valid: false,
    xmlsec: { ok: false, why: 'the content changed after signing' },
  },
  {
    name: "a root ID with a quote, Reference and ID changed together",
    xml: () => signed().replace('ID="_orig"', `ID="_or'ig"`).replace('URI="#_orig"', `URI="#_or'ig"`),
    valid: false,
  },
];

const before: Case[] = [
  {
    name: 'signed request wrapped inside an evil one',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o)}<saml2p:Extensions><x:Wrap xmlns:x="urn:x">${withoutSig(o)}</x:Wrap></saml2p:Extensions></saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'XSW1: original inside the moved Signature',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o).replace('</ds:Signature>', `${withoutSig(o)}</ds:Signature>`)}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'XSW2: original beside the Signature',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o)}${withoutSig(o)}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'the signed original, with its Signature, as a child of an unsigned evil root',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${o}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'XSW7: signed original parked in Extensions of an unsigned evil root',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}<saml2p:Extensions><x:Ext xmlns:x="urn:x">${o}</x:Ext></saml2p:Extensions></saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'XSW8: original inside ds:Object',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o).replace('</ds:Signature>', `<ds:Object>${withoutSig(o)}</ds:Object></ds:Signature>`)}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_NESTED',
  },
  {
    name: 'XSW1 with the copy renamed (no nested AuthnRequest)',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o).replace('</ds:Signature>', `${renamed(withoutSig(o))}</ds:Signature>`)}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'XSW8 with the copy renamed',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o).replace('</ds:Signature>', `<ds:Object>${renamed(withoutSig(o))}</ds:Object></ds:Signature>`)}</saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'original renamed into Extensions, the evil root referring to it',
    xml: () => {
      const o = signed();
      return `${evilOpen(o, '_evil')}${ISSUER}${sigOf(o)}<saml2p:Extensions>${renamed(withoutSig(o))}</saml2p:Extensions></saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_SIGNATURE_REFERENCE',
  },
  {
    name: 'duplicate ID: evil root reusing the signed ID, the original copy kept in Extensions',
    xml: () => {
      const o = signed();
      const copy = withoutSig(o).replace(ROOT_OPEN, (m) => m.replace('saml2p:AuthnRequest', 'x:Copy xmlns:x="urn:x"')).replace('</saml2p:AuthnRequest>', '</x:Copy>');
      return `${evilOpen(o, '_orig')}${ISSUER}${sigOf(o)}<saml2p:Extensions>${copy}</saml2p:Extensions></saml2p:AuthnRequest>`;
    },
    before: 'ERR_REQUEST_DUPLICATE_ID',
  },
  {
    name: 'duplicate ID on an Id attribute of a foreign element',
    xml: () => signed({ spType: 'public' }).replace('</saml2p:Extensions>', `<x:E xmlns:x="urn:x" Id="_orig" acs="${EVIL_ACS}"/></saml2p:Extensions>`),
    before: 'ERR_REQUEST_DUPLICATE_ID',
  },
  {
    name: 'two Signatures (an attacker one added in Scoping)',
    xml: () => signed().replace('</saml2p:AuthnRequest>', `<saml2p:Scoping>${sigOf(signed({}, { signer: attacker }))}</saml2p:Scoping></saml2p:AuthnRequest>`),
    before: 'signatures: 2',
  },
  {
    name: 'two Signatures, the second inside the signed content',
    xml: () => signed({ trailingXml: `<saml2p:Scoping>${sigOf(signed({}, { signer: attacker }))}</saml2p:Scoping>` }),
    before: 'signatures: 2',
    stricter: 'exactly one ds:Signature in the document; xml-crypto verifies the first and ignores the other',
  },
  {
    name: 'a ds:Signature in a fake namespace',
    xml: () => signed().replace(`<ds:Signature xmlns:ds="${NS.ds}"`, `<ds:Signature xmlns:ds="${NS.ds}evil"`),
    before: 'signatures: 0',
  },
  {
    name: 'two SignedInfo (CVE-2025-29774)',
    xml: () => {
      const o = signed();
      const si = /<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/.exec(o)![0];
      return o.replace(si, si + si);
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'two References (CVE-2025-29774)',
    xml: () => {
      const o = signed();
      const ref = /<ds:Reference [\s\S]*?<\/ds:Reference>/.exec(o)![0];
      return o.replace(ref, ref + ref);
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'a comment inside DigestValue (CVE-2025-29775)',
    xml: () => signed().replace('<ds:DigestValue>', '<ds:DigestValue><!--x-->'),
    before: 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT',
    stricter: 'xml-crypto 6 reads DigestValue from canonical SignedInfo, where the comment is gone; we refuse anything but base64 text',
  },
  {
    name: 'a comment inside SignatureValue',
    xml: () => signed().replace('<ds:SignatureValue>', '<ds:SignatureValue><!--x-->'),
    before: 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT',
    stricter: 'xml-crypto takes the first text node, which is the whole value here; we refuse anything but base64 text',
  },
  {
    name: 'SignatureValue with characters outside base64',
    xml: () => signed().replace('<ds:SignatureValue>', '<ds:SignatureValue>!!'),
    before: 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT',
    stricter: "Node's base64 decoder skips the characters it does not know; we refuse them",
  },
  {
    name: 'DigestValue moved out of the Reference (ruby-saml CVE-2024-45409)',
    xml: () => {
      const o = signed();
      const dv = /<ds:DigestValue>[^<]*<\/ds:DigestValue>/.exec(o)![0];
      return o.replace(dv, '').replace('</ds:Signature>', `${dv}</ds:Signature>`);
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'an extra DigestValue after the Signature content',
    xml: () => {
      const o = signed();
      return o.replace('</ds:Signature>', `${/<ds:DigestValue>[^<]*<\/ds:DigestValue>/.exec(o)![0]}</ds:Signature>`);
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
    stricter: 'unsigned XML-DSig content inside ds:Signature is refused; xml-crypto never reads it',
  },
  {
    name: 'a stray DigestValue added in Scoping',
    xml: () => {
      const o = signed();
      const dv = /<ds:DigestValue>[^<]*<\/ds:DigestValue>/.exec(o)![0].replace('<ds:DigestValue>', `<ds:DigestValue xmlns:ds="${NS.ds}">`);
      return o.replace('</saml2p:AuthnRequest>', `<saml2p:Scoping>${dv}</saml2p:Scoping></saml2p:AuthnRequest>`);
    },
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
  },
  {
    name: 'a ds:DigestValue inside the signed content (Scoping)',
    xml: () => signed({ trailingXml: `<saml2p:Scoping><ds:DigestValue xmlns:ds="${NS.ds}">AAAA</ds:DigestValue></saml2p:Scoping>` }),
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
    stricter: 'XML-DSig elements outside a ds:Signature are refused; xml-crypto never reads them',
  },
  {
    name: 'xml-crypto signing with a Reference PrefixList (it writes InclusiveNamespaces into the enveloped-signature Transform too)',
    xml: () => signed(CLAVE_REQUEST, { referencePrefixes: ['eidas-natural'] }),
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
    stricter: 'the enveloped-signature Transform takes no content; xml-crypto ignores what is in it',
  },
  {
    name: 'Signature at the end instead of right after Issuer',
    xml: () => {
      const o = signed();
      return withoutSig(o).replace('</saml2p:AuthnRequest>', `${sigOf(o)}</saml2p:AuthnRequest>`);
    },
    before: 'ERR_REQUEST_SIGNATURE_PLACEMENT',
    stricter: 'SAML core §5.4.1 places the Signature right after Issuer; xml-crypto verifies it anywhere',
  },
  {
    name: 'a ds:Object in the Signature',
    xml: () => signed().replace('</ds:Signature>', '<ds:Object><x>y</x></ds:Object></ds:Signature>'),
    before: 'ERR_REQUEST_SIGNATURE_STRUCTURE',
    stricter: 'unsigned ds:Object content is refused; xml-crypto never reads it',
  },
  { name: 'Reference URI emptied after signing', xml: () => signed().replace(/URI="#[^"]+"/, 'URI=""'), before: 'ERR_REQUEST_SIGNATURE_REFERENCE' },
  {
    name: 'enveloped-signature transform removed after signing',
    xml: () => signed().replace(`<ds:Transform Algorithm="${ENVELOPED}"/>`, ''),
    before: 'ERR_REQUEST_SIGNATURE_TRANSFORMS',
  },
  {
    name: 'CanonicalizationMethod WithComments',
    xml: () => signed().replace(`<ds:CanonicalizationMethod Algorithm="${NS.exc14n}"`, `<ds:CanonicalizationMethod Algorithm="${NS.exc14n}WithComments"`),
    before: 'ERR_REQUEST_SIGNATURE_C14N',
  },
  {
    name: 'HMAC-SHA1 keyed with the SP certificate',
    xml: () => {
      const sx = new SignedXml({ privateKey: rsa.certPem, signatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#hmac-sha1', canonicalizationAlgorithm: NS.exc14n });
      sx.enableHMAC();
      sx.addReference({ xpath: '/*', transforms: [ENVELOPED, NS.exc14n], digestAlgorithm: DIGEST_ALG.sha256 });
      sx.computeSignature(buildAuthnRequestXml(spec()), { prefix: 'ds', location: { reference: "/*/*[local-name()='Issuer']", action: 'after' } });
      return sx.getSignedXml();
    },
    before: 'ERR_REQUEST_SIGNATURE_ALGORITHM',
  },
  { name: 'RSA-SHA1 without the opt-in', xml: () => signed({}, { sigAlg: SIG_ALG.rsaSha1 }), before: 'ERR_REQUEST_SIGNATURE_ALGORITHM' },
  { name: 'SHA-1 digest without the opt-in', xml: () => signed({}, { digestAlg: DIGEST_ALG.sha1 }), before: 'ERR_REQUEST_DIGEST_ALGORITHM' },
  {
    name: 'ECDSA signature for an SP with RSA keys only',
    xml: () => signed({}, { signer: ec, sigAlg: SIG_ALG.ecdsaSha256 }),
    sp: () => makeServiceProvider({ entityId: SP_ID, signers: [rsa], acs: ACS_LIST }),
    before: 'ERR_REQUEST_NO_SIGNING_KEY',
  },
];

// ---------------------------------------------------------------------------------------------

describe('the verifier gives xml-crypto’s verdict on every case that reaches it', () => {
  it.each(reaching.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const xml = await c.xml();
    const sp = (c.sp ?? defaultSp)();
    const oracle = xmlCrypto(xml, sp);
    const mine = ours(xml, sp);
    if (!mine.valid) expect({ stage: mine.stage, code: mine.code, message: mine.message }).toMatchObject({ stage: 'verifier' });
    expect(mine.valid).toBe(c.valid);
    expect(oracle.valid).toBe(mine.valid);
    if (mine.valid && oracle.valid) {
      // The same canonical octets: what SignatureValue signs, and what DigestValue digests.
      expect(mine.signed.signedInfo).toBe(oracle.signedInfo);
      expect(mine.signed.reference).toBe(oracle.reference);
      // The root now is the signed node: no Signature, no comments, and its canonical form is what was digested.
      expect(mine.signed.reference).not.toContain('<!--');
      const comments: unknown[] = [];
      const signatures: unknown[] = [];
      const walk = (n: LightElement): void => {
        for (let k = n.firstChild; k; k = k.nextSibling) {
          if (k.nodeType === 8) comments.push(k);
          else if (k.nodeType === 1) {
            if (k.namespaceURI === NS.ds && k.localName === 'Signature') signatures.push(k);
            walk(k);
          }
        }
      };
      walk(mine.root);
      expect(signatures).toEqual([]);
      expect(comments).toEqual([]);
    }
    if (!mine.valid && !oracle.valid) expect(mine.message).toBe(messageFor(oracle));

    // The whole intake: accepted when valid (unless a case names the refusal), refused with the verifier's code otherwise.
    const r = await intake(xml, sp);
    const answer = r.ok ? 'accepted' : r.failure.code;
    const expected = c.intake ?? (c.valid ? 'accepted' : 'ERR_REQUEST_SIGNATURE_INVALID');
    expect(answer === expected ? answer : `${answer}: ${r.ok ? '' : r.failure.message}`).toBe(expected);
    if (!r.ok && !mine.valid && r.failure.code === mine.code) expect(r.failure.message).toBe(mine.message);
    if (!r.ok) expect(r.failure.respondTo).toBeUndefined();
    else expect(JSON.stringify(r.request)).not.toContain('evil');
  });
});

describe('cases the allow-list refuses before verifying', () => {
  it.each(before.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const xml = await c.xml();
    const sp = (c.sp ?? defaultSp)();
    const mine = ours(xml, sp);
    expect(mine.valid ? 'valid' : `${mine.stage} ${mine.code}`).toBe(`before ${c.before}`);
    const oracle = xmlCrypto(xml, sp);
    // Where xml-crypto alone would accept, the case says why we refuse; nowhere do we accept what it refuses.
    expect({ xmlCryptoAccepts: oracle.valid, stricter: c.stricter !== undefined }).toEqual({ xmlCryptoAccepts: c.stricter !== undefined, stricter: c.stricter !== undefined });
    const r = await intake(xml, sp);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.failure.respondTo).toBeUndefined();
  });
});

describe('xmlsec1 agrees on the cases that reach the verifier', () => {
  const cases = reaching.filter((c) => c.xmlsec !== 'skip');
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const xml = await c.xml();
    const expected = c.xmlsec && c.xmlsec !== 'skip' ? c.xmlsec.ok : c.valid;
    const v = await xmlsecVerify(xml, { certPem: (c.cert ?? (() => rsa))().certPem, node: 'request' });
    expect({ ok: v.ok, err: v.ok === expected ? '' : v.stderr.slice(0, 400) }).toEqual({ ok: expected, err: '' });
  });
});

it('the case lists cover both verdicts, every algorithm and both signers', () => {
  expect(reaching.filter((c) => c.valid).length).toBeGreaterThan(20);
  expect(reaching.filter((c) => !c.valid).length).toBeGreaterThan(10);
  expect(before.filter((c) => c.stricter).length).toBeGreaterThan(0);
});
