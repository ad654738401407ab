import { createPublicKey } from 'node:crypto';
import * as xmlenc from 'xml-encryption';
import {
  ATTRNAME_FORMAT_URI,
  CM_BEARER,
  CONSENT_OBTAINED,
  EIDAS_ATTR,
  ENC_ALG,
  LOA,
  NAMEID_FORMAT,
  SIG_ALG,
  STATUS,
} from '../../src/saml/constants';
import { encryptAssertion } from '../../src/saml/encrypt';
import { NOT_BEFORE_SKEW_SECONDS, buildErrorResponse, buildResponse, newSamlId, samlInstant } from '../../src/saml/response';
import { childElements, parseXml } from '../../src/saml/xml';
import { xmlsecDecrypt, xmlsecVerify } from '../support/xmlsec';
import { ACS, IDP, SP, ecKey, findAll, responseInput, rsaKey, xmlCryptoVerify } from './response-fixtures';

const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
};

const idp = rsaKey('shape-idp');
const spEnc = rsaKey('shape-sp-enc');
const NOW = new Date('2026-03-01T10:00:00.000Z');

function kids(el: Element, ns?: string, name?: string): Element[] {
  return childElements(el).filter((c) => (ns === undefined || c.namespaceURI === ns) && (name === undefined || c.localName === name));
}
function one(el: Element, ns: string, name: string): Element {
  const found = kids(el, ns, name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('Response structure', () => {
  let response: Element;
  let assertion: Element;
  beforeAll(async () => {
    const xml = await buildResponse(responseInput({ now: NOW, clientAddress: '192.0.2.7' }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    response = parseXml(xml).documentElement;
    assertion = one(response, NS.saml, 'Assertion');
  });

  it('Response: Consent, Destination, InResponseTo, IssueInstant, Version, ID; Issuer (entity), Signature, Status Success, Assertion', () => {
    expect(response.namespaceURI).toBe(NS.samlp);
    expect(response.localName).toBe('Response');
    expect(response.getAttribute('Consent')).toBe(CONSENT_OBTAINED);
    expect(response.getAttribute('Destination')).toBe(ACS);
    expect(response.getAttribute('InResponseTo')).toBe('_a1b2c3d4e5f60718293a4b5c6d7e8f90');
    expect(response.getAttribute('IssueInstant')).toBe('2026-03-01T10:00:00.000Z');
    expect(response.getAttribute('Version')).toBe('2.0');
    expect(response.getAttribute('ID')).toMatch(/^_[0-9a-f]{32}$/);
    expect(childElements(response).map((c) => c.localName)).toEqual(['Issuer', 'Signature', 'Status', 'Assertion']);
    const issuer = one(response, NS.saml, 'Issuer');
    expect(issuer.textContent).toBe(IDP);
    expect(issuer.getAttribute('Format')).toBe(NAMEID_FORMAT.entity);
    const code = one(one(response, NS.samlp, 'Status'), NS.samlp, 'StatusCode');
    expect(code.getAttribute('Value')).toBe(STATUS.success);
    expect(kids(code)).toHaveLength(0);
  });

  it('Assertion: Issuer, Signature, Subject, Conditions, AuthnStatement, AttributeStatement in schema order', () => {
    expect(childElements(assertion).map((c) => c.localName)).toEqual([
      'Issuer',
      'Signature',
      'Subject',
      'Conditions',
      'AuthnStatement',
      'AttributeStatement',
    ]);
    expect(assertion.getAttribute('ID')).toMatch(/^_[0-9a-f]{32}$/);
    expect(assertion.getAttribute('ID')).not.toBe(response.getAttribute('ID'));
    expect(assertion.getAttribute('IssueInstant')).toBe('2026-03-01T10:00:00.000Z');
    expect(one(assertion, NS.saml, 'Issuer').getAttribute('Format')).toBe(NAMEID_FORMAT.entity);
  });

  it('Subject: NameID with format and qualifiers; bearer confirmation with Recipient, InResponseTo, NotOnOrAfter = now + lifetime, Address', () => {
    const subject = one(assertion, NS.saml, 'Subject');
    const nameId = one(subject, NS.saml, 'NameID');
    expect(nameId.getAttribute('Format')).toBe(NAMEID_FORMAT.persistent);
    expect(nameId.getAttribute('SPNameQualifier')).toBe(SP);
    expect(nameId.getAttribute('NameQualifier')).toBe(IDP);
    expect(nameId.textContent).toBe('pairwise-7f3a');
    const sc = one(subject, NS.saml, 'SubjectConfirmation');
    expect(sc.getAttribute('Method')).toBe(CM_BEARER);
    const scd = one(sc, NS.saml, 'SubjectConfirmationData');
    expect(scd.getAttribute('Recipient')).toBe(ACS);
    expect(scd.getAttribute('InResponseTo')).toBe('_a1b2c3d4e5f60718293a4b5c6d7e8f90');
    expect(scd.getAttribute('NotOnOrAfter')).toBe('2026-03-01T10:05:00.000Z');
    expect(scd.getAttribute('Address')).toBe('192.0.2.7');
    expect(scd.hasAttribute('NotBefore')).toBe(false);
  });

  it('Conditions: NotBefore = now - 30 s of clock skew, NotOnOrAfter = now + lifetime, AudienceRestriction = SP, OneTimeUse', () => {
    const c = one(assertion, NS.saml, 'Conditions');
    expect(NOT_BEFORE_SKEW_SECONDS).toBe(30);
    expect(c.getAttribute('NotBefore')).toBe('2026-03-01T09:59:30.000Z');
    expect(c.getAttribute('NotOnOrAfter')).toBe('2026-03-01T10:05:00.000Z');
    expect(kids(one(c, NS.saml, 'AudienceRestriction'), NS.saml, 'Audience').map((a) => a.textContent)).toEqual([SP]);
    expect(kids(c, NS.saml, 'OneTimeUse')).toHaveLength(1);
  });

  it('AuthnStatement: AuthnInstant, SessionIndex, AuthnContextClassRef = achieved LoA', () => {
    const s = one(assertion, NS.saml, 'AuthnStatement');
    expect(s.getAttribute('AuthnInstant')).toBe('2026-03-01T09:59:55.000Z');
    expect(s.getAttribute('SessionIndex')).toBe('_sess9');
    expect(one(one(s, NS.saml, 'AuthnContext'), NS.saml, 'AuthnContextClassRef').textContent).toBe(LOA.substantial);
  });

  it('AttributeStatement: NameFormat uri, FriendlyName, eIDAS xsi:type resolvable on the value, none on Cl@ve attributes', () => {
    const attrs = kids(one(assertion, NS.saml, 'AttributeStatement'), NS.saml, 'Attribute');
    expect(attrs.map((a) => a.getAttribute('FriendlyName'))).toEqual([
      'PersonIdentifier',
      'FirstName',
      'FamilyName',
      'DateOfBirth',
      'FirstSurname',
      'SelectedIdP',
    ]);
    for (const a of attrs) expect(a.getAttribute('NameFormat')).toBe(ATTRNAME_FORMAT_URI);
    const given = attrs[1]!;
    expect(given.getAttribute('Name')).toBe(EIDAS_ATTR.currentGivenName);
    for (const v of kids(given, NS.saml, 'AttributeValue')) {
      const type = v.getAttributeNS(NS.xsi, 'type')!;
      expect(type).toBe('eidas-natural:CurrentGivenNameType');
      // The QName's prefix resolves on the value element itself.
      expect(v.lookupNamespaceURI('eidas-natural')).toBe('http://eidas.europa.eu/attributes/naturalperson');
    }
    expect(kids(attrs[3]!, NS.saml, 'AttributeValue')[0]!.getAttributeNS(NS.xsi, 'type')).toBe('eidas-natural:DateOfBirthType');
    expect(kids(attrs[5]!, NS.saml, 'AttributeValue')[0]!.hasAttributeNS(NS.xsi, 'type')).toBe(false);
  });

  it('transient NameID without qualifiers, no OneTimeUse when not asked, no AttributeStatement when no attributes', async () => {
    const xml = await buildResponse(
      responseInput({ now: NOW, nameId: { format: 'transient', value: '_t1' }, oneTimeUse: false, attributes: [] }),
      { key: idp, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: false },
    );
    const a = one(parseXml(xml).documentElement, NS.saml, 'Assertion');
    const nameId = findAll(a, NS.saml, 'NameID')[0]!;
    expect(nameId.getAttribute('Format')).toBe(NAMEID_FORMAT.transient);
    expect(nameId.hasAttribute('SPNameQualifier')).toBe(false);
    expect(nameId.hasAttribute('NameQualifier')).toBe(false);
    expect(findAll(a, NS.saml, 'OneTimeUse')).toHaveLength(0);
    expect(findAll(a, NS.saml, 'AttributeStatement')).toHaveLength(0);
    expect(findAll(a, NS.ds, 'Signature')).toHaveLength(0);
    expect(findAll(a, NS.saml, 'SubjectConfirmationData')[0]!.hasAttribute('Address')).toBe(false);
    const unspecified = await buildResponse(responseInput({ nameId: { format: 'unspecified', value: 'x' } }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: false,
    });
    expect(findAll(parseXml(unspecified).documentElement, NS.saml, 'NameID')[0]!.getAttribute('Format')).toBe(NAMEID_FORMAT.unspecified);
  });

  it('IDs are _ + 32 hex and unique; times are UTC with milliseconds', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newSamlId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^_[0-9a-f]{32}$/);
    expect(samlInstant(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe('2026-01-02T03:04:05.006Z');
    expect(() => samlInstant(new Date(Number.NaN))).toThrow();
  });
});

describe('EncryptedAssertion', () => {
  let xml: string;
  beforeAll(async () => {
    xml = await buildResponse(responseInput({ now: new Date() }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
      encryptTo: { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) },
    });
  });

  it('replaces the Assertion; AES-256-GCM data, RSA-OAEP-MGF1P key transport, SP certificate named', () => {
    const response = parseXml(xml).documentElement;
    expect(childElements(response).map((c) => c.localName)).toEqual(['Issuer', 'Signature', 'Status', 'EncryptedAssertion']);
    const ea = one(response, NS.saml, 'EncryptedAssertion');
    const data = one(ea, NS.xenc, 'EncryptedData');
    expect(data.getAttribute('Type')).toBe('http://www.w3.org/2001/04/xmlenc#Element');
    expect(one(data, NS.xenc, 'EncryptionMethod').getAttribute('Algorithm')).toBe(ENC_ALG.aes256gcm);
    const ek = one(one(data, NS.ds, 'KeyInfo'), NS.xenc, 'EncryptedKey');
    expect(one(ek, NS.xenc, 'EncryptionMethod').getAttribute('Algorithm')).toBe(ENC_ALG.rsaOaepMgf1p);
    expect(findAll(ek, NS.ds, 'X509Certificate')[0]!.textContent).toBe(spEnc.certB64);
    // Nothing weaker anywhere.
    expect(xml).not.toMatch(/rsa-1_5|-cbc|tripledes/);
    // GCM: 12-byte IV + ciphertext + 16-byte tag.
    const cipher = Buffer.from(findAll(data, NS.xenc, 'CipherValue').at(-1)!.textContent!, 'base64');
    expect(cipher.length).toBeGreaterThan(28);
  });

  it('decrypts (xml-encryption and xmlsec1) to our signed assertion, whose signature verifies on its own', async () => {
    const response = parseXml(xml).documentElement;
    const ea = one(response, NS.saml, 'EncryptedAssertion');
    const data = one(ea, NS.xenc, 'EncryptedData');
    const plain = await new Promise<string>((resolve, reject) =>
      xmlenc.decrypt(data.toString(), { key: spEnc.keyPem, disallowDecryptionWithInsecureAlgorithm: true }, (err, res) =>
        err ? reject(err) : resolve(res),
      ),
    );
    const assertion = parseXml(plain).documentElement;
    expect(assertion.localName).toBe('Assertion');
    expect(xmlCryptoVerify(plain, 'Assertion', idp.certPem).ok).toBe(true);
    expect((await xmlsecVerify(plain, { certPem: idp.certPem, node: 'assertion' })).ok).toBe(true);

    const viaXmlsec = await xmlsecDecrypt(xml, spEnc.keyPem);
    expect(viaXmlsec.ok ? 'ok' : viaXmlsec.stderr).toBe('ok');
    const decrypted = parseXml(viaXmlsec.output!).documentElement;
    const inner = one(one(decrypted, NS.saml, 'EncryptedAssertion'), NS.saml, 'Assertion');
    expect(inner.getAttribute('ID')).toBe(assertion.getAttribute('ID'));
  });

  it('fresh key and IV per message; a flipped ciphertext bit fails GCM authentication', async () => {
    const to = { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) };
    const a = await encryptAssertion('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"></saml:Assertion>', to);
    const b = await encryptAssertion('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"></saml:Assertion>', to);
    const values = (x: string) => findAll(parseXml(x).documentElement, NS.xenc, 'CipherValue').map((c) => c.textContent!);
    const [ka, da] = values(a);
    const [kb, db] = values(b);
    expect(ka).not.toBe(kb);
    expect(da!.slice(0, 16)).not.toBe(db!.slice(0, 16));
    const decrypt = (x: string) =>
      new Promise<string>((resolve, reject) =>
        xmlenc.decrypt(findAll(parseXml(x).documentElement, NS.xenc, 'EncryptedData')[0]!.toString(), { key: spEnc.keyPem }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
    await expect(decrypt(a)).resolves.toBe('<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"></saml:Assertion>');
    const raw = Buffer.from(da!, 'base64');
    raw[20] = raw[20]! ^ 1;
    await expect(decrypt(a.replace(da!, raw.toString('base64')))).rejects.toThrow();
  });

  it('refuses an EC encryption key (RSA-OAEP only) instead of falling back to anything else', async () => {
    const ec = ecKey('sp-ec-enc');
    await expect(encryptAssertion('<x></x>', { certPem: ec.certPem, key: createPublicKey(ec.key) })).rejects.toMatchObject({
      code: 'ERR_ENCRYPTION_KEY',
    });
  });
});

describe('error Response', () => {
  it('nested StatusCode, StatusMessage, no Assertion, signed', async () => {
    const xml = await buildErrorResponse(
      {
        issuer: IDP,
        destination: ACS,
        inResponseTo: '_req',
        now: NOW,
        status: STATUS.responder,
        subStatus: STATUS.requestDenied,
        message: 'Required attribute DateOfBirth is not available <for this citizen>',
      },
      { key: idp, algorithm: SIG_ALG.rsaSha512 },
    );
    const r = parseXml(xml).documentElement;
    expect(childElements(r).map((c) => c.localName)).toEqual(['Issuer', 'Signature', 'Status']);
    expect(r.getAttribute('Destination')).toBe(ACS);
    expect(r.getAttribute('InResponseTo')).toBe('_req');
    expect(r.hasAttribute('Consent')).toBe(false);
    const status = one(r, NS.samlp, 'Status');
    const top = one(status, NS.samlp, 'StatusCode');
    expect(top.getAttribute('Value')).toBe(STATUS.responder);
    expect(one(top, NS.samlp, 'StatusCode').getAttribute('Value')).toBe(STATUS.requestDenied);
    expect(one(status, NS.samlp, 'StatusMessage').textContent).toBe('Required attribute DateOfBirth is not available <for this citizen>');
    expect(findAll(r, NS.saml, 'Assertion')).toHaveLength(0);
    expect(xmlCryptoVerify(xml, 'Response', idp.certPem).ok).toBe(true);
    expect((await xmlsecVerify(xml, { certPem: idp.certPem, node: 'response' })).ok).toBe(true);
  });

  it('without sub-status and message', async () => {
    const xml = await buildErrorResponse(
      { issuer: IDP, destination: ACS, inResponseTo: '_req', now: NOW, status: STATUS.requester },
      { key: idp, algorithm: SIG_ALG.rsaSha256 },
    );
    const status = one(parseXml(xml).documentElement, NS.samlp, 'Status');
    expect(childElements(status).map((c) => c.localName)).toEqual(['StatusCode']);
    expect(kids(one(status, NS.samlp, 'StatusCode'))).toHaveLength(0);
  });

  it('rejects a non-top-level status and a top-level sub-status', async () => {
    const base = { issuer: IDP, destination: ACS, inResponseTo: '_r', now: NOW };
    await expect(buildErrorResponse({ ...base, status: STATUS.success }, { key: idp, algorithm: SIG_ALG.rsaSha256 })).rejects.toMatchObject({
      code: 'ERR_RESPONSE_STATUS',
    });
    await expect(
      buildErrorResponse({ ...base, status: STATUS.requester, subStatus: STATUS.responder }, { key: idp, algorithm: SIG_ALG.rsaSha256 }),
    ).rejects.toMatchObject({ code: 'ERR_RESPONSE_STATUS' });
  });
});

describe('input the builder refuses', () => {
  it('characters XML cannot carry', async () => {
    for (const bad of ['\u0000', '\u0001', '\u000b', '\ufffe', '\ud800']) {
      await expect(
        buildResponse(responseInput({ attributes: [{ name: 'urn:x', friendlyName: 'x', values: [`a${bad}b`] }] }), {
          key: idp,
          algorithm: SIG_ALG.rsaSha256,
          signResponse: true,
          signAssertion: false,
        }),
      ).rejects.toMatchObject({ code: 'ERR_RESPONSE_VALUE' });
    }
  });

  it('a non-NCName eIDAS type, a bad lifetime', async () => {
    const signing = { key: idp, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: false } as const;
    await expect(
      buildResponse(responseInput({ attributes: [{ name: 'urn:x', friendlyName: 'x', eidasType: 'a" onload="x', values: ['v'] }] }), signing),
    ).rejects.toMatchObject({ code: 'ERR_RESPONSE_VALUE' });
    await expect(buildResponse(responseInput({ assertionLifetimeSeconds: 0 }), signing)).rejects.toMatchObject({ code: 'ERR_RESPONSE_VALUE' });
  });
});
