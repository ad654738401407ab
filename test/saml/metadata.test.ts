import { X509Certificate } from 'node:crypto';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { PasarelaError } from '../../src/errors';
import { makeSelfSignedRsa, pemToB64 } from '../../src/pki/self-signed';
import { ASSURANCE_CERTIFICATION, BINDING, ENC_ALG, LOA, NAMEID_FORMAT, SIG_ALG } from '../../src/saml/constants';
import { buildIdpMetadata, type IdpMetadataOptions } from '../../src/saml/metadata';
import { childElements, parseXml } from '../../src/saml/xml';
import { parseSpMetadata } from '../../src/trust/metadata';
import { xmlsecVerify } from '../support/xmlsec';
import { ecKey, excC14n, findAll, rsaKey, signatureOf, xmlCryptoVerify } from './response-fixtures';

const NS = {
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  alg: 'urn:oasis:names:tc:SAML:metadata:algsupport',
  mdattr: 'urn:oasis:names:tc:SAML:metadata:attribute',
};

const current = rsaKey('idp-signing-current');
const next = rsaKey('idp-signing-next');
const enc = rsaKey('idp-encryption');

function options(over: Partial<IdpMetadataOptions> = {}): IdpMetadataOptions {
  return {
    entityId: 'https://pasarela.example.es/metadata',
    ssoUrls: { redirect: 'https://pasarela.example.es/saml/sso?binding=redirect&x=1', post: 'https://pasarela.example.es/saml/sso' },
    signingCerts: [current.certB64, next.certB64],
    encryptionCerts: [enc.certB64],
    validUntil: new Date('2030-01-01T00:00:00.000Z'),
    cacheDurationSeconds: 3600,
    loas: [LOA.low, LOA.substantial, LOA.high],
    nameIdFormats: [NAMEID_FORMAT.persistent, NAMEID_FORMAT.transient, NAMEID_FORMAT.unspecified],
    organization: { name: 'Pasarela', displayName: 'Pasarela & Cl@ve <demo>', url: 'https://pasarela.example.es/', lang: 'es' },
    ...over,
  };
}

