import { execFileSync } from 'node:child_process';
import { constants, createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyLike } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import { makeSelfSignedRsa, pemToB64 } from '../../src/pki/self-signed';
import { CLAVE, EIDAS_ATTR, LOA, SIG_ALG, type SignatureAlgorithmUri } from '../../src/saml/constants';
import type { AttributeValueOut, ResponseInput, SigningKey } from '../../src/saml/types';
import { childElements, parseXml } from '../../src/saml/xml';

/** Shared material for the response / metadata tests (not a test file itself). */

export interface TestKey extends SigningKey {
  keyPem: string;
}

export function rsaKey(cn: string): TestKey {
  const kc = makeSelfSignedRsa(cn);
  return { key: createPrivateKey(kc.keyPem), keyPem: kc.keyPem, certPem: kc.certPem, certB64: pemToB64(kc.certPem) };
}

/** An ECDSA P-256 key and self-signed certificate, made by the openssl CLI (node-forge has no EC). */
export function ecKey(cn: string): TestKey {
  const dir = mkdtempSync(join(tmpdir(), 'pasarela-ec-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30', '-subj', `/CN=${cn}`,
    ], { stdio: 'pipe' });
    const keyPem = readFileSync(join(dir, 'key.pem'), 'utf8');
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: createPrivateKey(keyPem), keyPem, certPem, certB64: pemToB64(certPem) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const IDP = 'https://pasarela.example.es/metadata';
export const SP = 'https://sp.example.org/saml/metadata';
export const ACS = 'https://sp.example.org/saml/acs';

export const INJECTION = '</saml:AttributeValue><saml:Attribute Name="role">x';
/** Values that exercise every c14n escaping rule and the parser's normalisations. */
export const NASTY_VALUES = [
  INJECTION,
  'a<b>c&d"e\'f',
  'tab\there',
  'cr\rlf\ncrlf\r\nend',
  'José Ñúñez Ωνάσης 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀',
  'x]]>y',
  '  leading and trailing  ',
  '&amp; already-escaped &#x41;',
];

/**
 * U+0085 / U+2028: @xmldom/xmldom turns them into LF when they are literal (XML 1.1 line-end
 * rules); we send them as character references (sign.ts `wireForm`).
 */
export const LINE_SEPARATOR_VALUE = 'nel\u0085ls\u2028end';

export function attributes(values: string[] = NASTY_VALUES): AttributeValueOut[] {
  return [
    { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', eidasType: 'PersonIdentifierType', values: ['ES/ES/12345678Z'] },
    { name: EIDAS_ATTR.currentGivenName, friendlyName: 'FirstName', eidasType: 'CurrentGivenNameType', values },
    { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', eidasType: 'CurrentFamilyNameType', values: ['García Rodríguez'] },
    { name: EIDAS_ATTR.dateOfBirth, friendlyName: 'DateOfBirth', eidasType: 'DateOfBirthType', values: ['1980-01-01'] },
    { name: CLAVE.firstSurname, friendlyName: 'FirstSurname', values: ['García'] },
    { name: CLAVE.selectedIdP, friendlyName: 'SelectedIdP', values: ['PIN24H'] },
  ];
}

export function responseInput(over: Partial<ResponseInput> = {}): ResponseInput {
  const now = over.now ?? new Date();
  return {
    issuer: IDP,
    destination: ACS,
    inResponseTo: '_a1b2c3d4e5f60718293a4b5c6d7e8f90',
    audience: SP,
    now,
    assertionLifetimeSeconds: 300,
    nameId: { format: 'persistent', value: 'pairwise-7f3a', spNameQualifier: SP, nameQualifier: IDP },
    authnInstant: new Date(now.getTime() - 5_000),
    sessionIndex: '_sess9',
    achievedLoa: LOA.substantial,
    attributes: attributes(),
    oneTimeUse: true,
    ...over,
  };
}

// ---- xml-crypto as an independent verifier ---------------------------------------------

/** XML-DSig ECDSA for xml-crypto (not built in): r||s signature values, RFC 4050. */
class EcdsaSha256 {
  getSignature(signedInfo: string, privateKey: KeyLike): string {
    const key = createPrivateKey(privateKey as string | Buffer);
    return sign('sha256', Buffer.from(signedInfo), { key, dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  verifySignature(material: string, publicKey: KeyLike, signatureValue: string): boolean {
    const key = createPublicKey(publicKey as string | Buffer);
    return verify('sha256', Buffer.from(material), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureValue, 'base64'));
  }
  getAlgorithmName(): string {
    return SIG_ALG.ecdsaSha256;
  }
}

const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** The ds:Signature that is a direct child of `el`. */
export function signatureOf(el: Element): Element {
  const sigs = childElements(el).filter((c) => c.namespaceURI === DS && c.localName === 'Signature');
  if (sigs.length !== 1) throw new Error(`${el.localName} has ${sigs.length} Signature children`);
  return sigs[0]!;
}

/**
 * xml-crypto checkSignature of the signature enveloped in `el` (found by local name),
 * against `certPem` only (KeyInfo ignored). Returns the canonical XML xml-crypto signed-off on.
 */
export function xmlCryptoVerify(xml: string, localName: string, certPem: string): { ok: boolean; signed: string[] } {
  const doc = parseXml(xml);
  const el = localName === doc.documentElement.localName ? doc.documentElement : findFirst(doc.documentElement, localName);
  const sig = new SignedXml({ publicCert: certPem, getCertFromKeyInfo: () => null });
  (sig.SignatureAlgorithms as Record<string, unknown>)[SIG_ALG.ecdsaSha256] = EcdsaSha256;
  sig.loadSignature(signatureOf(el));
  let ok = false;
  try {
    ok = sig.checkSignature(xml);
  } catch {
    ok = false;
  }
  return { ok, signed: ok ? sig.getSignedReferences() : [] };
}

export function findFirst(root: Element, localName: string): Element {
  const stack: Element[] = [root];
  while (stack.length > 0) {
    const el = stack.shift()!;
    if (el.localName === localName) return el;
    stack.unshift(...childElements(el));
  }
  throw new Error(`no ${localName}`);
}

export function findAll(root: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  const walk = (el: Element): void => {
    if (el.localName === localName && el.namespaceURI === ns) out.push(el);
    for (const c of childElements(el)) walk(c);
  };
  walk(root);
  return out;
}

/** xml-crypto's exclusive c14n of `el` (in its document), with an InclusiveNamespaces PrefixList. */
export function excC14n(el: Element, prefixes: string[] = []): string {
  return new ExclusiveCanonicalization().process(el, { inclusiveNamespacesPrefixList: prefixes }) as string;
}

/** The PrefixList a signature's exc-c14n transform carries ([] when none). */
export function prefixListOf(signature: Element): string[] {
  const incl = findAll(signature, 'http://www.w3.org/2001/10/xml-exc-c14n#', 'InclusiveNamespaces');
  return incl.length === 0 ? [] : (incl[0]!.getAttribute('PrefixList') ?? '').split(' ').filter(Boolean);
}

/** Exact substring of the serialized element `<prefix:Name ...>...</prefix:Name>` starting at its first occurrence. */
export function elementText(xml: string, qname: string): string {
  const start = xml.indexOf(`<${qname} `);
  const endTag = `</${qname}>`;
  const end = xml.indexOf(endTag, start);
  if (start < 0 || end < 0) throw new Error(`no ${qname} in output`);
  return xml.slice(start, end + endTag.length);
}

/** Verify a SignatureValue over given canonical SignedInfo text with node:crypto. */
export function verifySignedInfo(algorithm: SignatureAlgorithmUri, signedInfo: string, certPem: string, signatureValueB64: string): boolean {
  const key = new X509Certificate(certPem).publicKey;
  const sig = Buffer.from(signatureValueB64, 'base64');
  const data = Buffer.from(signedInfo, 'utf8');
  switch (algorithm) {
    case SIG_ALG.rsaSha256:
      return verify('sha256', data, key, sig);
    case SIG_ALG.rsaSha512:
      return verify('sha512', data, key, sig);
    case SIG_ALG.rsaPssSha256:
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, sig);
    case SIG_ALG.ecdsaSha256:
      return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    default:
      throw new Error(`no verifier for ${algorithm}`);
  }
}

export function publicKeyOf(certPem: string) {
  return createPublicKey(certPem);
}
