/**
 * The /saml/sso fast path (src/web/sso-fast.ts) answers exactly as the express route does. Two
 * apps over the same services — the default one (fast path) and `createApp(s, { fastPath: false })`
 * — get the same kinds of request; for each outcome the status, the headers, the page (random
 * values masked), the decoded SAML Response, the log lines and the metrics must be the same.
 * And the fast path must actually serve what it claims: express's own handler never sees those
 * requests, while HEAD, a different spelling of the path and conditional requests go to express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp, type BrokerApp } from '../../src/app';
import { createLogger } from '../../src/log';
import type { KeyValueStore } from '../../src/store/types';
import { ssoEndpoint } from '../../src/web/routes/saml';
import { answerHandedOff, ssoFastPath, type PlainMiddleware } from '../../src/web/sso-fast';
import { describeEachPair, storagePairs } from '../support/pairs';
import { formFields, loginWithPassword, SP_ENTITY, startBroker, testSpSigner, type BrokerUnderTest } from '../support/harness';
import { newRequestId, postRequest, redirectRequest, type SpRequestOptions } from '../support/sp-requests';

const CITIZEN = {
  dni: '23456789D',
  password: 'Fast-Path-2026!',
  givenName: 'Rosa',
  firstSurname: 'Prieto',
  dateOfBirth: '1984-05-06',
  mobile: '+34600222333',
  registrationLevel: 'advanced' as const,
};
const LOW = 'http://eidas.europa.eu/LoA/low';

type Res = request.Response;
interface Seen {
  res: Res;
  logs: Array<Record<string, unknown>>;
  metrics: Record<string, number>;
  /** express's own app handled the request (not the fast path, not its hand-off). */
  viaExpress: boolean;
}

/** Values that differ per request by design (ids, times, nonces, signatures, tokens), masked for comparison. */
function mask(s: string, requestIds: string[]): string {
  let out = s;
  for (const id of requestIds) out = out.split(id).join('REQUEST_ID');
  return out
    .replace(/_[0-9a-f]{32}/g, '_ID')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'INSTANT')
    .replace(/<ds:(SignatureValue|DigestValue)>[^<]+</g, '<ds:$1>SIG<')
    .replace(/nonce-[A-Za-z0-9+/=]+/g, 'nonce-N')
    .replace(/nonce="[A-Za-z0-9+/=]+"/g, 'nonce="N"')
    .replace(/mac=[A-Za-z0-9_-]+/g, 'mac=M')
    .replace(/name="SAMLResponse" value="[A-Za-z0-9+/=]+"/g, 'name="SAMLResponse" value="B64"')
    .replace(/\/login\/[A-Za-z0-9_-]{16,64}/g, '/login/TXN')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
    .replace(/\/error\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '/error/TOKEN')
    .replace(/pasarela_bid=[A-Za-z0-9_-]+/g, 'pasarela_bid=BID')
    .replace(/Expires=[^;]+/g, 'Expires=DATE');
}

function shape(seen: Seen, requestIds: string[]) {
  const h = { ...seen.res.headers } as Record<string, unknown>;
  for (const k of ['date', 'x-request-id', 'connection', 'keep-alive']) delete h[k];
  const samlResponse = formFields(seen.res.text).SAMLResponse;
  const logs = seen.logs.map((l) => {
    const { time: _t, pid: _p, hostname: _h, responseTime: _r, reqId, ...rest } = l;
    return { ...rest, reqId: reqId === undefined ? 'none' : 'REQ' };
  });
  return {
    status: seen.res.status,
    headers: JSON.parse(mask(JSON.stringify(h), requestIds)) as unknown,
    body: mask(seen.res.text, requestIds),
    response: samlResponse ? mask(Buffer.from(samlResponse, 'base64').toString('utf8'), requestIds) : undefined,
    logs: JSON.parse(mask(JSON.stringify(logs), requestIds)) as unknown,
    metrics: seen.metrics,
  };
}