describe('our IdP metadata', () => {
  let xml: string;
  let root: Element;
  beforeAll(async () => {
    xml = await buildIdpMetadata(options(), { key: current, algorithm: SIG_ALG.rsaSha256 });
    root = parseXml(xml).documentElement;
  });

  it('is signed: xml-crypto and xmlsec1 verify it; it is in canonical form; tampering breaks it', async () => {
    expect(xmlCryptoVerify(xml, 'EntityDescriptor', current.certPem).ok).toBe(true);
    expect(xmlCryptoVerify(xml, 'EntityDescriptor', next.certPem).ok).toBe(false);
    const r = await xmlsecVerify(xml, { certPem: current.certPem, node: 'metadata' });
    expect(r.ok ? 'ok' : r.stderr).toBe('ok');
    expect((await xmlsecVerify(xml, { certPem: current.certPem, node: 'metadata', trust: 'trusted' })).ok).toBe(true);
    expect(excC14n(root)).toBe(xml);
    const tampered = xml.replace(LOA.low, LOA.high.replace('high', 'hig0'));
    expect(xmlCryptoVerify(tampered, 'EntityDescriptor', current.certPem).ok).toBe(false);
    expect((await xmlsecVerify(tampered, { certPem: current.certPem, node: 'metadata' })).ok).toBe(false);
  });

  it('EntityDescriptor: ID, entityID, validUntil, cacheDuration; Signature first', () => {
    expect(root.namespaceURI).toBe(NS.md);
    expect(root.localName).toBe('EntityDescriptor');
    expect(root.getAttribute('ID')).toMatch(/^_[0-9a-f]{32}$/);
    expect(root.getAttribute('entityID')).toBe('https://pasarela.example.es/metadata');
    expect(root.getAttribute('validUntil')).toBe('2030-01-01T00:00:00.000Z');
    expect(root.getAttribute('cacheDuration')).toBe('PT3600S');
    expect(childElements(root).map((c) => c.localName)).toEqual(['Signature', 'Extensions', 'IDPSSODescriptor', 'Organization']);
    expect(signatureOf(root)).toBeTruthy();
  });

  it('advertises algorithms and the supported LoAs as the assurance-certification entity attribute', () => {
    const ext = childElements(root)[1]!;
    const digests = findAll(ext, NS.alg, 'DigestMethod').map((e) => e.getAttribute('Algorithm'));
    expect(digests).toEqual([
      'http://www.w3.org/2001/04/xmlenc#sha256',
      'http://www.w3.org/2001/04/xmldsig-more#sha384',
      'http://www.w3.org/2001/04/xmlenc#sha512',
    ]);
    const methods = findAll(ext, NS.alg, 'SigningMethod').map((e) => e.getAttribute('Algorithm'));
    expect(methods).toEqual(expect.arrayContaining([SIG_ALG.rsaSha256, SIG_ALG.rsaSha512, SIG_ALG.rsaPssSha256]));
    expect(methods).not.toContain(SIG_ALG.rsaSha1);
    const attrs = findAll(findAll(ext, NS.mdattr, 'EntityAttributes')[0]!, NS.saml, 'Attribute');
    expect(attrs).toHaveLength(1);
    expect(attrs[0]!.getAttribute('Name')).toBe(ASSURANCE_CERTIFICATION);
    expect(findAll(attrs[0]!, NS.saml, 'AttributeValue').map((v) => v.textContent)).toEqual([LOA.low, LOA.substantial, LOA.high]);
  });

  it('IDPSSODescriptor: WantAuthnRequestsSigned, both key uses (current + next signing), NameIDFormats, both bindings', () => {
    const idp = findAll(root, NS.md, 'IDPSSODescriptor')[0]!;
    expect(idp.getAttribute('WantAuthnRequestsSigned')).toBe('true');
    expect(idp.getAttribute('protocolSupportEnumeration')).toBe('urn:oasis:names:tc:SAML:2.0:protocol');
    const kds = findAll(idp, NS.md, 'KeyDescriptor');
    expect(kds.map((k) => k.getAttribute('use'))).toEqual(['signing', 'signing', 'encryption']);
    expect(kds.map((k) => findAll(k, NS.ds, 'X509Certificate')[0]!.textContent)).toEqual([current.certB64, next.certB64, enc.certB64]);
    expect(findAll(kds[2]!, NS.md, 'EncryptionMethod').map((e) => e.getAttribute('Algorithm'))).toEqual([ENC_ALG.aes256gcm, ENC_ALG.rsaOaepMgf1p]);
    expect(findAll(idp, NS.md, 'NameIDFormat').map((e) => e.textContent)).toEqual([
      NAMEID_FORMAT.persistent,
      NAMEID_FORMAT.transient,
      NAMEID_FORMAT.unspecified,
    ]);
    const sso = findAll(idp, NS.md, 'SingleSignOnService');
    expect(sso.map((s) => [s.getAttribute('Binding'), s.getAttribute('Location')])).toEqual([
      [BINDING.redirect, 'https://pasarela.example.es/saml/sso?binding=redirect&x=1'],
      [BINDING.post, 'https://pasarela.example.es/saml/sso'],
    ]);
    expect(childElements(idp).map((c) => c.localName)).toEqual([
      'KeyDescriptor',
      'KeyDescriptor',
      'KeyDescriptor',
      'NameIDFormat',
      'NameIDFormat',
      'NameIDFormat',
      'SingleSignOnService',
      'SingleSignOnService',
    ]);
  });

  it('Organization with xml:lang, escaped', () => {
    const org = findAll(root, NS.md, 'Organization')[0]!;
    const display = findAll(org, NS.md, 'OrganizationDisplayName')[0]!;
    expect(display.textContent).toBe('Pasarela & Cl@ve <demo>');
    expect(display.getAttributeNS('http://www.w3.org/XML/1998/namespace', 'lang')).toBe('es');
  });

  it('with an ECDSA key advertises ECDSA methods and verifies in xmlsec1', async () => {
    const ec = ecKey('idp-ec');
    const ecXml = await buildIdpMetadata(options({ signingCerts: [ec.certB64], organization: undefined, cacheDurationSeconds: undefined }), {
      key: ec,
      algorithm: SIG_ALG.ecdsaSha256,
    });
    const methods = findAll(parseXml(ecXml).documentElement, NS.alg, 'SigningMethod').map((e) => e.getAttribute('Algorithm'));
    expect(methods).toEqual([SIG_ALG.ecdsaSha256, SIG_ALG.ecdsaSha384, SIG_ALG.ecdsaSha512]);
    expect(parseXml(ecXml).documentElement.hasAttribute('cacheDuration')).toBe(false);
    expect(xmlCryptoVerify(ecXml, 'EntityDescriptor', ec.certPem).ok).toBe(true);
    expect((await xmlsecVerify(ecXml, { certPem: ec.certPem, node: 'metadata' })).ok).toBe(true);
  });
});

