import { startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { formAction, formFields } from '../support/harness';
import { HttpCitizen } from '../support/http-citizen';

/**
 * Issue 10 "Observability", read from a running broker (`node dist/main.js`) after real flows:
 * /metrics on the operator port, and the JSON log lines on stdout.
 */
describe('metrics and logs after real logins', () => {
  let broker: ProcessBroker;
  let demoSp: string;

  beforeAll(async () => {
    broker = await startProcessBroker({ env: { LOG_LEVEL: 'info' } });
    demoSp = `${broker.baseUrl}/demo/metadata`;
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const scrape = async (): Promise<string> => {
    const res = await fetch(`${broker.operatorUrl}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };
  /** The value of one series (labels in the order prom-client prints them), 0 when absent. */
  const value = (text: string, name: string, labels: Record<string, string>): number => {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    const line = text.split('\n').find((x) => x.startsWith(`${name}{${l}} `));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const ssoRedirect = async (citizen: HttpCitizen, loa = 'low'): Promise<string> => (await citizen.get(`${broker.baseUrl}/demo/login?loa=${loa}`)).location!;

  test('logins by method, LoA, SP and outcome; SSO reuse; a cancel; rejections by reason; latency per route', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const out = await citizen.signIn(await citizen.get(await ssoRedirect(citizen)));
    expect((await citizen.post(out.action, out.fields)).status).toBe(200);
    // Same browser again: the SSO session answers without a login.
    const again = await citizen.get(await ssoRedirect(citizen));
    expect(again.text).toContain('name="SAMLResponse"');
    // Another citizen cancels at the chooser.
    const other = new HttpCitizen({ outboxPath: broker.outboxPath });
    const chooser = await other.get((await other.get(await ssoRedirect(other))).location!);
    const cancelForm = /<form method="post" action="([^"]+\/cancel)"[^>]*>([\s\S]*?)<\/form>/.exec(chooser.text)!;
    const cancelled = await other.post(new URL(cancelForm[1]!, chooser.url).toString(), formFields(cancelForm[2]!));
    expect(cancelled.text).toContain('name="SAMLResponse"');
    // Two requests that fail the intake, for different reasons.
    expect((await fetch(`${broker.ssoUrl}?SAMLRequest=bm90LWRlZmxhdGVk`)).status).toBe(400);
    expect((await fetch(broker.ssoUrl)).status).toBe(400);

    const m = await scrape();
    const success = m.split('\n').filter((l) => l.startsWith('pasarela_logins_total{') && l.includes('outcome="success"'));
    expect(success).toHaveLength(1);
    expect(success[0]).toMatch(new RegExp(`^pasarela_logins_total\\{method="permanente",loa="(low|substantial|high)",sp="${demoSp}",outcome="success"\\} 1$`));
    const loa = /loa="([a-z]+)"/.exec(success[0]!)![1]!;
    expect(value(m, 'pasarela_logins_total', { method: 'permanente', loa, sp: demoSp, outcome: 'sso' })).toBe(1);
    expect(value(m, 'pasarela_logins_total', { method: 'none', loa: 'low', sp: demoSp, outcome: 'AuthnFailed' })).toBe(1);

    const rejections = m.split('\n').filter((l) => l.startsWith('pasarela_saml_request_rejections_total{'));
    expect(rejections.length).toBe(2);
    for (const r of rejections) expect(r).toMatch(/^pasarela_saml_request_rejections_total\{code="ERR_[A-Z_]+"\} 1$/);

    expect(value(m, 'pasarela_http_request_duration_seconds_count', { method: 'GET', route: '/saml/sso', status: '400' })).toBe(2);
    expect(m).toMatch(/^pasarela_http_request_duration_seconds_bucket\{le="0\.05",method="GET",route="\/saml\/sso",status="303"\} \d+$/m);
    expect(m).toMatch(/^pasarela_http_request_duration_seconds_count\{method="POST",route="\/login\/\*",status="\d+"\} [1-9]/m);
    // No outage here: the error counters exist, at zero.
    for (const backend of ['store', 'database']) {
      for (const where of ['request', 'probe']) expect(value(m, 'pasarela_backend_errors_total', { backend, where })).toBe(0);
    }
    // The demo SP's metadata was imported at this start.
    const age = value(m, 'pasarela_sp_metadata_age_seconds', { sp: demoSp });
    expect(m).toContain(`pasarela_sp_metadata_age_seconds{sp="${demoSp}"} `);
    expect(age).toBeGreaterThanOrEqual(0);
  }, 60_000);

  test('JSON logs: every request line carries its request id (also sent as X-Request-Id); a DNI only masked', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const toChooser = await citizen.get(await ssoRedirect(citizen));
    const chooser = await citizen.get(toChooser.location!);
    const chose = await citizen.post(new URL(formAction(chooser.text)!, chooser.url).toString(), { ...formFields(chooser.text), method: 'permanente' });
    const passwordPage = await citizen.get(chose.location!);
    const rejected = await citizen.post(new URL(formAction(passwordPage.text)!, passwordPage.url).toString(), {
      ...formFields(passwordPage.text),
      username: '12345678Z',
      password: 'not-the-password',
    });
    const requestId = rejected.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The log reaches us through a pipe: wait for the request's completion line.
    for (let i = 0; i < 100 && !broker.stdout().includes(`"id":"${requestId}","method":"POST"`); i++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && !new RegExp(`"id":"${requestId}"[^\n]*"request completed"`).test(broker.stdout()); i++) await new Promise((r) => setTimeout(r, 50));

    const json = broker
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { req?: { id?: string }; reqId?: string });
    expect(json.length).toBeGreaterThan(10);
    for (const line of json) expect(line).toMatchObject({ service: 'pasarela', level: expect.any(Number), time: expect.any(String) });
    const ofRequest = json.filter((l) => l.req?.id === requestId || l.reqId === requestId);
    // The rejection itself and the request's completion line.
    expect(ofRequest.map((l) => l.msg)).toEqual(expect.arrayContaining(['password rejected', 'request completed']));
    const rejection = ofRequest.find((l) => l.msg === 'password rejected')!;
    // Logged by the authenticator's logger, not the request's: the request id comes with it all the same.
    expect(rejection.reqId).toBe(requestId);
    for (const l of json) if (l.reqId && l.req?.id) expect(l.reqId).toBe(l.req.id);
    expect(rejection.who).toMatch(/^\*+78Z$|^[0-9*]{6,}[A-Z]$/);
    expect(rejection.who).not.toBe('12345678Z');
    // Not one JSON line, of any request, carries the DNI in clear, nor the password.
    const all = json.map((l) => JSON.stringify(l)).join('\n');
    expect(all).not.toContain('12345678Z');
    expect(all).not.toContain('not-the-password');
  }, 60_000);
});
