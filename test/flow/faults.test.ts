import { randomBytes } from 'node:crypto';
import { startProcessBroker, freePort, type ProcessBroker } from '../support/broker-process';
import { startOwnRedis, startTcpProxy, type OwnRedis, type TcpProxy } from '../support/backends';
import { formAction, formFields } from '../support/harness';
import { HttpCitizen, type HttpPage } from '../support/http-citizen';
import { describeWithProductionServices, freshPostgresDatabase, TEST_DATABASE_URL } from '../support/pairs';

/**
 * Issue 10 "Faults": the broker runs as `npm start` runs it, on a Redis of this test's own
 * (stopped and started again) and on the shared PostgreSQL behind a TCP proxy of this test's
 * own (its port closed and opened again; the shared server is never stopped). Each outage gives
 * the citizen a 503 page in their language, the SP a signed Responder error where its ACS is
 * already known, a failing /readyz; the broker recovers by itself when the service returns.
 */
describeWithProductionServices('faults: Redis and PostgreSQL go away and come back', () => {
  let redis: OwnRedis;
  let proxy: TcpProxy;
  let broker: ProcessBroker;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    redis = await startOwnRedis(await freePort());
    const shared = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy(await freePort(), { host: shared.hostname, port: Number(shared.port || 5432) });
    db = await freshPostgresDatabase();
    const viaProxy = Object.assign(new URL(db.url), { host: `127.0.0.1:${proxy.port}` }).toString();
    broker = await startProcessBroker({
      env: { REDIS_URL: redis.url, DATABASE_URL: viaProxy },
      config: { store: { keyPrefix: `pasarela-faults-${randomBytes(4).toString('hex')}:` } },
      startTimeoutMs: 60_000,
    });
  }, 90_000);
  afterAll(async () => {
    await broker?.stop();
    await redis?.stop();
    await proxy?.close();
    await db?.drop();
  });

  const readyz = async (): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${broker.operatorUrl}/readyz`);
    return { status: res.status, body: await res.json() };
  };
  /** Poll /readyz until it answers 200 (the broker reconnects by itself; nothing is restarted). */
  const untilReady = async (): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await readyz()).status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`/readyz still fails: ${JSON.stringify(await readyz())}\n${broker.stderr().slice(-2000)}`);
  };
  const metric = async (re: RegExp): Promise<number> => {
    const text = await (await fetch(`${broker.operatorUrl}/metrics`)).text();
    const m = new RegExp(`^${re.source} ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  /** The demo SP's AuthnRequest (a redirect to /saml/sso). */
  const ssoRedirect = async (citizen: HttpCitizen): Promise<string> => {
    const first = await citizen.get(`${broker.baseUrl}/demo/login?loa=low`);
    expect(first.location).toContain('/saml/sso?SAMLRequest=');
    return first.location!;
  };
  /** The 503 page's "return to the service" form: its action and the decoded SAML Response. */
  const returnForm = (page: HttpPage): { action: string; xml: string } | undefined => {
    const action = formAction(page.text);
    const fields = formFields(page.text);
    if (!action || !fields.SAMLResponse) return undefined;
    return { action, xml: Buffer.from(fields.SAMLResponse, 'base64').toString('utf8') };
  };
  const fullLogin = async (): Promise<void> => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const out = await citizen.signIn(await citizen.get(await ssoRedirect(citizen)));
    expect((await citizen.post(out.action, out.fields)).text).toContain('<td>ES/ES/12345678Z</td>');
  };

  test('Redis stopped mid-flow: 503 in Spanish and English, a Responder error for the SP, /readyz fails; back when Redis is', async () => {
    await fullLogin();
    const en = new HttpCitizen({ outboxPath: broker.outboxPath, headers: { 'accept-language': 'en' } });
    const es = new HttpCitizen({ outboxPath: broker.outboxPath, headers: { 'accept-language': 'es' } });
    const enSso = await ssoRedirect(en);
    const esSso = await ssoRedirect(es);
    // A third citizen is already at the method chooser (its transaction lives in Redis).
    const midway = new HttpCitizen({ outboxPath: broker.outboxPath });
    const toChooser = await midway.get(await ssoRedirect(midway));
    expect(toChooser.status).toBe(303);
    const chooser = await midway.get(toChooser.location!);
    expect(chooser.status).toBe(200);
    const storeErrorsBefore = await metric(/pasarela_backend_errors_total\{backend="store",where="request"\}/);

    await redis.stop();

    const enPage = await en.get(enSso);
    expect(enPage.status).toBe(503);
    expect(enPage.headers.get('retry-after')).toBe('30');
    expect(enPage.text).toContain('The sign-in service is not available right now');
    expect(enPage.text).not.toMatch(/ECONNREFUSED|at .*\.js:\d+|Redis/);
    // The request passed the intake (signature, ACS from metadata): the SP gets a signed Responder error there.
    const form = returnForm(enPage);
    expect(form?.action).toBe(`${broker.baseUrl}/demo/acs`);
    expect(form?.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Responder');
    expect(form?.xml).toMatch(/InResponseTo="[^"]+"/);
    expect(enPage.headers.get('content-security-policy')).toContain(`form-action 'self' ${broker.baseUrl}`);

    const esPage = await es.get(esSso);
    expect(esPage.status).toBe(503);
    expect(esPage.text).toContain('El servicio de identificación no está disponible en este momento');
    expect(returnForm(esPage)?.action).toBe(`${broker.baseUrl}/demo/acs`);

    // Mid-flow: the transaction cannot be read, so there is no SP to answer; still a 503 page, never a 500.
    const chose = await midway.post(new URL(formAction(chooser.text)!, chooser.url).toString(), { ...formFields(chooser.text), method: 'permanente' });
    expect(chose.status).toBe(503);
    expect(chose.text).toContain('no está disponible');

    const down = await readyz();
    expect(down).toEqual({ status: 503, body: { status: 'unavailable', store: false, database: true } });
    expect(await metric(/pasarela_backend_errors_total\{backend="store",where="request"\}/)).toBeGreaterThanOrEqual(storeErrorsBefore + 3);
    expect(await metric(/pasarela_backend_errors_total\{backend="store",where="probe"\}/)).toBeGreaterThanOrEqual(1);

    await redis.start();
    await untilReady();
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', store: true, database: true } });
    await fullLogin();
  }, 60_000);

  test('PostgreSQL refused mid-login: 503 with the Responder error for the SP, /readyz fails; back when PostgreSQL is', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath, headers: { 'accept-language': 'en' } });
    const toChooser = await citizen.get(await ssoRedirect(citizen));
    const chooser = await citizen.get(toChooser.location!);
    const chose = await citizen.post(new URL(formAction(chooser.text)!, chooser.url).toString(), { ...formFields(chooser.text), method: 'permanente' });
    expect(chose.status).toBe(303);
    const passwordPage = await citizen.get(chose.location!);
    expect(passwordPage.text).toContain('name="password"');

    await proxy.down();

    const answered = await citizen.post(new URL(formAction(passwordPage.text)!, passwordPage.url).toString(), {
      ...formFields(passwordPage.text),
      username: '12345678Z',
      password: 'Demo-Pasarela-2026',
    });
    expect(answered.status).toBe(503);
    expect(answered.text).toContain('The sign-in service is not available right now');
    // The transaction (in Redis) names the SP and its ACS: the citizen can take the error back to it.
    const form = returnForm(answered);
    expect(form?.action).toBe(`${broker.baseUrl}/demo/acs`);
    expect(form?.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Responder');

    expect(await readyz()).toEqual({ status: 503, body: { status: 'unavailable', store: true, database: false } });
    expect(await metric(/pasarela_backend_errors_total\{backend="database",where="request"\}/)).toBeGreaterThanOrEqual(1);
    expect(broker.stderr() + broker.stdout()).not.toMatch(/unhandled error/);

    await proxy.up();
    await untilReady();
    await fullLogin();
  }, 60_000);
});
