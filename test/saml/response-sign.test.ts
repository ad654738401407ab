import { createHash, createPublicKey } from 'node:crypto';
import { SIG_ALG, type SignatureAlgorithmUri } from '../../src/saml/constants';
import { buildResponse, buildErrorResponse } from '../../src/saml/response';
import { buildSignedInfo, signCanonical, splitForSignature } from '../../src/saml/sign';
import { STATUS } from '../../src/saml/constants';
import { childElements, parseXml } from '../../src/saml/xml';
import { runXmlsec1, xmlsecVerify } from '../support/xmlsec';
import {
  ecKey,
  elementText,
  excC14n,
  findAll,
  findFirst,
  LINE_SEPARATOR_VALUE,
  prefixListOf,
  responseInput,
  rsaKey,
  signatureOf,
  verifySignedInfo,
  xmlCryptoVerify,
  type TestKey,
} from './response-fixtures';

const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

const rsa = rsaKey('pasarela-test-rsa');
const ec = ecKey('pasarela-test-ec');
const other = rsaKey('someone-else');

const ALGORITHMS: Array<{ name: string; uri: SignatureAlgorithmUri; key: TestKey; hash: 'sha256' | 'sha512'; xmlsec: boolean }> = [
  { name: 'RSA-SHA256', uri: SIG_ALG.rsaSha256, key: rsa, hash: 'sha256', xmlsec: true },
  { name: 'RSA-SHA512', uri: SIG_ALG.rsaSha512, key: rsa, hash: 'sha512', xmlsec: true },
  // xmlsec1 1.2.37 has no RSASSA-PSS (added in xmlsec 1.3): checked by xml-crypto and node:crypto only.
  { name: 'RSA-PSS-SHA256', uri: SIG_ALG.rsaPssSha256, key: rsa, hash: 'sha256', xmlsec: false },
  { name: 'ECDSA-SHA256', uri: SIG_ALG.ecdsaSha256, key: ec, hash: 'sha256', xmlsec: true },
];

function text(el: Element, localName: string): string {
  return findFirst(el, localName).textContent ?? '';
}

/** Everything we can check about one enveloped signature inside `el`. */
function checkEnvelopedSignature(xml: string, el: Element, key: TestKey, uri: SignatureAlgorithmUri, hash: 'sha256' | 'sha512'): void {
  const sig = signatureOf(el);
  const prefixes = prefixListOf(sig);
  // 1. The element's canonical form (xml-crypto's exclusive c14n) is byte-identical to our text.
  const qname = el.tagName;
  expect(excC14n(el, prefixes)).toBe(elementText(xml, qname));
  // 2. Without its own Signature (the enveloped transform) it hashes to the DigestValue.
  const parent = sig.parentNode!;
  const next = sig.nextSibling;
  parent.removeChild(sig);
  const enveloped = excC14n(el, prefixes);
  parent.insertBefore(sig, next);
  const digest = createHash(hash).update(enveloped, 'utf8').digest('base64');
  expect(text(sig, 'DigestValue')).toBe(digest);
  // 3. SignedInfo: our canonical template equals xml-crypto's c14n of the SignedInfo node, and
  //    the SignatureValue verifies over exactly that text.
  const signedInfoNode = childElements(sig).find((c) => c.localName === 'SignedInfo')!;
  const ours = buildSignedInfo({ id: el.getAttribute('ID')!, algorithm: uri, digestValue: digest, inclusivePrefixes: prefixes });
  expect(excC14n(signedInfoNode)).toBe(ours.canonical);
  expect(verifySignedInfo(uri, ours.canonical, key.certPem, text(sig, 'SignatureValue'))).toBe(true);
  // 4. Signature placed right after the Issuer.
  const kids = childElements(el);
  expect(kids[0]!.localName).toBe('Issuer');
  expect(kids[1]).toBe(sig);
  // 5. KeyInfo carries our certificate.
  expect(text(sig, 'X509Certificate')).toBe(key.certB64);
  expect(findFirst(sig, 'SignatureMethod').getAttribute('Algorithm')).toBe(uri);
}