describeEachPair('the /saml/sso fast path answers as the express route does (issue 9)', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  let viaFast: BrokerApp;
  let viaExpressRoute: BrokerApp;
  const lines: string[] = [];
  let ssoCookie = '';
  const signer = testSpSigner();

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    broker = await startBroker({ store, ds, log: createLogger('info', sink) });
    await broker.services.citizens.create(CITIZEN);
    viaFast = broker.app;
    viaExpressRoute = createApp(broker.services, { fastPath: false });
    // An SSO session, opened through the ordinary login.
    const agent = request.agent(viaFast);
    const start = await agent.get(`/saml/sso?${redirectRequest(spec({ relayState: 'rs' }))}`).expect(303);
    const done = await loginWithPassword(agent, start.headers.location!, CITIZEN.dni, CITIZEN.password);
    expect(formFields(done.text).SAMLResponse).toBeDefined();
    ssoCookie = String(done.headers['set-cookie'] ?? '')
      .split(',')
      .map((c) => c.split(';')[0]!.trim())
      .find((c) => c.startsWith(`${broker.config.session.cookieName}=`))!;
    expect(ssoCookie).toBeDefined();
  });

  function spec(o: Partial<SpRequestOptions> = {}): SpRequestOptions {
    return { issuer: SP_ENTITY, destination: broker.config.ssoUrls.redirect, loa: LOW, signer, id: newRequestId(), ...o };
  }

  async function metricCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const m of await broker.services.metrics.registry.getMetricsAsJSON()) {
      if (!['pasarela_http_request_duration_seconds', 'pasarela_saml_request_rejections_total', 'pasarela_logins_total'].some((n) => m.name.startsWith(n))) continue;
      for (const v of m.values as Array<{ labels: Record<string, unknown>; value: number; metricName?: string }>) {
        if (v.metricName !== undefined && !v.metricName.endsWith('_count') && !v.metricName.endsWith('_total')) continue;
        const key = `${v.metricName ?? m.name}${JSON.stringify(v.labels)}`;
        out[key] = v.value;
      }
    }
    return out;
  }

  /** One request to one app: the response, its log lines and what it added to the metrics. */
  async function send(app: BrokerApp, build: (t: request.Agent) => request.Test): Promise<Seen> {
    // express's app function calls its own `handle`: a call means the express app served the request.
    const handle = jest.spyOn(app.express as unknown as { handle: () => void }, 'handle');
    const before = await metricCounts();
    const from = lines.length;
    const res = await build(request.agent(app));
    // The request log line is written on 'finish': wait for it.
    const id = String(res.headers['x-request-id']);
    for (let i = 0; i < 50 && !lines.slice(from).some((l) => l.includes('"request completed"') && l.includes(id)); i++) await new Promise((r) => setTimeout(r, 10));
    const after = await metricCounts();
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) metrics[k] = v - (before[k] ?? 0);
    const viaExpress = handle.mock.calls.length > 0;
    handle.mockRestore();
    const logs = lines
      .slice(from)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.reqId === id || (l.req as { id?: string } | undefined)?.id === id);
    expect(logs.length).toBeGreaterThan(0);
    return { res, logs, metrics, viaExpress };
  }

  /** The same kind of request (built fresh for each app: IDs are single-use) through both apps. */
  async function both(build: (t: request.Agent, ids: string[]) => request.Test) {
    const idsFast: string[] = [];
    const idsSlow: string[] = [];
    const fast = await send(viaFast, (t) => build(t, idsFast));
    const slow = await send(viaExpressRoute, (t) => build(t, idsSlow));
    expect(slow.viaExpress).toBe(true);
    expect(shape(fast, idsFast)).toEqual(shape(slow, idsSlow));
    return { fast, slow };
  }

  const redirect = (o: Partial<SpRequestOptions> = {}) => (t: request.Agent, ids: string[]) => {
    const s = spec(o);
    ids.push(s.id!);
    return t.get(`/saml/sso?${redirectRequest(s)}`);
  };
  const post = (o: Partial<SpRequestOptions> = {}) => (t: request.Agent, ids: string[]) => {
    const s = spec({ destination: broker.config.ssoUrls.post, ...o });
    ids.push(s.id!);
    return t.post('/saml/sso').type('form').send(postRequest(s));
  };
  const withSession = (b: (t: request.Agent, ids: string[]) => request.Test) => (t: request.Agent, ids: string[]) =>
    b(t, ids).set('Cookie', `${ssoCookie}; pasarela_bid=${'b'.repeat(24)}`);

  test.each([
    ['HTTP-Redirect', redirect({ relayState: 'state-1' })],
    ['HTTP-POST', post({ relayState: 'state-2' })],
  ])('%s with an SSO session: the same Success auto-POST page, written by the fast path itself', async (_name, build) => {
    const { fast } = await both(withSession(build));
    expect(fast.viaExpress).toBe(false);
    expect(fast.res.status).toBe(200);
    const xml = Buffer.from(formFields(fast.res.text).SAMLResponse!, 'base64').toString('utf8');
    expect(xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    expect(fast.logs.map((l) => l.msg)).toEqual(['AuthnRequest accepted', 'request completed']);
    expect(Object.keys(fast.metrics).some((k) => k.includes('"route":"/saml/sso"') && k.includes('"status":"200"'))).toBe(true);
  });

  test('IsPassive without a session: the same NoPassive error page, written by the fast path', async () => {
    const { fast } = await both(redirect({ isPassive: true }));
    expect(fast.viaExpress).toBe(false);
    expect(Buffer.from(formFields(fast.res.text).SAMLResponse!, 'base64').toString('utf8')).toContain('status:NoPassive');
  });

  test('no session: the same redirect to a new login, answered by the hand-off', async () => {
    const { fast } = await both(redirect());
    expect(fast.viaExpress).toBe(false);
    expect(fast.res.status).toBe(303);
    expect(fast.res.headers.location).toMatch(/^\/login\/[A-Za-z0-9_-]{16,64}$/);
    // The login the fast path started is a real one: its chooser opens.
    await request.agent(viaFast).get(fast.res.headers.location!).set('Cookie', String(fast.res.headers['set-cookie'] ?? '')).expect(200);
  });

  test('a request that cannot be read: the same 400 error page', async () => {
    const { fast } = await both((t) => t.get('/saml/sso?SAMLRequest=not-base64-%%'));
    expect(fast.res.status).toBe(400);
    expect(fast.viaExpress).toBe(false);
  });

  test('a trusted SP with a wrong Destination: the same signed error Response at its ACS', async () => {
    const { fast } = await both(post({ destination: 'https://elsewhere.test/sso' }));
    expect(fast.res.status).toBe(200);
    expect(Buffer.from(formFields(fast.res.text).SAMLResponse!, 'base64').toString('utf8')).toContain('status:Requester');
  });

  test('a replayed request: refused the same way, and the fast path never decides twice', async () => {
    const replay = (t: request.Agent, ids: string[]) => {
      const s = spec();
      ids.push(s.id!);
      return { s, first: t.get(`/saml/sso?${redirectRequest(s)}`) };
    };
    // Send each app its own request twice; the second is the replay.
    const once = (app: BrokerApp) => {
      const ids: string[] = [];
      const { s, first } = replay(request.agent(app), ids);
      return { s, first, ids };
    };
    const a = once(viaFast);
    const b = once(viaExpressRoute);
    expect((await a.first).status).toBe(303);
    expect((await b.first).status).toBe(303);
    const fast = await send(viaFast, (t) => t.get(`/saml/sso?${redirectRequest(a.s)}`));
    const slow = await send(viaExpressRoute, (t) => t.get(`/saml/sso?${redirectRequest(b.s)}`));
    expect(shape(fast, a.ids)).toEqual(shape(slow, b.ids));
    expect(fast.logs.find((l) => l.event === 'saml.request.rejected')?.code).toBe('ERR_REQUEST_REPLAY');
  });

  test('form bodies it cannot read: the same 413 and 400 pages from the same body parser', async () => {
    const big = await both((t) => t.post('/saml/sso').type('form').send({ SAMLRequest: 'A'.repeat(700 * 1024) }));
    expect(big.fast.res.status).toBe(413);
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, 'x']));
    const tooMany = await both((t) => t.post('/saml/sso').type('form').send(many));
    expect(tooMany.fast.res.status).toBe(400);
  });

  test('a first visit by GET sets the same browser id cookie; ?lang= the same language cookie', async () => {
    const first = await both(redirect());
    expect(String(first.fast.res.headers['set-cookie'])).toContain('pasarela_bid=');
    const english = await both((t, ids) => {
      const s = spec();
      ids.push(s.id!);
      return t.get(`/saml/sso?${redirectRequest(s)}&lang=en`);
    });
    expect(english.fast.res.headers['content-language']).toBe('en');
    expect(String(english.fast.res.headers['set-cookie'])).toContain('pasarela_lang=en');
  });

  test('HEAD, another spelling of the path and conditional requests are left to express', async () => {
    for (const build of [
      (t: request.Agent) => t.head(`/saml/sso?${redirectRequest(spec())}`),
      (t: request.Agent) => t.get(`/SAML/SSO?${redirectRequest(spec())}`),
      (t: request.Agent) => t.get(`/saml/sso/?${redirectRequest(spec())}`),
      (t: request.Agent) => t.get(`/saml/sso?${redirectRequest(spec())}`).set('If-None-Match', '*'),
    ]) {
      const seen = await send(viaFast, build);
      expect(seen.viaExpress).toBe(true);
    }
  });
});

