import { deflateRawSync } from 'node:zlib';
import request from 'supertest';
import { CitizenEntity } from '../../src/db/entities';
import { LOA, NAMEID_FORMAT } from '../../src/saml/constants';
import { MemoryStore } from '../../src/store/memory';
import { storagePairs, type StoragePair } from '../support/pairs';
import { formFields, loginWithPassword, nodeSamlSp, sendRedirectRequest, SP_ACS, SP_ENTITY, startBroker, testSpSigner, type BrokerUnderTest } from '../support/harness';
import { CLAVE_ATTRS, postRequest, type SpRequestOptions } from '../support/sp-requests';

/**
 * Hostile requests that used to crash a route (HTTP 500) or park memory for half an hour
 * (issue: defects found by attack). Each is driven through the HTTP app: the citizen or the SP
 * gets an answer that says what was wrong, and nothing is kept.
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

describe('hostile input through the SSO endpoint', () => {
  let pair: StoragePair;
  let store: MemoryStore;
  let broker: BrokerUnderTest;

  beforeAll(async () => {
    pair = storagePairs()[0]!;
    store = (await pair.makeStore()) as MemoryStore;
    broker = await startBroker({ store, ds: await pair.makeDataSource() });
    await broker.services.citizens.create(CITIZEN);
  });
  afterAll(() => pair.cleanup());

  const signed = (o: Partial<SpRequestOptions> = {}) =>
    postRequest({
      signer: testSpSigner(),
      issuer: SP_ENTITY,
      destination: broker.config.ssoUrls.post,
      acsUrl: SP_ACS,
      loa: LOA.low,
      nameIdFormat: NAMEID_FORMAT.persistent,
      ...o,
    });

  /** Edit the XML after signing: what an attacker sends is character references, not what a signer would serialise. */
  const afterSigning = (form: { SAMLRequest: string }, edit: (xml: string) => string) => ({
    ...form,
    SAMLRequest: Buffer.from(edit(Buffer.from(form.SAMLRequest, 'base64').toString('utf8')), 'utf8').toString('base64'),
  });

  function errorPage(res: request.Response, status: number, message: RegExp): void {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).not.toMatch(/SAMLResponse/);
    expect(res.text).toMatch(message);
    expect(res.text).toMatch(/Referencia del error|Error reference/);
    expect(res.text).not.toMatch(/\bat [A-Za-z.]+ \(|node_modules/); // never a stack trace
  }

  test.each([
    ['&#xFFFE; in NameIDPolicy/@Format (used to reach the error-response path and answer 500)', (x: string) => x.replace(`Format="${NAMEID_FORMAT.persistent}"`, 'Format="&#xFFFE;"')],
    ['&#xFFFF; in NameIDPolicy/@Format', (x: string) => x.replace(`Format="${NAMEID_FORMAT.persistent}"`, 'Format="urn:x&#xFFFF;"')],
    ['a surrogate reference in NameIDPolicy/@Format', (x: string) => x.replace(`Format="${NAMEID_FORMAT.persistent}"`, 'Format="&#xD83D;"')],
  ])('%s -> an error page saying the XML is not well-formed, not a 500', async (_name, edit) => {
    const res = await request(broker.app).post('/saml/sso').type('form').send(afterSigning(signed(), edit));
    errorPage(res, 400, /character reference &amp;#x[0-9A-Fa-f]+; names a character XML 1\.0 forbids/);
    // Raw, as a signer that serialised the character would send it.
    const raw = await request(broker.app).post('/saml/sso').type('form').send(signed({ mutateXml: edit }));
    expect(raw.status).not.toBe(500);
  });

  test('&#xFFFF; in the Cl@ve RelayState attribute (used to 500 after the password was accepted, losing the login) is refused at intake', async () => {
    const form = signed({ requestedAttributes: [CLAVE_ATTRS.relayState('abXcd')] });
    errorPage(await request(broker.app).post('/saml/sso').type('form').send(afterSigning(form, (x) => x.replace('abXcd', 'ab&#xFFFF;cd'))), 400, /names a character XML 1\.0 forbids/);
    const raw = signed({ requestedAttributes: [CLAVE_ATTRS.relayState('abXcd')], mutateXml: (x) => x.replace('abXcd', 'ab&#xFFFF;cd') });
    errorPage(await request(broker.app).post('/saml/sso').type('form').send(raw), 400, /contains a character XML 1\.0 forbids/);
  });

  test('non-whitespace text after the root element of a signed AuthnRequest is refused (XML 1.0 §2.1)', async () => {
    const res = await request(broker.app).post('/saml/sso').type('form').send(signed({ mutateXml: (x) => `${x}<!-- -->trailing text` }));
    errorPage(res, 400, /text outside the root element/);
  });

  test('a 240 KiB ProviderName is refused with a clear message and leaves nothing in the store', async () => {
    const before = store.bytes;
    const res = await request(broker.app).post('/saml/sso').type('form').send(signed({ providerName: 'x'.repeat(240 * 1024) }));
    errorPage(res, 400, /ProviderName is 245760 characters long; at most 256 are accepted/);
    expect(store.bytes).toBeLessThanOrEqual(before);
    expect(res.text.length).toBeLessThan(20_000); // the page does not echo the quarter megabyte
  });

  test('too many requested attributes, or over-long attribute values, are refused', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ name: `urn:example:attr:${i}`, isRequired: false }));
    errorPage(await request(broker.app).post('/saml/sso').type('form').send(signed({ requestedAttributes: many })), 400, /lists 40 attributes; at most 32/);
    const long = [{ ...CLAVE_ATTRS.relayState('r'.repeat(300)) }];
    errorPage(await request(broker.app).post('/saml/sso').type('form').send(signed({ requestedAttributes: long })), 400, /is 300 characters long; at most 256/);
  });

  test('a citizen name XML cannot carry answers the SP with a Responder error, not a 500 after the password', async () => {
    await broker.services.ds.getRepository(CitizenEntity).update({ dni: CITIZEN.dni }, { givenName: 'Ana\uFFFE' });
    try {
      const agent = request.agent(broker.app);
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
      const done = await loginWithPassword(agent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
      expect(done.status).toBe(200);
      const xml = Buffer.from(formFields(done.text).SAMLResponse!, 'base64').toString('utf8');
      expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Responder');
      expect(xml).toMatch(/<samlp:StatusMessage>The response could not be built: value of attribute http:\/\/eidas.europa.eu\/attributes\/naturalperson\/CurrentGivenName contains a character that XML cannot carry<\/samlp:StatusMessage>/);
    } finally {
      await broker.services.ds.getRepository(CitizenEntity).update({ dni: CITIZEN.dni }, { givenName: CITIZEN.givenName });
    }
  });
});