describe.each(ALGORITHMS)('template signing with $name', ({ uri, key, hash, xmlsec }) => {
  let xml: string;
  beforeAll(async () => {
    xml = await buildResponse(responseInput(), { key, algorithm: uri, signResponse: true, signAssertion: true });
  });

  it('xml-crypto checkSignature verifies the Response and the Assertion signatures', () => {
    const r = xmlCryptoVerify(xml, 'Response', key.certPem);
    expect(r.ok).toBe(true);
    expect(r.signed).toHaveLength(1);
    const a = xmlCryptoVerify(xml, 'Assertion', key.certPem);
    expect(a.ok).toBe(true);
    expect(a.signed).toHaveLength(1);
    // The wrong key does not verify (the check can fail).
    const otherKey = uri === SIG_ALG.ecdsaSha256 ? ecKey('other-ec') : other;
    expect(xmlCryptoVerify(xml, 'Response', otherKey.certPem).ok).toBe(false);
    expect(xmlCryptoVerify(xml, 'Assertion', otherKey.certPem).ok).toBe(false);
  });

  it('our canonical text of each signed element and SignedInfo is byte-identical to xml-crypto exclusive c14n', () => {
    const doc = parseXml(xml);
    // The whole output is the Response in canonical form.
    expect(excC14n(doc.documentElement, prefixListOf(signatureOf(doc.documentElement)))).toBe(xml);
    checkEnvelopedSignature(xml, doc.documentElement, key, uri, hash);
    const assertion = findAll(doc.documentElement, NS_SAML, 'Assertion')[0]!;
    checkEnvelopedSignature(xml, assertion, key, uri, hash);
    // The eIDAS QName prefix is kept by the PrefixList on both signatures.
    expect(prefixListOf(signatureOf(doc.documentElement))).toEqual(['eidas-natural']);
    expect(prefixListOf(signatureOf(assertion))).toEqual(['eidas-natural']);
  });

  if (!xmlsec) {
    it('xmlsec1 here has no RSASSA-PSS (xmlsec 1.3 adds it): when it does, enable the xmlsec1 check for this algorithm', async () => {
      const r = await runXmlsec1(['--list-transforms'], {});
      expect(r.stdout + r.stderr).toMatch(/rsa-sha256/);
      expect(r.stdout + r.stderr).not.toMatch(/rsa-pss|sha256-rsa-MGF1/i);
    });
  }

  if (xmlsec) it('xmlsec1 --verify accepts the Response signature and, separately, the Assertion signature', async () => {
    for (const node of ['response', 'assertion'] as const) {
      const r = await xmlsecVerify(xml, { certPem: key.certPem, node });
      expect({ node, ok: r.ok, stderr: r.ok ? '' : r.stderr }).toEqual({ node, ok: true, stderr: '' });
      // And with the KeyInfo certificate checked against a trust anchor instead of a bare key.
      const t = await xmlsecVerify(xml, { certPem: key.certPem, node, trust: 'trusted' });
      expect({ node, ok: t.ok, stderr: t.ok ? '' : t.stderr }).toEqual({ node, ok: true, stderr: '' });
      // A key that did not sign fails.
      const wrong = await xmlsecVerify(xml, { certPem: (uri === SIG_ALG.ecdsaSha256 ? ecKey('x') : other).certPem, node });
      expect(wrong.ok).toBe(false);
    }
  });

  it('a tampered byte makes xml-crypto and xmlsec1 fail', async () => {
    // One character of one attribute value inside the (doubly) signed assertion.
    const i = xml.indexOf('ES/ES/12345678Z');
    expect(i).toBeGreaterThan(0);
    const tampered = `${xml.slice(0, i)}ES/ES/12345678X${xml.slice(i + 'ES/ES/12345678Z'.length)}`;
    expect(parseXml(tampered)).toBeTruthy();
    expect(xmlCryptoVerify(tampered, 'Response', key.certPem).ok).toBe(false);
    expect(xmlCryptoVerify(tampered, 'Assertion', key.certPem).ok).toBe(false);
    if (xmlsec) {
      expect((await xmlsecVerify(tampered, { certPem: key.certPem, node: 'response' })).ok).toBe(false);
      expect((await xmlsecVerify(tampered, { certPem: key.certPem, node: 'assertion' })).ok).toBe(false);
    }
    // A byte in the Response outside the assertion breaks only the Response signature.
    const j = xml.indexOf('Destination="https://') + 'Destination="https://'.length;
    const tampered2 = `${xml.slice(0, j)}x${xml.slice(j + 1)}`;
    expect(xmlCryptoVerify(tampered2, 'Response', key.certPem).ok).toBe(false);
    expect(xmlCryptoVerify(tampered2, 'Assertion', key.certPem).ok).toBe(true);
    if (xmlsec) {
      expect((await xmlsecVerify(tampered2, { certPem: key.certPem, node: 'response' })).ok).toBe(false);
      expect((await xmlsecVerify(tampered2, { certPem: key.certPem, node: 'assertion' })).ok).toBe(true);
    }
  });
});