// ---- SP metadata import ------------------------------------------------------------------

const spSign = rsaKey('sp-signing');
const spEnc = rsaKey('sp-encryption');
const SP_ID = 'https://sp.example.org/saml/metadata';

function kd(certB64: string, use?: string): string {
  return `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
    <ds:X509Certificate>
${certB64.match(/.{1,64}/g)!.join('\n')}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
}

function spMetadata(o: { entityAttrs?: string; sp?: string; spAttrs?: string; keys?: string; acs?: string; extra?: string } = {}): string {
  const acs =
    o.acs ??
    `<md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp.example.org/saml/acs" index="1" isDefault="true"/>
     <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.org/saml/art" index="2"/>`;
  const sp =
    o.sp ??
    `<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"${o.spAttrs ?? ''}>
      <md:Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui">
        <mdui:DisplayName xml:lang="en">Example Service</mdui:DisplayName>
        <mdui:DisplayName xml:lang="es">Servicio de ejemplo</mdui:DisplayName>
      </mdui:UIInfo></md:Extensions>
      ${o.keys ?? kd(spSign.certB64, 'signing') + kd(spEnc.certB64, 'encryption')}
      <md:NameIDFormat> ${NAMEID_FORMAT.persistent} </md:NameIDFormat>
      <md:NameIDFormat>${NAMEID_FORMAT.transient}</md:NameIDFormat>
      ${acs}
    </md:SPSSODescriptor>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${SP_ID}"${o.entityAttrs ?? ''}>
  ${sp}
  ${o.extra ?? ''}
</md:EntityDescriptor>`;
}

function failure(f: () => unknown): PasarelaError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PasarelaError);
    return err as PasarelaError;
  }
  throw new Error('expected parseSpMetadata to fail');
}