describe('no input answers 500', () => {
  test('400 deterministic mutations of signed requests (both bindings) and of raw parameters never get a 500 or a stack trace', async () => {
    const pair = storagePairs()[0]!;
    try {
      const broker = await startBroker({
        store: await pair.makeStore(),
        ds: await pair.makeDataSource(),
        overrides: { saml: { transactionLimits: { perAddress: { max: 100_000, windowSeconds: 60 }, perSp: { max: 100_000, windowSeconds: 60 } } } },
      });
      let seed = 20261202;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const nasty = ['&#xFFFE;', '&#0;', '&#xD800;', '\uFFFF', '<', '&', '"', ']]>', '<!--', '<?x?>', '&amp;', '\u0000', 'é', '\u2028', '<a>', '</samlp:AuthnRequest>', ' xmlns:x="y"', 'ID="dup"'];
      const base = postRequest({ signer: testSpSigner(), issuer: SP_ENTITY, destination: broker.config.ssoUrls.post, acsUrl: SP_ACS, loa: LOA.low, nameIdFormat: NAMEID_FORMAT.persistent });
      const xml = Buffer.from(base.SAMLRequest, 'base64').toString('utf8');
      const statuses = new Map<number, number>();
      for (let i = 0; i < 400; i++) {
        const at = rand(xml.length);
        const mutated = rand(2) === 0 ? xml.slice(0, at) + nasty[rand(nasty.length)]! + xml.slice(at) : xml.slice(0, at) + xml.slice(at + 1 + rand(20));
        const b64 = Buffer.from(mutated, 'utf8').toString('base64');
        const res =
          i % 3 === 0
            ? await request(broker.app).get(`/saml/sso?SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(mutated)).toString('base64'))}&RelayState=${encodeURIComponent(nasty[rand(nasty.length)]!)}`)
            : i % 3 === 1
              ? await request(broker.app).post('/saml/sso').type('form').send({ SAMLRequest: b64, RelayState: nasty[rand(nasty.length)]! })
              : await request(broker.app).get(`/saml/sso?${encodeURIComponent(nasty[rand(nasty.length)]!)}=${encodeURIComponent(mutated.slice(0, 300))}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect({ i, status: res.status }).not.toEqual({ i, status: 500 });
        expect(res.text).not.toMatch(/node_modules|\bat [A-Za-z.]+ \(/);
      }
      // The mutations reach both the error page and the SAML error response paths.
      expect(statuses.get(400)).toBeGreaterThan(0);
      expect(statuses.get(200)).toBeGreaterThan(0);
    } finally {
      await pair.cleanup();
    }
  });
});

describe('limits on new login transactions', () => {
  let pair: StoragePair;
  afterAll(() => pair?.cleanup());

  test('per client address: over the limit, a 429 page with Retry-After, and no transaction is created', async () => {
    pair = storagePairs()[0]!;
    const store = (await pair.makeStore()) as MemoryStore;
    const broker = await startBroker({
      store,
      ds: await pair.makeDataSource(),
      overrides: { saml: { transactionLimits: { perAddress: { max: 3, windowSeconds: 60 }, perSp: { max: 100, windowSeconds: 60 } } } },
    });
    const sp = nodeSamlSp(broker);
    for (let i = 0; i < 3; i++) {
      const ok = await sendRedirectRequest(request.agent(broker.app), sp);
      expect(ok.status).toBe(303);
    }
    const sizeBefore = store.size;
    const refused = await sendRedirectRequest(request.agent(broker.app), sp);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toMatch(/demasiadas identificaciones|Too many sign-ins/);
    // Only the request's replay marker was written (intake runs before the limit); no transaction.
    expect(store.size).toBe(sizeBefore + 1);
  });

  test('per SP: the SP limit holds whatever the addresses', async () => {
    const p = storagePairs()[0]!;
    try {
      const broker = await startBroker({
        store: await p.makeStore(),
        ds: await p.makeDataSource(),
        overrides: { trustProxy: true, saml: { transactionLimits: { perAddress: { max: 100, windowSeconds: 60 }, perSp: { max: 2, windowSeconds: 60 } } } },
      });
      const sp = nodeSamlSp(broker);
      const from = (ip: string) => sp.getAuthorizeUrlAsync('r', undefined, {}).then((url) => request(broker.app).get(new URL(url).pathname + new URL(url).search).set('X-Forwarded-For', ip));
      expect((await from('192.0.2.1')).status).toBe(303);
      expect((await from('192.0.2.2')).status).toBe(303);
      expect((await from('192.0.2.3')).status).toBe(429);
    } finally {
      await p.cleanup();
    }
  });
});

describe('a full in-memory store', () => {
  test('refuses writes, and the SSO endpoint answers 503 with a page that says so (not 500)', async () => {
    const p = storagePairs()[0]!;
    try {
      const store = new MemoryStore({ maxBytes: 1024 * 1024 });
      const broker = await startBroker({ store, ds: await p.makeDataSource() });
      // Fill it to the brim with something else: big pieces, then small ones.
      let i = 0;
      for (const size of [10_000, 10]) {
        await expect(
          (async () => {
            for (;;) await store.set(`filler:${i++}`, 'x'.repeat(size), 60_000);
          })(),
        ).rejects.toMatchObject({ code: 'ERR_STORE_FULL' });
      }
      expect(store.bytes).toBeLessThanOrEqual(1024 * 1024);
      const res = await sendRedirectRequest(request.agent(broker.app), nodeSamlSp(broker));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('60');
      expect(res.text).toMatch(/muy ocupado|very busy/);
      await store.close();
    } finally {
      await p.cleanup();
    }
  });
});
