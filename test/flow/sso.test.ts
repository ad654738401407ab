import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import {
  formAction,
  formFields,
  local,
  loginWithPassword,
  nodeSamlSp,
  sendRedirectRequest,
  SP_ACS,
  startBroker,
  type BrokerUnderTest,
} from '../support/harness';

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

describeEachPair('SSO end to end', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({ store, ds, spEncryption: true });
    await broker.services.citizens.create(CITIZEN);
  });

  /** Decode the auto-POST page: the ACS it posts to and the SAMLResponse it carries. */
  function posted(text: string): { action: string; samlResponse: string; relayState?: string; xml: string } {
    const fields = formFields(text);
    const action = formAction(text, 'saml-post');
    if (!action || !fields.SAMLResponse) throw new Error(`not an auto-POST page:\n${text.slice(0, 500)}`);
    return { action, samlResponse: fields.SAMLResponse, relayState: fields.RelayState, xml: Buffer.from(fields.SAMLResponse, 'base64').toString('utf8') };
  }

  describe('SSO through node-saml (HTTP-Redirect in, HTTP-POST out)', () => {
    test('a citizen logs in with Cl@ve Permanente and node-saml accepts the signed assertion', async () => {
      const agent = request.agent(broker.app);
      const sp = nodeSamlSp(broker);
      const start = await sendRedirectRequest(agent, sp, 'relay-123');
      expect(start.status).toBe(303);
      expect(start.headers.location).toMatch(/^\/login\/[A-Za-z0-9_-]+$/);
      const done = await loginWithPassword(agent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
      expect(done.status).toBe(200);
      const post = posted(done.text);
      expect(post.action).toBe(SP_ACS);
      expect(post.relayState).toBe('relay-123');
      // The auto-POST page may submit only to that ACS's origin, and runs only its nonce'd script.
      const csp = String(done.headers['content-security-policy']);
      expect(csp).toContain("form-action 'self' https://sp.test;");
      expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
      expect(done.text).toMatch(/<script nonce="[A-Za-z0-9+/=]+">/);
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: post.relayState! });
      expect(profile).not.toBeNull();
      expect(profile!.nameIDFormat).toBe('urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
      expect(profile!.nameID).not.toContain(CITIZEN.dni);
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier']).toBe('ES/ES/12345678Z');
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName']).toBe('Ana');
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName']).toBe('Ruiz Soler');
      expect(profile!['http://es.minhafp.clave/SelectedIdP']).toBe('SEGSOC');
      expect(post.xml).toContain('<saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/low</saml:AuthnContextClassRef>');
      const cookie = (done.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('pasarela_sso='))!;
      expect(cookie).toMatch(/HttpOnly/);
      // Plain-http development: Lax, not Secure (browsers drop SameSite=None without Secure).
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).not.toMatch(/Secure/);
    });

    test('under https the SSO cookie is HttpOnly; Secure; SameSite=None, so the SP cross-site POST carries it', async () => {
      const https = await startBroker({ store, ds, keysDir: broker.keysDir, overrides: { baseUrl: 'https://broker.test' } });
      // supertest speaks http, and a cookie jar would hold back Secure cookies: carry them by hand.
      const jar = new Map<string, string>();
      const keep = (res: request.Response) => {
        for (const c of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
          const [pair] = c.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        return res;
      };
      const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const app = request(https.app);
      const sp = nodeSamlSp(https);
      const start = keep(await app.get(local(await sp.getAuthorizeUrlAsync('r', undefined, {}))).set('Cookie', cookieHeader()));
      const chooser = keep(await app.get(start.headers.location!).set('Cookie', cookieHeader()));
      const picked = keep(
        await app.post(start.headers.location!).set('Cookie', cookieHeader()).type('form').send({ _csrf: formFields(chooser.text)._csrf, method: 'permanente' }),
      );
      const formPage = keep(await app.get(picked.headers.location!).set('Cookie', cookieHeader()));
      const done = await app
        .post(picked.headers.location!)
        .set('Cookie', cookieHeader())
        .type('form')
        .send({ _csrf: formFields(formPage.text)._csrf, username: CITIZEN.dni, password: CITIZEN.password });
      expect(done.status).toBe(200);
      const cookie = (done.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('pasarela_sso='))!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/SameSite=None/);
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: posted(done.text).samlResponse, RelayState: 'r' });
      expect(profile!.nameID).toBeTruthy();
    });

    test('the SSO session is reused for a second request, with no interaction', async () => {
      const agent = request.agent(broker.app);
      const sp = nodeSamlSp(broker);
      const first = await sendRedirectRequest(agent, sp);
      await loginWithPassword(agent, first.headers.location!, CITIZEN.dni, CITIZEN.password);
      const second = await sendRedirectRequest(agent, sp, 'again');
      expect(second.status).toBe(200);
      const post = posted(second.text);
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: 'again' });
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier']).toBe('ES/ES/12345678Z');
    });

    test('ForceAuthn ignores the session and shows the chooser again', async () => {
      const agent = request.agent(broker.app);
      const first = await sendRedirectRequest(agent, nodeSamlSp(broker));
      await loginWithPassword(agent, first.headers.location!, CITIZEN.dni, CITIZEN.password);
      const forced = await sendRedirectRequest(agent, nodeSamlSp(broker, { forceAuthn: true }));
      expect(forced.status).toBe(303);
      expect(forced.headers.location).toMatch(/^\/login\//);
    });

    test('IsPassive without a session answers NoPassive', async () => {
      const agent = request.agent(broker.app);
      const sp = nodeSamlSp(broker, { passive: true });
      const res = await sendRedirectRequest(agent, sp);
      expect(res.status).toBe(200);
      const post = posted(res.text);
      expect(post.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:NoPassive');
      // node-saml maps a signed Responder/NoPassive to "no profile" rather than an error.
      await expect(sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse })).resolves.toEqual({ profile: null, loggedOut: false });
    });

    test('a request for high, which no configured method reaches, gets NoAuthnContext at once', async () => {
      const noCertificates = await startBroker({ store, ds, keysDir: broker.keysDir, overrides: { methods: { enabled: ['pin', 'permanente'] } } });
      const agent = request.agent(noCertificates.app);
      const sp = nodeSamlSp(noCertificates, { authnContext: ['http://eidas.europa.eu/LoA/high'] });
      const res = await sendRedirectRequest(agent, sp);
      const post = posted(res.text);
      expect(post.action).toBe(SP_ACS);
      expect(post.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext');
      expect(post.xml).not.toContain('<saml:Assertion');
    });

    test('over HTTP-POST binding, with the assertion encrypted (AES-256-GCM, RSA-OAEP)', async () => {
      const agent = request.agent(broker.app);
      const bro = await startBroker({ store, ds, keysDir: broker.keysDir, spEncryption: true, spPolicy: { encryptAssertion: true } });
      const postAgent = request.agent(bro.app);
      // node-saml deflates POST messages and digests with SHA-1 unless told otherwise; we accept neither.
      const sp = nodeSamlSp(bro, { authnRequestBinding: 'HTTP-POST', entryPoint: bro.config.ssoUrls.post, skipRequestCompression: true, digestAlgorithm: 'sha256' });
      const formHtml = await sp.getAuthorizeFormAsync('post-relay');
      const fields: Record<string, string> = {};
      for (const m of formHtml.matchAll(/name="(SAMLRequest|RelayState)" value="([^"]*)"/g)) fields[m[1]!] = m[2]!;
      expect(fields.SAMLRequest).toBeDefined();
      const start = await postAgent.post('/saml/sso').type('form').send(fields);
      expect(start.status).toBe(303);
      const done = await loginWithPassword(postAgent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
      const post = posted(done.text);
      expect(post.xml).toContain('EncryptedAssertion');
      expect(post.xml).toContain('http://www.w3.org/2009/xmlenc11#aes256-gcm');
      expect(post.xml).toContain('http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p');
      expect(post.xml).not.toContain('CurrentGivenName');
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: 'post-relay' });
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName']).toBe('Ana');
      void agent;
    });
  });

  test("node-saml's default deflated HTTP-POST request is accepted (no skipRequestCompression needed)", async () => {
    const postAgent = request.agent(broker.app);
    const sp = nodeSamlSp(broker, { authnRequestBinding: 'HTTP-POST', entryPoint: broker.config.ssoUrls.post, digestAlgorithm: 'sha256' });
    const formHtml = await sp.getAuthorizeFormAsync('deflated');
    const fields: Record<string, string> = {};
    for (const m of formHtml.matchAll(/name="(SAMLRequest|RelayState)" value="([^"]*)"/g)) fields[m[1]!] = m[2]!;
    // It really is compressed: the base64 does not decode to XML.
    expect(Buffer.from(fields.SAMLRequest!, 'base64').toString('latin1')).not.toMatch(/^\s*</);
    const start = await postAgent.post('/saml/sso').type('form').send(fields);
    expect(start.status).toBe(303);
    const done = await loginWithPassword(postAgent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: posted(done.text).samlResponse, RelayState: 'deflated' });
    expect(profile!['http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier']).toBe('ES/ES/12345678Z');
  });

  describe('rejections reach the browser as pages, never as a POST to an unlisted URL', () => {
    test('an ACS URL not in the SP metadata gets an error page and no form', async () => {
      const sp = nodeSamlSp(broker, { callbackUrl: 'https://evil.test/steal' });
      const res = await sendRedirectRequest(request.agent(broker.app), sp);
      expect(res.status).toBe(400);
      expect(res.text).not.toMatch(/<form[^>]+evil\.test/);
      expect(String(res.headers['content-security-policy'])).toContain("form-action 'self';");
      expect(res.text).not.toContain('SAMLResponse');
      expect(res.text).toMatch(/AssertionConsumerService/);
      expect(res.text).toContain(res.headers['x-request-id']);
    });

    test('an unknown transaction is a clear page with a reference id, not a stack trace', async () => {
      const res = await request(broker.app).get('/login/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      expect(res.status).toBe(410);
      expect(res.text).toContain(res.headers['x-request-id']);
      expect(res.text).not.toMatch(/at .*\.ts:\d+/);
    });

    test('a form POST without the CSRF token is refused', async () => {
      const agent = request.agent(broker.app);
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
      const res = await agent.post(start.headers.location!).type('form').send({ method: 'permanente' });
      expect(res.status).toBe(403);
    });

    test('a disabled method forged into the chooser POST is not accepted', async () => {
      const agent = request.agent(broker.app);
      // At high only the certificate method is offered; Permanente is a disabled button.
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: ['http://eidas.europa.eu/LoA/high'] }));
      const chooser = await agent.get(start.headers.location!);
      expect(chooser.text).toMatch(/value="permanente" disabled/);
      const csrf = formFields(chooser.text)._csrf!;
      const res = await agent.post(start.headers.location!).type('form').send({ _csrf: csrf, method: 'permanente' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(start.headers.location);
    });

    test('cancelling sends AuthnFailed to the SP', async () => {
      const agent = request.agent(broker.app);
      const sp = nodeSamlSp(broker);
      const start = await sendRedirectRequest(agent, sp);
      const chooser = await agent.get(start.headers.location!);
      const csrf = formFields(chooser.text)._csrf!;
      const res = await agent.post(`${start.headers.location!}/cancel`).type('form').send({ _csrf: csrf });
      const post = posted(res.text);
      expect(post.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
      expect(post.xml).toContain('cancelled');
    });

    test('a completed transaction cannot be completed twice', async () => {
      const agent = request.agent(broker.app);
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
      await loginWithPassword(agent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
      const again = await agent.get(start.headers.location!);
      expect(again.status).toBe(410);
    });
  });

  describe('Cl@ve Permanente password', () => {
    test('five wrong passwords lock the account; the right one is then refused too', async () => {
      const dni = '00000023T';
      await broker.services.citizens.create({ ...CITIZEN, dni, password: 'Another-Pass-77' });
      const agent = request.agent(broker.app);
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
      for (let i = 0; i < 5; i++) {
        const res = await loginWithPassword(agent, start.headers.location!, dni, 'Wrong-Pass-00');
        expect(res.status).toBe(401);
      }
      const locked = await loginWithPassword(agent, start.headers.location!, dni, 'Another-Pass-77');
      expect(locked.status).toBe(401);
      expect(locked.text).toMatch(/bloqueada|locked/);
      expect(locked.text).not.toContain('SAMLResponse');
    });

    test('the chooser speaks English when asked and lists every method, disabled ones with the reason', async () => {
      const agent = request.agent(broker.app);
      const start = await sendRedirectRequest(agent, nodeSamlSp(broker));
      const res = await agent.get(`${start.headers.location!}?lang=en`).set('Accept-Language', 'es-ES');
      expect(res.text).toContain('<html lang="en">');
      expect(res.text).toContain('Choose how to identify yourself');
      expect(res.text).toMatch(/<button type="submit" name="method" value="permanente">/);
      const es = await agent.get(start.headers.location!).set('Accept-Language', 'es-ES');
      // The lang cookie set by the switch keeps English on the next page.
      expect(es.text).toContain('<html lang="en">');
    });
  });

});

test('local() keeps path and query', () => {
  expect(local('https://x.test/a/b?c=d')).toBe('/a/b?c=d');
});
