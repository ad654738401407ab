import { createPublicKey } from 'node:crypto';
import { LOA, NAMEID_FORMAT, SIG_ALG, STATUS } from '../../src/saml/constants';
import { buildIdpMetadata } from '../../src/saml/metadata';
import { buildErrorResponse, buildResponse } from '../../src/saml/response';
import type { SigningOptions } from '../../src/saml/types';
import { samlsignVerify } from '../support/samlsign';
import { ACS, IDP, attributes, responseInput, rsaKey } from './response-fixtures';

/** OpenSAML samlsign verifies what we sign: responses, assertions (typed and plain), error responses and metadata. */

const idp = rsaKey('pasarela-idp-samlsign');
const other = rsaKey('someone-else-samlsign');
const spEnc = rsaKey('sp-encryption-samlsign');

const assertionId = (xml: string) => /<saml:Assertion [^>]*ID="([^"]+)"/.exec(xml)![1]!;

describe.each([SIG_ALG.rsaSha256, SIG_ALG.rsaSha512])('samlsign, %s', (algorithm) => {
  const signing = (over: Partial<SigningOptions> = {}): SigningOptions => ({ key: idp, algorithm, signResponse: true, signAssertion: true, ...over });

  test.each([
    ['eIDAS-typed attribute values', true],
    ['plain attribute values', false],
  ])('the Response and, separately, the Assertion signature verify (%s); a tampered value or another key fails', async (_n, typed) => {
    const attrs = typed ? attributes() : attributes().map(({ eidasType: _t, ...a }) => a);
    const xml = await buildResponse(responseInput({ attributes: attrs }), signing());
    expect(await samlsignVerify(xml, idp.certPem)).toMatchObject({ ok: true });
    expect(await samlsignVerify(xml, idp.certPem, assertionId(xml))).toMatchObject({ ok: true });
    expect((await samlsignVerify(xml, other.certPem)).ok).toBe(false);
    const tampered = xml.replace('ES/ES/12345678Z', 'ES/ES/87654321X');
    expect(tampered).not.toBe(xml);
    expect((await samlsignVerify(tampered, idp.certPem)).ok).toBe(false);
    expect((await samlsignVerify(tampered, idp.certPem, assertionId(tampered))).ok).toBe(false);
  });

  test('a signed Response carrying an encrypted assertion verifies', async () => {
    const xml = await buildResponse(responseInput(), signing({ encryptTo: { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) } }));
    expect(xml).toContain('EncryptedAssertion');
    expect(await samlsignVerify(xml, idp.certPem)).toMatchObject({ ok: true });
  });

  test('an error Response verifies', async () => {
    const xml = await buildErrorResponse(
      { issuer: IDP, destination: ACS, inResponseTo: '_abc', now: new Date(), status: STATUS.responder, subStatus: STATUS.noAuthnContext, message: 'no method reaches high' },
      { key: idp, algorithm },
    );
    expect(await samlsignVerify(xml, idp.certPem)).toMatchObject({ ok: true });
  });

  test('our metadata verifies', async () => {
    const xml = await buildIdpMetadata(
      {
        entityId: IDP,
        ssoUrls: { redirect: 'https://pasarela.example.es/saml/sso', post: 'https://pasarela.example.es/saml/sso' },
        signingCerts: [other.certB64],
        encryptionCerts: [spEnc.certB64],
        validUntil: new Date(Date.now() + 86_400_000),
        loas: [LOA.low, LOA.substantial, LOA.high],
        nameIdFormats: [NAMEID_FORMAT.persistent],
      },
      { key: idp, algorithm },
    );
    expect(await samlsignVerify(xml, idp.certPem)).toMatchObject({ ok: true });
    expect((await samlsignVerify(xml, other.certPem)).ok).toBe(false);
  });
});