describe('c14n equivalence for hostile values in text and attributes', () => {
  const weird = [
    '<>&"\'',
    '\t\n\r',
    'a\r\nb\rc\nd',
    ']]>',
    ']]&gt;',
    'ñ€𝄞\u00a0\ufeff',
    // Line separators that xmldom (XML 1.1 rules) would turn into LF: sent as character references.
    LINE_SEPARATOR_VALUE,
    ' ',
    '',
  ];
  it.each(weird.map((w) => [JSON.stringify(w), w]))('value %s round-trips byte-identically', async (_label, w) => {
    const xml = await buildResponse(
      responseInput({
        nameId: { format: 'persistent', value: `n${w}`, spNameQualifier: `spq${w}`, nameQualifier: `nq${w}` },
        sessionIndex: `_s${w}`,
        clientAddress: `addr${w}`,
        attributes: [
          { name: 'http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName', friendlyName: `F${w}`, eidasType: 'CurrentGivenNameType', values: [w, `x${w}y`] },
          { name: `urn:x:${w}`, friendlyName: 'plain', values: [w] },
        ],
      }),
      { key: rsa, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: true },
    );
    expect(xml).not.toMatch(/[\u0085\u2028]/);
    // Our canonical text = the document with those two character references resolved.
    const canonical = xml.replace(/&#x85;/g, '\u0085').replace(/&#x2028;/g, '\u2028');
    const doc = parseXml(xml);
    expect(excC14n(doc.documentElement, ['eidas-natural'])).toBe(canonical);
    const assertion = findAll(doc.documentElement, NS_SAML, 'Assertion')[0]!;
    expect(excC14n(assertion, ['eidas-natural'])).toBe(elementText(canonical, 'saml:Assertion'));
    expect(xmlCryptoVerify(xml, 'Response', rsa.certPem).ok).toBe(true);
    expect(xmlCryptoVerify(xml, 'Assertion', rsa.certPem).ok).toBe(true);
    // The parser hands back exactly the values we put in (no normalisation lost a byte).
    const values = findAll(assertion, NS_SAML, 'AttributeValue').map((v) => v.textContent);
    expect(values).toEqual([w, `x${w}y`, w]);
    expect(findFirst(assertion, 'NameID').getAttribute('SPNameQualifier')).toBe(`spq${w}`);
    expect(findFirst(assertion, 'SubjectConfirmationData').getAttribute('Address')).toBe(`addr${w}`);
    for (const node of ['response', 'assertion'] as const) {
      const r = await xmlsecVerify(xml, { certPem: rsa.certPem, node });
      expect(r.ok ? 'ok' : r.stderr).toBe('ok');
    }
  });

  it('without eIDAS-typed values there is no InclusiveNamespaces and c14n still matches', async () => {
    const xml = await buildResponse(responseInput({ attributes: [{ name: 'urn:x', friendlyName: 'x', values: ['v'] }] }), {
      key: rsa,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    expect(xml).not.toContain('InclusiveNamespaces');
    const doc = parseXml(xml);
    expect(excC14n(doc.documentElement)).toBe(xml);
    expect(xmlCryptoVerify(xml, 'Response', rsa.certPem).ok).toBe(true);
    expect((await xmlsecVerify(xml, { certPem: rsa.certPem, node: 'assertion' })).ok).toBe(true);
  });

  it('without the PrefixList, exclusive c14n would drop the eidas-natural declaration (why we need it)', async () => {
    const xml = await buildResponse(responseInput(), { key: rsa, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: true });
    const doc = parseXml(xml);
    const plain = excC14n(doc.documentElement);
    expect(plain).not.toBe(xml);
    expect(plain).not.toContain('xmlns:eidas-natural');
    expect(xml).toContain('xmlns:eidas-natural');
  });
});

describe('encrypted assertion: the Response signature covers the EncryptedAssertion', () => {
  it('is canonical and verifies with xml-crypto and xmlsec1', async () => {
    const sp = rsaKey('sp-enc');
    const xml = await buildResponse(responseInput(), {
      key: rsa,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
      encryptTo: { certPem: sp.certPem, key: createPublicKey(sp.key) },
    });
    const doc = parseXml(xml);
    expect(prefixListOf(signatureOf(doc.documentElement))).toEqual([]);
    expect(excC14n(doc.documentElement)).toBe(xml);
    expect(findAll(doc.documentElement, NS_SAML, 'EncryptedAssertion')).toHaveLength(1);
    expect(findAll(doc.documentElement, NS_SAML, 'Assertion')).toHaveLength(0);
    expect(xmlCryptoVerify(xml, 'Response', rsa.certPem).ok).toBe(true);
    expect((await xmlsecVerify(xml, { certPem: rsa.certPem, node: 'response' })).ok).toBe(true);
    // Tampering with the ciphertext breaks the Response signature.
    const i = xml.indexOf('<xenc:CipherValue>') + '<xenc:CipherValue>'.length + 5;
    const flipped = xml[i] === 'A' ? 'B' : 'A';
    const tampered = xml.slice(0, i) + flipped + xml.slice(i + 1);
    expect(xmlCryptoVerify(tampered, 'Response', rsa.certPem).ok).toBe(false);
    expect((await xmlsecVerify(tampered, { certPem: rsa.certPem, node: 'response' })).ok).toBe(false);
  });
});

describe('error responses and the generic signer', () => {
  it('an error Response is canonical and verifies', async () => {
    const xml = await buildErrorResponse(
      {
        issuer: 'https://idp',
        destination: 'https://sp/acs',
        inResponseTo: '_r',
        now: new Date(),
        status: STATUS.responder,
        subStatus: STATUS.noAuthnContext,
        message: 'LoA <high> & "more"\r\n',
      },
      { key: ec, algorithm: SIG_ALG.ecdsaSha256 },
    );
    const doc = parseXml(xml);
    expect(excC14n(doc.documentElement)).toBe(xml);
    expect(xmlCryptoVerify(xml, 'Response', ec.certPem).ok).toBe(true);
    expect((await xmlsecVerify(xml, { certPem: ec.certPem, node: 'response' })).ok).toBe(true);
  });

  it('splitForSignature finds the Issuer even with ">" in attribute values', async () => {
    const canonical =
      '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Destination="https://sp/a>b" ID="_x1" Version="2.0">' +
      '<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">i&gt;</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"></samlp:StatusCode></samlp:Status></samlp:Response>';
    const { head, tail } = splitForSignature(canonical);
    expect(head.endsWith('</saml:Issuer>')).toBe(true);
    expect(head + tail).toBe(canonical);
    const xml = await signCanonical({ id: '_x1', head, tail }, { key: rsa, algorithm: SIG_ALG.rsaSha256 });
    expect(xmlCryptoVerify(xml, 'Response', rsa.certPem).ok).toBe(true);
    const sig = childElements(parseXml(xml).documentElement)[1]!;
    expect(sig.namespaceURI).toBe(DS);
  });

  it('refuses SHA-1, a key of the wrong family, and unsigned responses', async () => {
    await expect(buildResponse(responseInput(), { key: rsa, algorithm: SIG_ALG.rsaSha1, signResponse: true, signAssertion: false })).rejects.toMatchObject({
      code: 'ERR_SIGNING_ALGORITHM',
    });
    await expect(buildResponse(responseInput(), { key: ec, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: false })).rejects.toMatchObject({
      code: 'ERR_SIGNING_KEY',
    });
    await expect(buildResponse(responseInput(), { key: rsa, algorithm: SIG_ALG.ecdsaSha256, signResponse: true, signAssertion: false })).rejects.toMatchObject({
      code: 'ERR_SIGNING_KEY',
    });
    await expect(buildResponse(responseInput(), { key: rsa, algorithm: SIG_ALG.rsaSha256, signResponse: false, signAssertion: false })).rejects.toMatchObject({
      code: 'ERR_RESPONSE_UNSIGNED',
    });
  });
});