describe('the fast path passes errors on as express does', () => {
  const pair = storagePairs().find((p) => p.name === 'embedded')!;
  afterAll(() => pair.cleanup());

  /** The fast path alone (a chain of the test's own), in front of a hand-off that reports the error it was given. */
  async function withChain(chain: PlainMiddleware[]) {
    const broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
    const s = broker.services;
    const endpoint = ssoEndpoint({
      broker: s.broker,
      trust: s.trust,
      store: s.store,
      ssoUrls: broker.config.ssoUrls,
      clockSkewSeconds: broker.config.saml.clockSkewSeconds,
      maxRequestAgeSeconds: broker.config.saml.maxRequestAgeSeconds,
      sessionCookieName: broker.config.session.cookieName,
      secureCookies: false,
    });
    const handOff = express();
    handOff.use(answerHandedOff(endpoint));
    handOff.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).send(`handed off: ${err.message}`));
    const fast = ssoFastPath({ chain, endpoint, trustProxy: () => false, handOff });
    return (req: IncomingMessage, res: ServerResponse) => {
      if (!fast(req, res)) res.writeHead(404).end();
    };
  }

  test('a middleware that throws: the error reaches the hand-off, the process goes on', async () => {
    const app = await withChain([
      (_req, _res, next) => next(),
      () => {
        throw new Error('middleware threw');
      },
    ]);
    const res = await request(app).get('/saml/sso?SAMLRequest=x');
    expect(res.status).toBe(500);
    expect(res.text).toBe('handed off: middleware threw');
  });

  test('a middleware that calls next(err): the same', async () => {
    const app = await withChain([(_req, _res, next) => next(new Error('middleware failed'))]);
    const res = await request(app).post('/saml/sso').type('form').send({ SAMLRequest: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('handed off: middleware failed');
  });
});
