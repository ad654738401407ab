import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { rsaSigner } from '../support/sp-requests';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { freePort, REPO_ROOT, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';
import { describeWithProductionServices, freshPostgresDatabase, TEST_REDIS_URL } from '../support/pairs';

/**
 * WORKERS=N: one primary and N broker workers on the same ports, sharing Redis and PostgreSQL
 * (issue: use every core). Started as `npm start` starts it, with the environment an operator sets.
 */
describeWithProductionServices('several worker processes on one machine', () => {
  let broker: ProcessBroker;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    broker = await startProcessBroker({
      env: { WORKERS: '2', REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url },
      config: { store: { keyPrefix: `pasarela-cluster-${randomBytes(4).toString('hex')}:` } },
      startTimeoutMs: 60_000,
    });
  }, 90_000);
  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  const metric = async (name: RegExp): Promise<number> => {
    const text = await (await fetch(`${broker.operatorUrl}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(new RegExp(`^${name.source}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) n += Number(m[1]);
    return n;
  };

  test('the banner says so; logins work, and an SSO session made through one worker is reused through any', async () => {
    expect(broker.stdout()).toContain('2 worker processes');
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const first = await citizen.get((await citizen.get(`${broker.baseUrl}/demo/login?loa=low`)).location!);
    const out = await citizen.signIn(first);
    expect((await citizen.post(out.action, out.fields)).text).toContain('<td>ES/ES/12345678Z</td>');
    // Ten more round trips: round-robin spreads them over both workers; each must find the session in Redis.
    for (let i = 0; i < 10; i++) {
      const again = await citizen.get((await citizen.get(`${broker.baseUrl}/demo/login?loa=low`)).location!);
      expect(again.status).toBe(200);
      expect(again.text).toContain('name="SAMLResponse"');
    }
  });

  test('/readyz asks every worker; /metrics sums the workers and adds the primary', async () => {
    const ready = await fetch(`${broker.operatorUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: true, database: true });
    const before = await metric(/pasarela_http_request_duration_seconds_count/);
    for (let i = 0; i < 6; i++) expect((await fetch(`${broker.baseUrl}/metadata`)).status).toBe(200);
    expect((await metric(/pasarela_http_request_duration_seconds_count/)) - before).toBe(6);
    expect(await metric(/pasarela_process_cpu_seconds_total/)).toBeGreaterThan(0);
    expect(await metric(/pasarela_primary_process_cpu_seconds_total/)).toBeGreaterThan(0);
  });
});

test('more than one worker without Redis and PostgreSQL stops the start, naming what is missing', () => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/main.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, WORKERS: '2', REDIS_URL: '', DATABASE_URL: '', PORT: '0', LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('configuration key "workers": REDIS_URL and DATABASE_URL when more than one worker runs');
});

describeWithProductionServices('a cluster start that fails', () => {
  test('(operator port in use) exits non-zero, leaves no worker behind and writes no demo SP or citizen', async () => {
    const db = await freshPostgresDatabase();
    const held = createServer();
    try {
      const port = await freePort();
      await new Promise<void>((resolve) => held.listen(port, '127.0.0.1', resolve));
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist/main.js')], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          WORKERS: '2',
          REDIS_URL: TEST_REDIS_URL,
          DATABASE_URL: db.url,
          PORT: String(await freePort()),
          OPERATOR_PORT: String(port),
          METHODS: 'pin,permanente',
          PASARELA_PAIRWISE_SECRET: 'cluster-fail-pairwise-secret-0123456789ab',
          PASARELA_CSRF_SECRET: 'cluster-fail-csrf-secret-0123456789abcdef',
          LOG_LEVEL: 'silent',
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      // spawnSync returns once every process holding its pipes is gone: no orphaned worker.
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('EADDRINUSE');
      const { DataSource } = await import('typeorm');
      const check = await new DataSource({ type: 'postgres', url: db.url }).initialize();
      try {
        expect(await check.query('SELECT count(*)::int AS n FROM service_providers')).toEqual([{ n: 0 }]);
        expect(await check.query('SELECT count(*)::int AS n FROM citizens')).toEqual([{ n: 0 }]);
      } finally {
        await check.destroy();
      }
    } finally {
      held.close();
      await db.drop();
    }
  }, 90_000);
});

/**
 * Poll /readyz from before the process starts; at its first 200, send `n` SSO requests through
 * the demo SP and keep their statuses (303 to the chooser, or 400 for an SP not yet trusted).
 */
function watchFirstReady(operatorPort: number, base: string, n: number) {
  const answers: number[] = [];
  let done = false;
  const firstReady = (async () => {
    while (!done) {
      const ok = await fetch(`http://127.0.0.1:${operatorPort}/readyz`).then((r) => r.ok, () => false);
      if (ok) {
        for (let i = 0; i < n; i++) {
          const demo = await fetch(`${base}/demo/login?loa=low`, { redirect: 'manual' });
          const sso = await fetch(new URL(demo.headers.get('location')!, base), { redirect: 'manual' });
          answers.push(sso.status);
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return { answers, firstReady, stop: () => void (done = true) };
}

/**
 * A broker on a fresh PostgreSQL database and the shared Redis, watched from before it starts:
 * the statuses of the `n` SSO requests sent at its first 200 from /readyz.
 */
async function answersAtFirstReady(n: number, env: Record<string, string>, keyPrefix: string): Promise<number[]> {
  const [port, operatorPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const db = await freshPostgresDatabase();
  const watch = watchFirstReady(operatorPort, base, n);
  let broker: ProcessBroker | undefined;
  try {
    broker = await startProcessBroker({
      env: { ...env, REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url, PORT: String(port), BASE_URL: base, OPERATOR_PORT: String(operatorPort) },
      config: { store: { keyPrefix: `${keyPrefix}-${randomBytes(4).toString('hex')}:` } },
      startTimeoutMs: 60_000,
    });
    await watch.firstReady;
  } finally {
    watch.stop();
    await broker?.stop();
    await db.drop();
  }
  return watch.answers;
}

/**
 * /readyz is what a load balancer waits for: it must not turn ready while a worker still holds the
 * trust list it read before the primary's bootstrap wrote the SPs (every SP would be "not a
 * registered service provider" on that worker). Polled from the moment the process starts.
 */
describeWithProductionServices('several worker processes: ready means the trust list is loaded', () => {
  test('at the first 200 from /readyz, every worker already knows the SP the bootstrap wrote', async () => {
    // Round-robin: six SSO requests reach both workers.
    const answers = await answersAtFirstReady(6, { WORKERS: '2' }, 'pasarela-cluster-ready');
    // 303 to the method chooser, never the 400 "not a registered service provider".
    expect(answers).toEqual([303, 303, 303, 303, 303, 303]);
  }, 90_000);
});

/** The same promise with one process: ready only once the bootstrap has written the trust list. */
describeWithProductionServices('one process: ready means the trust list is loaded', () => {
  test('at the first 200 from /readyz the SP the bootstrap wrote (demo SP, metadata directory) is trusted', async () => {
    // A metadata directory of 150 SPs makes the bootstrap take long enough to be seen polling.
    const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-mdir-'));
    const signer = rsaSigner('many SPs');
    const privateKey = signer.key.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (let i = 0; i < 150; i++) {
      const entity = `https://sp-${i}.test/md`;
      writeFileSync(path.join(dir, `sp-${i}.xml`), generateServiceProviderMetadata({ issuer: entity, callbackUrl: `https://sp-${i}.test/acs`, publicCerts: signer.certPem, privateKey }));
    }
    expect(await answersAtFirstReady(1, { METADATA_DIR: dir }, 'pasarela-one-ready')).toEqual([303]);
  }, 90_000);
});