describe('parseSpMetadata', () => {
  it('reads entityID, display name, ACS, keys, flags, NameIDFormats, validUntil', () => {
    const m = parseSpMetadata(spMetadata({ entityAttrs: ' validUntil="2099-01-01T00:00:00Z"' }));
    expect(m.entityId).toBe(SP_ID);
    expect(m.displayName).toBe('Servicio de ejemplo');
    expect(m.acs).toEqual([
      { index: 1, binding: BINDING.post, location: 'https://sp.example.org/saml/acs', isDefault: true },
      { index: 2, binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact', location: 'https://sp.example.org/saml/art', isDefault: false },
    ]);
    expect(m.signingKeys).toHaveLength(1);
    expect(m.signingKeys[0]!.equals(new X509Certificate(spSign.certPem).publicKey)).toBe(true);
    expect(m.signingCertsPem).toHaveLength(1);
    expect(new X509Certificate(m.signingCertsPem[0]!).fingerprint256).toBe(new X509Certificate(spSign.certPem).fingerprint256);
    expect(m.encryptionCert!.key.equals(new X509Certificate(spEnc.certPem).publicKey)).toBe(true);
    expect(new X509Certificate(m.encryptionCert!.certPem).fingerprint256).toBe(new X509Certificate(spEnc.certPem).fingerprint256);
    expect(m.authnRequestsSigned).toBe(true);
    expect(m.wantAssertionsSigned).toBe(true);
    expect(m.nameIdFormats).toEqual([NAMEID_FORMAT.persistent, NAMEID_FORMAT.transient]);
    expect(m.validUntil).toEqual(new Date('2099-01-01T00:00:00Z'));
  });

  it('a KeyDescriptor without use counts for signing and encryption; ACS without index gets its position', () => {
    const m = parseSpMetadata(
      spMetadata({
        spAttrs: '',
        keys: kd(spSign.certB64),
        acs: `<md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp.example.org/a"/>
              <md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp.example.org/b"/>`,
      }),
    );
    expect(m.signingKeys).toHaveLength(1);
    expect(m.encryptionCert!.key.equals(m.signingKeys[0]!)).toBe(true);
    expect(m.acs.map((a) => [a.index, a.location, a.isDefault])).toEqual([
      [0, 'https://sp.example.org/a', false],
      [1, 'https://sp.example.org/b', false],
    ]);
    expect(m.validUntil).toBeUndefined();
  });

  it('falls back to the Organization display name; no encryption key when only signing keys exist', () => {
    const m = parseSpMetadata(
      spMetadata({
        sp: `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${kd(spSign.certB64, 'signing')}
          <md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp.example.org/acs" index="0"/></md:SPSSODescriptor>`,
        extra: '<md:Organization><md:OrganizationName xml:lang="en">Org</md:OrganizationName><md:OrganizationDisplayName xml:lang="en">The Org</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">https://org</md:OrganizationURL></md:Organization>',
      }),
    );
    expect(m.displayName).toBe('The Org');
    expect(m.encryptionCert).toBeUndefined();
    expect(m.authnRequestsSigned).toBe(false);
    expect(m.wantAssertionsSigned).toBe(false);
  });

  it("reads node-saml's generated SP metadata (default namespace, no prefixes)", () => {
    const xml = generateServiceProviderMetadata({
      issuer: SP_ID,
      callbackUrl: 'https://sp.example.org/acs',
      // node-saml only writes the signing / encryption KeyDescriptors when given the private keys.
      privateKey: spSign.keyPem,
      publicCerts: spSign.certPem,
      decryptionPvk: spEnc.keyPem,
      decryptionCert: spEnc.certPem,
      identifierFormat: NAMEID_FORMAT.persistent,
      wantAssertionsSigned: true,
    });
    const m = parseSpMetadata(xml);
    expect(m.entityId).toBe(SP_ID);
    expect(m.authnRequestsSigned).toBe(true);
    expect(m.wantAssertionsSigned).toBe(true);
    expect(m.signingKeys).toHaveLength(1);
    expect(m.signingKeys[0]!.equals(new X509Certificate(spSign.certPem).publicKey)).toBe(true);
    expect(m.encryptionCert!.key.equals(new X509Certificate(spEnc.certPem).publicKey)).toBe(true);
    expect(m.acs).toEqual([{ index: 1, binding: BINDING.post, location: 'https://sp.example.org/acs', isDefault: true }]);
    expect(m.nameIdFormats).toEqual([NAMEID_FORMAT.persistent]);
  });

  it('accepts an EntitiesDescriptor with exactly one entity', () => {
    const inner = spMetadata().replace('<?xml version="1.0" encoding="UTF-8"?>', '');
    const m = parseSpMetadata(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" validUntil="2099-06-01T00:00:00Z">${inner}</md:EntitiesDescriptor>`);
    expect(m.entityId).toBe(SP_ID);
    expect(m.validUntil).toEqual(new Date('2099-06-01T00:00:00Z'));
  });

  it('refuses IdP metadata (ours): it has no SPSSODescriptor', async () => {
    const idpXml = await buildIdpMetadata(options(), { key: current, algorithm: SIG_ALG.rsaSha256 });
    expect(failure(() => parseSpMetadata(idpXml)).code).toBe('ERR_METADATA_NO_SPSSO');
  });

  describe('rejects, with a code and a message an operator can act on', () => {
    it.each([
      [
        'no SPSSODescriptor',
        () => spMetadata({ sp: '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>' }),
        'ERR_METADATA_NO_SPSSO',
        /no SPSSODescriptor supporting SAML 2\.0/,
      ],
      [
        'SPSSODescriptor of another protocol only',
        () => spMetadata({ sp: '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"/>' }),
        'ERR_METADATA_NO_SPSSO',
        /SAML 2\.0/,
      ],
      ['expired validUntil', () => spMetadata({ entityAttrs: ' validUntil="2001-01-01T00:00:00Z"' }), 'ERR_METADATA_EXPIRED', /expired at 2001-01-01T00:00:00\.000Z/],
      ['unparseable validUntil', () => spMetadata({ entityAttrs: ' validUntil="tomorrow"' }), 'ERR_METADATA_VALID_UNTIL', /not an xs:dateTime/],
      ['bad certificate (not DER)', () => spMetadata({ keys: kd(Buffer.from('not a certificate at all').toString('base64'), 'signing') }), 'ERR_METADATA_CERT', /cannot be read as an X\.509 certificate/],
      ['bad certificate (not base64)', () => spMetadata({ keys: kd('!!!notbase64!!!', 'signing') }), 'ERR_METADATA_CERT', /not base64/],
      ['DOCTYPE', () => `<!DOCTYPE md [<!ENTITY x "y">]>${spMetadata().replace('<?xml version="1.0" encoding="UTF-8"?>', '')}`, 'ERR_XML_DOCTYPE', /DOCTYPE/],
      [
        'several entities',
        () => {
          const e = spMetadata().replace('<?xml version="1.0" encoding="UTF-8"?>', '');
          return `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${e}${e.replace(SP_ID, 'https://other')}</md:EntitiesDescriptor>`;
        },
        'ERR_METADATA_ENTITIES',
        /exactly one EntityDescriptor .*found 2/,
      ],
      ['empty EntitiesDescriptor', () => '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>', 'ERR_METADATA_ENTITIES', /found 0/],
      ['wrong root', () => '<EntityDescriptor entityID="x"/>', 'ERR_METADATA_ROOT', /expected md:EntityDescriptor/],
      ['no entityID', () => spMetadata().replace(`entityID="${SP_ID}"`, ''), 'ERR_METADATA_ENTITY_ID', /no entityID/],
      ['no ACS', () => spMetadata({ acs: '' }), 'ERR_METADATA_ACS', /no AssertionConsumerService/],
      [
        'no HTTP-POST ACS',
        () => spMetadata({ acs: `<md:AssertionConsumerService Binding="${BINDING.redirect}" Location="https://sp/acs" index="0"/>` }),
        'ERR_METADATA_ACS',
        /HTTP-POST/,
      ],
      [
        'ACS with a javascript: URL',
        () => spMetadata({ acs: `<md:AssertionConsumerService Binding="${BINDING.post}" Location="javascript:alert(1)" index="0"/>` }),
        'ERR_METADATA_ACS',
        /only http and https/,
      ],
      [
        'duplicate ACS index',
        () =>
          spMetadata({
            acs: `<md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp/a" index="3"/><md:AssertionConsumerService Binding="${BINDING.post}" Location="https://sp/b" index="3"/>`,
          }),
        'ERR_METADATA_ACS',
        /share index 3/,
      ],
      ['signed requests without a signing key', () => spMetadata({ keys: kd(spEnc.certB64, 'encryption') }), 'ERR_METADATA_KEY', /AuthnRequestsSigned/],
      ['unknown key use', () => spMetadata({ keys: kd(spSign.certB64, 'sign') }), 'ERR_METADATA_KEY', /use="sign"/],
      ['comment inside a certificate', () => spMetadata({ keys: kd(spSign.certB64, 'signing').replace('<ds:X509Certificate>', '<ds:X509Certificate><!--x-->') }), 'ERR_METADATA_VALUE', /text only/],
      ['not XML', () => '<md:EntityDescriptor', 'ERR_XML_MALFORMED', /not well-formed/],
    ])('%s', (_name, make, code, message) => {
      const err = failure(() => parseSpMetadata(make()));
      expect(err.code).toBe(code);
      expect(err.message).toMatch(/^SP metadata: /);
      expect(err.message).toMatch(message);
    });

    it('an EC key declared for encryption', () => {
      const ec = ecKey('sp-ec');
      const err = failure(() => parseSpMetadata(spMetadata({ keys: kd(spSign.certB64, 'signing') + kd(ec.certB64, 'encryption') })));
      expect(err.code).toBe('ERR_METADATA_KEY');
      expect(err.message).toMatch(/needs RSA/);
    });

    it('an RSA key below 2048 bits', () => {
      const weak = rsaKeyBits(1024);
      const err = failure(() => parseSpMetadata(spMetadata({ keys: kd(weak, 'signing') })));
      expect(err.code).toBe('ERR_METADATA_CERT');
      expect(err.message).toMatch(/shorter than 2048 bits/);
    });

    it('validUntil is checked against the given clock', () => {
      const xml = spMetadata({ entityAttrs: ' validUntil="2030-01-01T00:00:00Z"' });
      expect(parseSpMetadata(xml, { now: new Date('2029-12-31T23:59:59Z') }).entityId).toBe(SP_ID);
      expect(failure(() => parseSpMetadata(xml, { now: new Date('2030-01-01T00:00:00Z') })).code).toBe('ERR_METADATA_EXPIRED');
    });
  });
});

function rsaKeyBits(bits: number): string {
  return pemToB64(makeSelfSignedRsa('weak', { bits }).certPem);
}
