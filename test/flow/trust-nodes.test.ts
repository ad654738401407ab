import { randomBytes } from 'node:crypto';
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
