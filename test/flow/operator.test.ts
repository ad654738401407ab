import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createOperatorApp } from '../../src/operator/app';
import { buildServices, type Services } from '../../src/services';
import { MemoryStore } from '../../src/store/memory';
import { startBroker, type BrokerUnderTest } from '../support/harness';
import { storagePairs, type StoragePair } from '../support/pairs';

/**
 * What the citizen-facing listener must not expose (metrics, health with the trust-list size),
 * the operator listener that serves them instead, the security headers, and what reaches the log.
 */
describe('operator listener and citizen listener', () => {
  let pair: StoragePair;
  let broker: BrokerUnderTest;

  beforeAll(async () => {
    pair = storagePairs()[0]!;
    broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
  });
  afterAll(() => pair.cleanup());

  test('/metrics, /health, /healthz and /readyz are not served on the citizen listener', async () => {
    for (const p of ['/metrics', '/health', '/healthz', '/readyz']) {
      const res = await request(broker.app).get(p);
      expect(res.status).toBe(404);
      expect(res.text).not.toMatch(/pasarela_|"sps"|process_cpu/);
    }
  });

  test('the operator listener serves liveness, readiness (store and database) and Prometheus metrics', async () => {
    const op = createOperatorApp(broker.services);
    expect((await request(op).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await request(op).get('/readyz').expect(200)).body).toEqual({ status: 'ready', store: true, database: true });
    // A request on the citizen listener shows up in the operator's metrics.
    await request(broker.app).get('/metadata').expect(200);
    const metrics = await request(op).get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/pasarela_process_cpu_seconds_total/);
    expect(metrics.text).toMatch(/pasarela_http_request_duration_seconds_count\{[^}]*route="\/metadata"[^}]*status="200"[^}]*\} [1-9]/);
  });

  test('readiness fails when the store does not answer', async () => {
    const store = new MemoryStore();
    await store.close();
    const down = { ...broker.services, store: { ...store, ping: async () => { throw new Error('down'); } } } as unknown as Services;
    const res = await request(createOperatorApp(down)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', store: false, database: true });
  });

  test('over plain http: no HSTS; X-Frame-Options and CSP frame-ancestors agree (DENY / none)', async () => {
    const res = await request(broker.app).get('/login/unknown-transaction-id-0000');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  test('over https: HSTS is sent', async () => {
    const https = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource(), keysDir: broker.keysDir, overrides: { baseUrl: 'https://broker.test' } });
    const res = await request(https.app).get('/metadata');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=31536000; includeSubDomains/);
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});

describe('request logs', () => {
  test('the SAMLRequest in a redirect Location (the demo SP) and in the request URL never reach the log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-logs-'));
    const config = loadConfig({
      root: path.resolve(__dirname, '../..'),
      env: {},
      overrides: {
        keys: { dir: path.join(dir, 'certs'), generateIfMissing: true },
        secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
        database: { sqlitePath: path.join(dir, 'pasarela.sqlite') },
        notify: { outboxPath: path.join(dir, 'outbox.jsonl') },
        certificate: { devPki: false },
        trust: { metadataDir: dir },
      },
    });
    const services = await buildServices(config, pino({ level: 'info' }, sink), { store: new MemoryStore() });
    try {
      const app = createApp(services);
      const redirect = await request(app).get('/demo/login?loa=low');
      expect(redirect.status).toBe(302);
      const location = String(redirect.headers.location);
      expect(location).toMatch(/SAMLRequest=/);
      const samlRequest = new URL(location).searchParams.get('SAMLRequest')!;
      // The SP's request arriving at the broker: its query string must not be logged either.
      await request(app).get(new URL(location).pathname + new URL(location).search);
      const logged = lines.join('\n');
      expect(lines.some((l) => (JSON.parse(l) as { res?: { statusCode: number } }).res?.statusCode === 302)).toBe(true);
      expect(logged).toContain('"location":"http://localhost:8080/saml/sso?[query omitted]"');
      expect(logged).not.toContain(samlRequest);
      expect(logged).not.toContain(encodeURIComponent(samlRequest));
      expect(logged).not.toContain('SAMLRequest=');
      expect(logged).not.toMatch(/"headers"/);
    } finally {
      await services.close();
    }
  });
});

test('an unmatched or unknown path on the operator listener answers JSON 404', async () => {
  const pair = storagePairs()[0]!;
  try {
    const broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
    await request(createOperatorApp(broker.services)).get('/admin').expect(404, { error: 'not found' });
  } finally {
    await pair.cleanup();
  }
});
