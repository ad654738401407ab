import request from 'supertest';
import { INTAKE_CHECKS, selfCheck } from '../../src/admin/selfcheck';
import { LOA, NAMEID_FORMAT } from '../../src/saml/constants';
import { storagePairs, type StoragePair } from '../support/pairs';
import { formFields, SP_ACS, SP_ENTITY, startBroker, testSpSigner, type BrokerUnderTest } from '../support/harness';
import { postRequest, redirectRequest, type SpRequestOptions } from '../support/sp-requests';

/**
 * The onboarding self-check runs the SSO endpoint's own intake on a sample and reports every
 * check. Each case is also sent to the real endpoint: the verdicts must agree.
 */
describe('onboarding self-check', () => {
  let pair: StoragePair;
  let broker: BrokerUnderTest;
  beforeAll(async () => {
    pair = storagePairs()[0]!;
    broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
  });
  afterAll(() => pair.cleanup());

  const deps = () => ({
    trust: broker.services.trust,
    store: broker.services.store,
    ssoUrls: broker.config.ssoUrls,
    clockSkewSeconds: broker.config.saml.clockSkewSeconds,
    maxRequestAgeSeconds: broker.config.saml.maxRequestAgeSeconds,
    broker: broker.services.broker,
  });
  const spec = (o: Partial<SpRequestOptions> = {}): SpRequestOptions => ({
    signer: testSpSigner(),
    issuer: SP_ENTITY,
    destination: broker.config.ssoUrls.redirect,
    acsUrl: SP_ACS,
    loa: LOA.substantial,
    nameIdFormat: NAMEID_FORMAT.persistent,
    ...o,
  });
  const asBody = (form: Record<string, string>) => new URLSearchParams(form).toString();

  test('a good Redirect request: every check passes, nothing is used up, and the endpoint then takes the same request', async () => {
    const query = redirectRequest(spec());
    const report = await selfCheck(deps(), SP_ENTITY, 'redirect', `${broker.config.ssoUrls.redirect}?${query}`);
    expect(report.accepted).toBe(true);
    expect(report.answer).toBe('login');
    expect(report.checks.map((c) => [c.check, c.ok, c.reached])).toEqual(INTAKE_CHECKS.map((c) => [c, true, true]));
    expect(report.outcome).toMatchObject({ acs: SP_ACS, nameIdFormat: 'persistent', requestedLoa: 'minimum substantial', profile: 'saml', oneTimeUse: false, encryptedAssertion: false });
    expect(report.outcome!.methods.find((m) => m.method === 'permanente')).toEqual({ method: 'permanente', offered: true });
    // The endpoint agrees, and the self-check did not burn the request's ID.
    const res = await request(broker.app).get(`/saml/sso?${query}`);
    expect(res.status).toBe(303);
    // Now it is used: the self-check says so.
    const again = await selfCheck(deps(), SP_ENTITY, 'redirect', query);
    expect(again.checks.find((c) => c.check === 'replay')).toMatchObject({ ok: false, code: 'ERR_REQUEST_REPLAY' });
    expect(again.answer).toBe('saml-error');
  });

  test('a broken POST signature: the signature check fails with the endpoint\'s own message, later checks are not reached', async () => {
    const form = postRequest(spec({ destination: broker.config.ssoUrls.post }));
    const xml = Buffer.from(form.SAMLRequest, 'base64').toString('utf8').replace('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient');
    const tampered = { ...form, SAMLRequest: Buffer.from(xml).toString('base64') };
    const report = await selfCheck(deps(), SP_ENTITY, 'post', asBody(tampered));
    expect(report.accepted).toBe(false);
    expect(report.answer).toBe('error-page');
    const sig = report.checks.find((c) => c.check === 'signature')!;
    expect(sig).toMatchObject({ ok: false, reached: true, code: 'ERR_REQUEST_SIGNATURE_INVALID' });
    expect(report.checks.filter((c) => !c.reached).map((c) => c.check)).toEqual(INTAKE_CHECKS.slice(INTAKE_CHECKS.indexOf('structure')));
    const page = await request(broker.app).post('/saml/sso').type('form').send(tampered);
    expect(page.status).toBe(400);
    expect(page.text).toContain(sig.message!.slice(0, 60).replace(/"/g, '&quot;'));
  });

  test('a trusted request with several problems lists each of them; the SP would get a SAML error naming the first', async () => {
    const query = redirectRequest(spec({ destination: 'https://elsewhere.example/sso', issueInstant: new Date(Date.now() - 3600_000), nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }));
    const report = await selfCheck(deps(), SP_ENTITY, 'redirect', query);
    expect(report.answer).toBe('saml-error');
    const failed = report.checks.filter((c) => !c.ok).map((c) => c.code);
    expect(failed).toEqual(['ERR_REQUEST_DESTINATION', 'ERR_REQUEST_EXPIRED', 'ERR_REQUEST_NAMEID_POLICY', undefined]);
    expect(report.checks.at(-1)).toEqual({ check: 'replay', ok: false, reached: false });
    expect(report.refusal!.code).toBe('ERR_REQUEST_DESTINATION');
    const res = await request(broker.app).get(`/saml/sso?${query}`);
    expect(Buffer.from(formFields(res.text).SAMLResponse!, 'base64').toString()).toContain('is not this endpoint');
  });

  test('an unknown SP stops at the trust list', async () => {
    const report = await selfCheck(deps(), SP_ENTITY, 'redirect', redirectRequest(spec({ issuer: 'https://unknown.example/md' })));
    expect(report.checks.find((c) => c.check === 'trust-list')).toMatchObject({ ok: false, code: 'ERR_REQUEST_UNKNOWN_SP' });
    expect(report.answer).toBe('error-page');
  });
});
