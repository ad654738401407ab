import request from 'supertest';
import { responseProfile } from '../../src/broker/broker';
import { LOA } from '../../src/saml/constants';
import type { SpPolicy } from '../../src/trust/types';
import { storagePairs, type StoragePair } from '../support/pairs';
import { formFields, loginWithPassword, nodeSamlSp, sendRedirectRequest, SP_ACS, SP_ENTITY, spMetadata, startBroker, testSpSigner, type BrokerUnderTest } from '../support/harness';
import { postRequest, type SpSigner } from '../support/sp-requests';

/**
 * The response profile per SP (issue: generic SAML stacks reject eIDAS-typed attribute values
 * and OneTimeUse; eIDAS stacks expect them). Driven end to end: a request in, the assertion out.
 */

const CITIZEN = {
  dni: '12345678Z',
  password: 'Correct-Horse-9',
  givenName: 'Ana',
  firstSurname: 'Ruiz',
  secondSurname: 'Soler',
  dateOfBirth: '1990-02-03',
  mobile: '+34600111222',
  registrationLevel: 'advanced' as const,
};

const TYPED = /xsi:type="eidas-natural:[A-Za-z]+Type"/;
const ONE_TIME_USE = '<saml:OneTimeUse></saml:OneTimeUse>';

test.each<[SpPolicy['profile'], boolean | undefined, boolean, { typed: boolean; oneTimeUse: boolean }]>([
  ['auto', undefined, false, { typed: false, oneTimeUse: false }],
  ['auto', undefined, true, { typed: true, oneTimeUse: true }],
  ['saml', undefined, true, { typed: false, oneTimeUse: false }],
  ['eidas', undefined, false, { typed: true, oneTimeUse: true }],
  ['saml', true, false, { typed: false, oneTimeUse: true }],
  ['eidas', false, true, { typed: true, oneTimeUse: false }],
])('profile %s, oneTimeUse %s, eIDAS extensions %s -> %j', (profile, oneTimeUse, eidasExtensions, expected) => {
  const p = responseProfile({ profile, oneTimeUse }, { eidasExtensions });
  expect({ typed: p.typedAttributes, oneTimeUse: p.oneTimeUse }).toEqual(expected);
});

describe('the response profile, end to end', () => {
  let pair: StoragePair;
  let broker: BrokerUnderTest;
  let signer: SpSigner;

  beforeAll(async () => {
    pair = storagePairs()[0]!;
    broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
    await broker.services.citizens.create(CITIZEN);
    signer = testSpSigner();
  });
  afterAll(() => pair.cleanup());

  function assertionOf(pageText: string): string {
    const fields = formFields(pageText);
    if (!fields.SAMLResponse) throw new Error(`not an auto-POST page:\n${pageText.slice(0, 400)}`);
    const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    return xml.slice(xml.indexOf('<saml:Assertion'));
  }

  /** Log in once through node-saml (a generic SP: no eIDAS extensions), then reuse the session. */
  async function sessionAgent() {
    const agent = request.agent(broker.app);
    const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
    const done = await loginWithPassword(agent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
    expect(done.status).toBe(200);
    return { agent, first: assertionOf(done.text) };
  }

  const eidasPost = (spType?: 'public') =>
    postRequest({
      signer,
      issuer: SP_ENTITY,
      destination: broker.config.ssoUrls.post,
      acsUrl: SP_ACS,
      loa: LOA.low,
      nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      ...(spType ? { spType } : { requestedAttributes: [{ name: 'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier', isRequired: true }] }),
    });

  test('a generic SP (no eIDAS extensions) gets plain attribute values and no OneTimeUse', async () => {
    const { first } = await sessionAgent();
    expect(first).toContain('<saml:AttributeValue>ES/ES/12345678Z</saml:AttributeValue>');
    expect(first).not.toMatch(TYPED);
    expect(first).not.toContain('xmlns:xsi=');
    expect(first).not.toContain(ONE_TIME_USE);
    // Same names and values as the eIDAS profile.
    expect(first).toContain('Name="http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName"');
  });

  test.each([['eidas:SPType', 'public' as const], ['eidas:RequestedAttributes', undefined]])(
    'a request carrying %s gets eIDAS-typed values and OneTimeUse (profile auto)',
    async (_what, spType) => {
      const { agent } = await sessionAgent();
      const res = await agent.post('/saml/sso').type('form').send(eidasPost(spType));
      expect(res.status).toBe(200);
      const assertion = assertionOf(res.text);
      expect(assertion).toMatch(/<saml:AttributeValue [^>]*xsi:type="eidas-natural:PersonIdentifierType">ES\/ES\/12345678Z</);
      expect(assertion).toContain(ONE_TIME_USE);
    },
  );

  test('the SP policy overrides the automatic choice both ways', async () => {
    const metadata = spMetadata(null); // as the harness registered it
    try {
      await broker.services.trust.upsert(metadata, { profile: 'eidas' }, 'test');
      const { first } = await sessionAgent();
      expect(first).toMatch(TYPED);
      expect(first).toContain(ONE_TIME_USE);
      await broker.services.trust.upsert(metadata, { profile: 'saml', oneTimeUse: true }, 'test');
      const { agent } = await sessionAgent();
      const res = await agent.post('/saml/sso').type('form').send(eidasPost('public'));
      const assertion = assertionOf(res.text);
      expect(assertion).not.toMatch(TYPED);
      expect(assertion).toContain(ONE_TIME_USE);
    } finally {
      await broker.services.trust.upsert(metadata, {}, 'test');
    }
  });
});
