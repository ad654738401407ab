import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { AdminTokens } from '../../src/admin/tokens';
import { closeDataSource, createDataSource } from '../../src/db/data-source';
import { LOA, NAMEID_FORMAT } from '../../src/saml/constants';
import { startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { describeWithProductionServices, freshPostgresDatabase, TEST_REDIS_URL } from '../support/pairs';
import { redirectRequest, rsaSigner } from '../support/sp-requests';
import { spXml } from '../admin/support';

/**
 * Two broker processes (as `npm start` runs them) on one PostgreSQL and one Redis: a trust-list
 * change made through one node's admin API is seen by the other's SSO endpoint within seconds,
 * with no restart (the trust_version poll).
 */
describeWithProductionServices('a trust-list change reaches every broker node', () => {
  let db: { url: string; drop: () => Promise<void> };
  let a: ProcessBroker;
  let b: ProcessBroker;
  let token: string;
  const signer = rsaSigner('two-node SP');
  const entityId = 'https://two-nodes.test/md';

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    const common = { env: { REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url, TRUST_POLL_MS: '500' }, config: { store: { keyPrefix: `pasarela-nodes-${randomBytes(4).toString('hex')}:` } } };
    a = await startProcessBroker(common);
    b = await startProcessBroker(common);
    const ds = await createDataSource({ url: db.url });
    try {
      token = (await new AdminTokens(ds).create('operator', 'nodes-test', 'test')).token;
    } finally {
      await closeDataSource(ds);
    }
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  /** What node B's SSO endpoint answers to a signed request from the SP: 303 (a login starts) or 400 (unknown SP page). */
  const statusAtB = async (): Promise<number> => {
    const q = redirectRequest({ signer, issuer: entityId, destination: b.ssoUrl, acsUrl: 'https://two-nodes.test/acs', loa: LOA.low, nameIdFormat: NAMEID_FORMAT.persistent });
    return (await fetch(`${b.ssoUrl}?${q}`, { redirect: 'manual' })).status;
  };
  /** Ask until the answer is `want`, for at most 10 s (the poll is 0.5 s); returns the last answer. */
  const eventually = async (want: number): Promise<number> => {
    let last = 0;
    for (let i = 0; i < 40; i++) {
      last = await statusAtB();
      if (last === want) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    return last;
  };
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${a.operatorUrl}/admin/api${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

  test('the banner names the admin API; an SP imported, suspended and resumed through node A is trusted, refused and trusted again at node B', async () => {
    expect(a.stdout()).toMatch(/Admin API: http:\/\/127\.0\.0\.1:\d+\/admin\/api/);
    expect(a.stdout()).toMatch(/Metrics: +http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(a.stdout()).toMatch(/Ready: +http:\/\/127\.0\.0\.1:\d+\/readyz/);
    expect(await statusAtB()).toBe(400);
    const created = await api('/sps', { method: 'POST', headers: { 'Content-Type': 'application/samlmetadata+xml' }, body: spXml({ entityId, certPem: signer.certPem }) });
    expect(created.status).toBe(201);
    expect(await eventually(303)).toBe(303);

    const enc = encodeURIComponent(entityId);
    expect((await api(`/sps/${enc}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'suspended' }) })).status).toBe(200);
    expect(await eventually(400)).toBe(400);
    expect((await api(`/sps/${enc}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'active' }) })).status).toBe(200);
    expect(await eventually(303)).toBe(303);
  });
});

/** WORKERS=2: the primary serves the admin API on the operator listener; its changes reach the workers. */
describeWithProductionServices('the admin API of a cluster primary', () => {
  let db: { url: string; drop: () => Promise<void> };
  let broker: ProcessBroker;
  let token: string;
  const signer = rsaSigner('cluster SP');
  const entityId = 'https://cluster-sp.test/md';

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    broker = await startProcessBroker({
      env: { WORKERS: '2', REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url, TRUST_POLL_MS: '500' },
      config: { store: { keyPrefix: `pasarela-cl-admin-${randomBytes(4).toString('hex')}:` } },
      startTimeoutMs: 60_000,
    });
    const ds = await createDataSource({ url: db.url });
    try {
      token = (await new AdminTokens(ds).create('operator', 'cluster-test', 'test')).token;
    } finally {
      await closeDataSource(ds);
    }
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  test('an SP imported through the primary is trusted by the workers within seconds', async () => {
    expect(broker.stdout()).toMatch(/Admin API: http:\/\/127\.0\.0\.1:\d+\/admin\/api/);
    const created = await fetch(`${broker.operatorUrl}/admin/api/sps`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/samlmetadata+xml' },
      body: spXml({ entityId, certPem: signer.certPem }),
    });
    expect(created.status).toBe(201);
    let statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      // four requests per round, each on a new connection: node:cluster's round-robin reaches both workers
      statuses = [];
      for (let k = 0; k < 4; k++) {
        const q = redirectRequest({ signer, issuer: entityId, destination: broker.ssoUrl, acsUrl: 'https://cluster-sp.test/acs', loa: LOA.low, nameIdFormat: NAMEID_FORMAT.persistent });
        statuses.push(await freshConnectionStatus(`${broker.ssoUrl}?${q}`));
      }
      if (statuses.every((st) => st === 303)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(statuses).toEqual([303, 303, 303, 303]);
  });
});

/** GET on a connection of its own (no keep-alive), so that the cluster hands it to the next worker. */
function freshConnectionStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}
