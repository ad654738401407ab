import { randomBytes } from 'node:crypto';
import { startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { DEMO_CREDENTIALS, HttpCitizen, type HttpPage } from '../support/http-citizen';
import { describeWithProductionServices, freshPostgresDatabase, TEST_REDIS_URL } from '../support/pairs';
import { readOutbox } from '../pin/support';

/**
 * Deregistration ends every SSO session of the citizen at once, on every node: two broker
 * processes (each started as `npm start` starts it) share Redis and PostgreSQL. The citizen logs
 * in and deregisters on node A; node B, shown the same session cookie, reuses the session before
 * and refuses it after.
 */
describeWithProductionServices('deregistration across broker processes sharing Redis', () => {
  let broker: ProcessBroker;
  let nodeB: ProcessBroker;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    const shared = {
      env: { REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url },
      config: { store: { keyPrefix: `pasarela-dereg-${randomBytes(4).toString('hex')}:` } },
      startTimeoutMs: 60_000,
    };
    // One after the other: the first seeds the demo citizen, the second finds it.
    broker = await startProcessBroker(shared);
    // Two nodes of one deployment: one public base URL (a load balancer's) and one set of keys, each node on its own port.
    nodeB = await startProcessBroker({ ...shared, env: { ...shared.env, BASE_URL: broker.baseUrl, KEYS_DIR: broker.keysDir } });
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    await nodeB?.stop();
    await db?.drop();
  });

  /** The demo SP's next AuthnRequest, sent straight to node B (as a load balancer would route it) with the browser's SSO cookie. */
  const onNodeB = async (sso: string): Promise<{ status: number; text: string }> => {
    const start = await fetch(`${broker.baseUrl}/demo/login?loa=low`, { redirect: 'manual' });
    const ssoUrl = new URL(start.headers.get('location')!);
    const toB = new URL(ssoUrl.pathname + ssoUrl.search, `http://127.0.0.1:${nodeB.port}`);
    const res = await fetch(toB, { redirect: 'manual', headers: { cookie: `pasarela_sso=${sso}` } });
    return { status: res.status, text: await res.text() };
  };

  const hidden = (html: string) => Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]));
  const ssoAgain = async (citizen: HttpCitizen): Promise<HttpPage> => citizen.get((await citizen.get(`${broker.baseUrl}/demo/login?loa=low`)).location!);

  test('a live session is reused on both nodes, then gone on both after /account/deregister on one', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const first = await citizen.get((await citizen.get(`${broker.baseUrl}/demo/login?loa=low`)).location!);
    await citizen.signIn(first);
    const sso = citizen.cookies(broker.baseUrl).pasarela_sso!;
    expect(sso).toBeTruthy();
    expect((await ssoAgain(citizen)).text).toContain('name="SAMLResponse"');
    const beforeB = await onNodeB(sso);
    expect(beforeB.status).toBe(200);
    expect(beforeB.text).toContain('name="SAMLResponse"');

    const start = await citizen.get(`${broker.baseUrl}/account/deregister`);
    const otpPage = await citizen.post(`${broker.baseUrl}/account/deregister`, { ...hidden(start.text), dni: DEMO_CREDENTIALS.dni, current_password: DEMO_CREDENTIALS.password });
    expect(otpPage.status).toBe(200);
    const code = readOutbox(broker.outboxPath).filter((l) => l.to === DEMO_CREDENTIALS.mobile).at(-1)!.code!;
    const confirm = await citizen.post(`${broker.baseUrl}/account/deregister`, { ...hidden(otpPage.text), otp: code });
    expect(confirm.text).toContain('name="confirm" value="yes"');
    const done = await citizen.post(`${broker.baseUrl}/account/deregister`, { ...hidden(confirm.text), confirm: 'yes' });
    expect(done.status).toBe(200);

    const again = await ssoAgain(citizen);
    expect(again.status).toBe(303); // to the method chooser: no session on node A
    const afterB = await onNodeB(sso);
    expect(afterB.status).toBe(303); // nor on node B
    expect(afterB.text).not.toContain('name="SAMLResponse"');
    // And the password no longer opens one.
    await expect(citizen.signIn(await ssoAgain(citizen))).rejects.toThrow(/401/);
  });
});
