import type { Express } from 'express';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import request from 'supertest';
import { trustAdminFor } from '../../src/admin/api';
import { jwtVerifier } from '../../src/admin/api/auth';
import { AdminTokens } from '../../src/admin/tokens';
import { createOperatorApp } from '../../src/operator/app';
import { makeSelfSignedRsa, selfSignedFor } from '../../src/pki/self-signed';
import { generateKeyPairSync } from 'node:crypto';
import { LOA, NAMEID_FORMAT } from '../../src/saml/constants';
import { startBroker, SP_ACS, SP_ENTITY, testSpSigner, type BrokerUnderTest } from '../support/harness';
import { storagePairs, type StoragePair } from '../support/pairs';
import { redirectRequest } from '../support/sp-requests';
import { aggregateXml, fixtureServer, signAggregate, spXml, type FixtureServer } from './support';

/**
 * The admin API on the operator listener: bearer authentication (API keys and JWTs from a
 * local JWKS), roles, trust-list management with validation messages, the self-check, metadata
 * refresh from URLs and signed aggregates. Every storage pair.
 */
describe.each(storagePairs().map((p) => [p.name, p] as const))('admin API (%s)', (_name, pair: StoragePair) => {
  let broker: BrokerUnderTest;
  let op: Express;
  let fixtures: FixtureServer;
  let jwtKey: KeyLike;
  let otherKey: KeyLike;
  const keys: Record<'operator' | 'registrar' | 'auditor', string> = { operator: '', registrar: '', auditor: '' };
  const cert = makeSelfSignedRsa('admin test SP');
  const fedKey = makeSelfSignedRsa('federation signer');
  const as = (role: keyof typeof keys) => ({ Authorization: `Bearer ${keys[role]}` });
  const enc = (id: string) => `/admin/api/sps/${encodeURIComponent(id)}`;

  beforeAll(async () => {
    fixtures = await fixtureServer();
    const signer = await generateKeyPair('RS256');
    jwtKey = signer.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const pub = await exportJWK((await generateKeyPair('RS256')).publicKey); // a decoy key in the set
    const realPub = await exportJWK(signer.publicKey);
    fixtures.set('/jwks.json', JSON.stringify({ keys: [{ ...pub, kid: 'decoy', alg: 'RS256' }, { ...realPub, kid: 'k1', alg: 'RS256' }] }), 'application/json');
    broker = await startBroker({
      store: await pair.makeStore(),
      ds: await pair.makeDataSource(),
      overrides: { admin: { jwt: { jwksUrl: `${fixtures.url}/jwks.json`, issuer: 'https://idp.test', audience: 'pasarela-admin' } } },
    });
    op = createOperatorApp(broker.services);
    const tokens = new AdminTokens(broker.services.ds);
    for (const role of Object.keys(keys) as Array<keyof typeof keys>) keys[role] = (await tokens.create(role, `test-${role}`, 'test')).token;
  });
  afterAll(async () => {
    await fixtures.close();
    await pair.cleanup();
  });

  async function jwt(claims: Record<string, unknown>, o: { key?: KeyLike; exp?: string | number; kid?: string } = {}): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? 'k1' })
      .setIssuer('https://idp.test')
      .setAudience('pasarela-admin')
      .setSubject('ana@ops.test')
      .setIssuedAt()
      .setExpirationTime(o.exp ?? '5m')
      .sign(o.key ?? jwtKey);
  }

  const importXml = (xml: string, role: keyof typeof keys = 'operator') =>
    request(op).post('/admin/api/sps').set(as(role)).set('Content-Type', 'application/samlmetadata+xml').send(xml);

  test('no token, a malformed header, an unknown or revoked key: 401 problem+json with WWW-Authenticate', async () => {
    const none = await request(op).get('/admin/api/sps');
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(none.body).toMatchObject({ status: 401, code: 'ERR_ADMIN_UNAUTHORIZED' });
    expect((await request(op).get('/admin/api/sps').set('Authorization', 'Basic abc')).status).toBe(401);
    const unknown = await request(op).get('/admin/api/sps').set('Authorization', 'Bearer pasarela_notarealkey');
    expect(unknown.status).toBe(401);
    expect(unknown.body.detail).toMatch(/unknown or revoked/);
    const tokens = new AdminTokens(broker.services.ds);
    const { token, info } = await tokens.create('operator', 'short-lived', 'test');
    await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${token}`).expect(200);
    await tokens.revoke(info.id, 'test');
    expect((await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    expect((await tokens.list()).find((t) => t.id === info.id)!.revokedAt).not.toBeNull();
  });

  test('JWTs: a good one is accepted with its roles; expired, wrong key, wrong audience and role-less ones are not', async () => {
    const good = await jwt({ roles: ['auditor'] });
    const me = await request(op).get('/admin/api/me').set('Authorization', `Bearer ${good}`).expect(200);
    expect(me.body).toEqual({ name: 'ana@ops.test', kind: 'jwt', roles: ['auditor'] });
    await request(op).get('/admin/api/audit').set('Authorization', `Bearer ${good}`).expect(200);
    // auditor by JWT: no writes
    expect((await request(op).delete(enc(SP_ENTITY)).set('Authorization', `Bearer ${good}`)).status).toBe(403);

    const expired = await jwt({ roles: ['operator'] }, { exp: Math.floor(Date.now() / 1000) - 3600 });
    const e = await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${expired}`);
    expect(e.status).toBe(401);
    expect(e.body.detail).toBe('the JWT has expired');

    const forged = await jwt({ roles: ['operator'] }, { key: otherKey });
    const f = await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${forged}`);
    expect(f.status).toBe(401);
    expect(f.body.detail).toMatch(/signature does not verify/);

    const wrongAud = await new SignJWT({ roles: ['operator'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer('https://idp.test').setAudience('someone-else').setExpirationTime('5m').sign(jwtKey);
    const a = await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${wrongAud}`);
    expect(a.status).toBe(401);
    expect(a.body.detail).toMatch(/"aud" claim/);

    const noRole = await jwt({ roles: ['admin'] });
    expect((await request(op).get('/admin/api/sps').set('Authorization', `Bearer ${noRole}`)).status).toBe(403);
  });

  test('roles: each may do its part and gets 403 for the rest', async () => {
    // operator: trust list yes, audit trail no, citizen services no
    await request(op).get('/admin/api/sps').set(as('operator')).expect(200);
    expect((await request(op).get('/admin/api/audit').set(as('operator'))).status).toBe(403);
    expect((await request(op).get('/admin/api/citizens').set(as('operator'))).status).toBe(403);
    // auditor: reads the trust list and the audit trail, changes nothing
    await request(op).get('/admin/api/sps').set(as('auditor')).expect(200);
    await request(op).get(enc(SP_ENTITY)).set(as('auditor')).expect(200);
    await request(op).get('/admin/api/audit').set(as('auditor')).expect(200);
    const xml = spXml({ entityId: 'https://roles.test/md', certPem: cert.certPem });
    expect((await importXml(xml, 'auditor')).status).toBe(403);
    expect((await request(op).patch(enc(SP_ENTITY)).set(as('auditor')).send({ status: 'suspended' })).status).toBe(403);
    expect((await request(op).delete(enc(SP_ENTITY)).set(as('auditor'))).status).toBe(403);
    expect((await request(op).post(`${enc(SP_ENTITY)}/check`).set(as('auditor')).send({ request: 'x' })).status).toBe(403);
    expect((await request(op).post(`${enc(SP_ENTITY)}/refresh`).set(as('auditor'))).status).toBe(403);
    // registrar: citizen services only, nothing of the trust list or audit
    const reg = await request(op).get('/admin/api/citizens/nothing').set(as('registrar'));
    expect(reg.status).toBe(404);
    expect(reg.body.detail).toMatch(/no such citizen service/);
    expect((await request(op).post('/admin/api/citizens/lookup').set(as('auditor')).send({ dni: '00000000T' })).status).toBe(403);
    for (const path of ['/admin/api/sps', enc(SP_ENTITY), '/admin/api/audit', '/admin/api/sources']) {
      const r = await request(op).get(path).set(as('registrar'));
      expect([path, r.status, r.body.code]).toEqual([path, 403, 'ERR_ADMIN_FORBIDDEN']);
    }
    expect((await importXml(xml, 'registrar')).status).toBe(403);
  });

  test('imports: a good document is accepted; malformed, expired, unsigned-when-required and oversized ones are refused, each with its reason', async () => {
    const good = await importXml(spXml({ entityId: 'https://good.test/md', certPem: cert.certPem }));
    expect(good.status).toBe(201);
    expect(good.body).toMatchObject({ entityId: 'https://good.test/md', status: 'active', acs: ['https://good.test/acs'], signingKeys: 1 });
    expect(broker.services.trust.get('https://good.test/md')).toBeDefined();
    // importing it again replaces it: 200
    expect((await importXml(spXml({ entityId: 'https://good.test/md', certPem: cert.certPem, acs: 'https://good.test/acs2' }))).status).toBe(200);
    expect(broker.services.trust.get('https://good.test/md')!.acs[0]!.location).toBe('https://good.test/acs2');

    const malformed = await importXml('<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://bad.test/md"><md:SPSSODescriptor>');
    expect(malformed.status).toBe(422);
    expect(malformed.headers['content-type']).toMatch(/problem\+json/);
    expect(malformed.body.detail).toMatch(/not well-formed/);

    const expired = await importXml(spXml({ entityId: 'https://old.test/md', certPem: cert.certPem, validUntil: new Date(Date.now() - 60_000) }));
    expect(expired.status).toBe(422);
    expect(expired.body.detail).toMatch(/metadata for https:\/\/old\.test\/md expired at .* \(validUntil\); ask the SP for fresh metadata/);

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const oldCert = selfSignedFor(privateKey, 'expired SP key', -1);
    const expiredKey = await importXml(spXml({ entityId: 'https://oldkey.test/md', certPem: oldCert.certPem }));
    expect(expiredKey.status).toBe(422);
    expect(expiredKey.body.problems[0]).toMatch(/the certificate ".*expired SP key" expired on .*; the SP must publish a current key/);

    const unsigned = await importXml(spXml({ entityId: 'https://nokey.test/md', certPem: null }));
    expect(unsigned.status).toBe(422);
    expect(unsigned.body.detail).toMatch(/https:\/\/nokey\.test\/md must sign its requests but its metadata has no signing key/);

    const weak = await importXml(spXml({ entityId: 'https://weak.test/md', certPem: makeSelfSignedRsa('weak', { bits: 1024 }).certPem }));
    expect(weak.status).toBe(422);
    expect(weak.body.detail).toMatch(/RSA key shorter than 2048 bits/);

    const plainHttp = await importXml(spXml({ entityId: 'https://http.test/md', certPem: cert.certPem, acs: 'http://http.test/acs' }));
    expect(plainHttp.status).toBe(422);
    expect(plainHttp.body.problems).toEqual(['AssertionConsumerService http://http.test/acs is not https (plain http is accepted in development only)']);

    const algs = await importXml(
      spXml({ entityId: 'https://alg.test/md', certPem: cert.certPem, extensions: '<alg:SigningMethod xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"/>' }),
    );
    expect(algs.status).toBe(422);
    expect(algs.body.problems[0]).toMatch(/only signature algorithms the broker does not support/);

    const big = spXml({ entityId: 'https://big.test/md', certPem: cert.certPem }).replace('<md:SPSSODescriptor', `<!-- ${'x'.repeat(1024 * 1024)} --><md:SPSSODescriptor`);
    const oversized = await importXml(big);
    expect(oversized.status).toBe(413);
    expect(oversized.body.detail).toMatch(/larger than the 1048576 bytes accepted/);

    for (const id of ['https://bad.test/md', 'https://old.test/md', 'https://oldkey.test/md', 'https://nokey.test/md', 'https://weak.test/md', 'https://http.test/md', 'https://alg.test/md', 'https://big.test/md']) {
      expect((await request(op).get(enc(id)).set(as('operator'))).status).toBe(404);
    }
  });

  test('show, PATCH policy, suspend and resume, delete: each reaches the hot path and the audit trail', async () => {
    const id = 'https://lifecycle.test/md';
    await importXml(spXml({ entityId: id, certPem: cert.certPem })).expect(201);
    const shown = await request(op).get(enc(id)).set(as('operator')).expect(200);
    expect(shown.body.policy.requireSignedRequests).toBe(true);
    expect(shown.body.metadataXml).toContain(id);

    const bad = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { minLoa: 'extreme' } });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toMatch(/policy key "minLoa"/);
    const unknownKey = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { colour: 'blue' } });
    expect(unknownKey.status).toBe(422);
    const enc1 = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { encryptAssertion: true } });
    expect(enc1.status).toBe(422);
    expect(enc1.body.detail).toMatch(/no encryption key/);

    const patched = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { minLoa: 'substantial' } }).expect(200);
    expect(patched.body.policyOverride).toEqual({ minLoa: 'substantial' });
    expect(broker.services.trust.get(id)!.policy.minLoa).toBe('substantial');

    const suspended = await request(op).patch(enc(id)).set(as('operator')).send({ status: 'suspended' }).expect(200);
    expect(suspended.body.status).toBe('suspended');
    expect(broker.services.trust.get(id)).toBeUndefined();
    await request(op).patch(enc(id)).set(as('operator')).send({ status: 'active' }).expect(200);
    expect(broker.services.trust.get(id)!.policy.minLoa).toBe('substantial');

    // policy and status in one PATCH: one transaction; a refused policy leaves the status alone too
    const refusedBoth = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { minLoa: 'extreme' }, status: 'suspended' });
    expect(refusedBoth.status).toBe(422);
    expect(broker.services.trust.get(id)).toBeDefined();
    const both = await request(op).patch(enc(id)).set(as('operator')).send({ policy: { maxLoa: 'substantial' }, status: 'suspended' }).expect(200);
    expect(both.body).toMatchObject({ status: 'suspended', policyOverride: { minLoa: 'substantial', maxLoa: 'substantial' } });
    expect(broker.services.trust.get(id)).toBeUndefined();

    await request(op).delete(enc(id)).set(as('operator')).expect(204);
    expect(broker.services.trust.get(id)).toBeUndefined();
    expect((await request(op).delete(enc(id)).set(as('operator'))).status).toBe(404);

    const trail = await request(op).get('/admin/api/audit').query({ limit: 50 }).set(as('auditor')).expect(200);
    const mine = (trail.body.items as Array<{ type: string; actor: string; detail: { entityId?: string } }>).filter((e) => e.detail.entityId === id).map((e) => [e.type, e.actor]);
    // (records of one transaction may share a millisecond: compared as a set, newest and oldest in place)
    expect(mine[0]).toEqual(['sp.removed', 'admin:key:test-operator']);
    expect(mine.at(-1)).toEqual(['sp.added', 'admin:key:test-operator']);
    expect(mine.map(([type]) => type).sort()).toEqual(['sp.added', 'sp.policy.updated', 'sp.policy.updated', 'sp.removed', 'sp.resumed', 'sp.suspended', 'sp.suspended']);
    expect(new Set(mine.map(([, actor]) => actor))).toEqual(new Set(['admin:key:test-operator']));
  });

  test('self-check: a sample Redirect request is run through the SSO intake and reported check by check', async () => {
    const query = redirectRequest({ signer: testSpSigner(), issuer: SP_ENTITY, destination: broker.config.ssoUrls.redirect, acsUrl: SP_ACS, loa: LOA.substantial, nameIdFormat: NAMEID_FORMAT.persistent });
    const res = await request(op).post(`${enc(SP_ENTITY)}/check`).set(as('operator')).send({ request: `${broker.config.ssoUrls.redirect}?${query}` }).expect(200);
    expect(res.body.accepted).toBe(true);
    expect(res.body.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    const broken = await request(op).post(`${enc(SP_ENTITY)}/check`).set(as('operator')).send({ binding: 'redirect', request: query.replace(/Signature=[^&]+/, 'Signature=AAAA') }).expect(200);
    expect(broken.body.accepted).toBe(false);
    expect(broken.body.checks.find((c: { check: string }) => c.check === 'signature')).toMatchObject({ ok: false, reached: true });
    const other = await request(op).post(`${enc('https://nowhere.test/md')}/check`).set(as('operator')).send({ request: query });
    expect(other.status).toBe(404);
    expect((await request(op).post(`${enc(SP_ENTITY)}/check`).set(as('operator')).send({ binding: 'soap', request: query })).status).toBe(400);
  });

  test('import from a metadata URL, refresh, and a failed refresh keeps the last good copy with its error visible', async () => {
    const id = 'https://byurl.test/md';
    fixtures.set('/sp.xml', spXml({ entityId: id, certPem: cert.certPem, acs: 'https://byurl.test/acs-1' }));
    const created = await request(op).post('/admin/api/sps').set(as('operator')).send({ metadataUrl: `${fixtures.url}/sp.xml`, policy: { minLoa: 'low' } }).expect(201);
    expect(created.body.refresh).toMatchObject({ kind: 'sp', url: `${fixtures.url}/sp.xml`, status: 'ok', lastError: null });

    fixtures.set('/sp.xml', spXml({ entityId: id, certPem: cert.certPem, acs: 'https://byurl.test/acs-2' }));
    const refreshed = await request(op).post(`${enc(id)}/refresh`).set(as('operator')).expect(200);
    expect(refreshed.body.acs).toEqual(['https://byurl.test/acs-2']);
    expect(broker.services.trust.get(id)!.acs[0]!.location).toBe('https://byurl.test/acs-2');

    fixtures.set('/sp.xml', '<md:EntityDescriptor');
    const failed = await request(op).post(`${enc(id)}/refresh`).set(as('operator'));
    expect(failed.status).toBe(422);
    expect(broker.services.trust.get(id)!.acs[0]!.location).toBe('https://byurl.test/acs-2');
    const shown = await request(op).get(enc(id)).set(as('auditor')).expect(200);
    expect(shown.body.refresh).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/not well-formed/) });

    const missing = await request(op).post('/admin/api/sps').set(as('operator')).send({ metadataUrl: `${fixtures.url}/nothing.xml` });
    expect(missing.status).toBe(502);
    expect(missing.body.detail).toMatch(/answered HTTP 404/);
    const notUrl = await request(op).post(`${enc(SP_ENTITY)}/refresh`).set(as('operator'));
    expect(notUrl.status).toBe(409);
    // The schedule of several nodes: a source attempted within the window is left to the node that did it.
    const admin = trustAdminFor(broker.services);
    const sourceId = shown.body.refresh.sourceId as string;
    expect((await admin.refreshAll('test', { freshWithinMs: 60_000 })).map((r) => r.sourceId)).not.toContain(sourceId);
    expect((await admin.refreshAll('test')).find((r) => r.sourceId === sourceId)).toMatchObject({ ok: false, error: expect.stringMatching(/not well-formed/) });
    // The download is cut past admin.fetch.maxBytes (1 MiB).
    fixtures.set('/huge.xml', spXml({ entityId: 'https://huge.test/md', certPem: cert.certPem }).replace('<md:SPSSODescriptor', `<!-- ${'y'.repeat(2 * 1024 * 1024)} --><md:SPSSODescriptor`));
    const huge = await request(op).post('/admin/api/sps').set(as('operator')).send({ metadataUrl: `${fixtures.url}/huge.xml` });
    expect(huge.status).toBe(413);
    expect(huge.body.detail).toMatch(/huge\.xml is (\d+ bytes; at most|larger than) 1048576 bytes/);
  });

  describe('a refresh that downloads while the trust list changes', () => {
    // The download takes as long as the SP's metadata server likes: what an operator does meanwhile is kept.
    async function bySlowUrl(name: string, xml: string) {
      const id = `https://${name}.test/md`;
      fixtures.set(`/${name}.xml`, xml.replace('ENTITY', id));
      await request(op).post('/admin/api/sps').set(as('operator')).send({ metadataUrl: `${fixtures.url}/${name}.xml` }).expect(201);
      return { id, path: `/${name}.xml` };
    }
    /** `start` a refresh whose download of `path` is held, do `meanwhile`, let the download end: the refresh's answer. */
    async function whileDownloading(path: string, start: () => request.Test, meanwhile: () => Promise<unknown>): Promise<request.Response> {
      const slow = fixtures.hold(path);
      const refreshing = start().then((r) => r);
      await slow.arrived;
      await meanwhile();
      slow.release();
      return refreshing;
    }

    test('an SP suspended and re-policied meanwhile stays so, with the new metadata', async () => {
      const { id, path } = await bySlowUrl('race-suspend', spXml({ entityId: 'ENTITY', certPem: cert.certPem, acs: 'https://race.test/acs-1' }));
      fixtures.set(path, spXml({ entityId: id, certPem: cert.certPem, acs: 'https://race.test/acs-2' }));
      const answer = await whileDownloading(path, () => request(op).post(`${enc(id)}/refresh`).set(as('operator')), () => request(op).patch(enc(id)).set(as('operator')).send({ status: 'suspended', policy: { minLoa: 'substantial' } }).expect(200));
      expect(answer.status).toBe(200);
      const after = await request(op).get(enc(id)).set(as('auditor')).expect(200);
      expect(after.body).toMatchObject({ status: 'suspended', acs: ['https://race.test/acs-2'], policyOverride: { minLoa: 'substantial' }, refresh: { status: 'ok' } });
      // Suspended: the hot path no longer serves it.
      expect(broker.services.trust.get(id)).toBeUndefined();
    });

    test('metadata the policy set meanwhile refuses is not written, and the refresh says why', async () => {
      // The first copy's key serves both uses, so encrypting the assertion is allowed; the new copy signs only.
      const both = spXml({ entityId: 'ENTITY', certPem: cert.certPem, acs: 'https://race.test/acs-1' }).replace(' use="signing"', '');
      const { id, path } = await bySlowUrl('race-policy', both);
      fixtures.set(path, spXml({ entityId: id, certPem: cert.certPem, acs: 'https://race.test/acs-2' }));
      const refused = await whileDownloading(path, () => request(op).post(`${enc(id)}/refresh`).set(as('operator')), () => request(op).patch(enc(id)).set(as('operator')).send({ policy: { encryptAssertion: true } }).expect(200));
      expect(refused.status).toBe(422);
      expect(JSON.stringify(refused.body)).toMatch(/encrypt/i);
      const after = await request(op).get(enc(id)).set(as('auditor')).expect(200);
      expect(after.body).toMatchObject({ acs: ['https://race.test/acs-1'], policyOverride: { encryptAssertion: true }, refresh: { status: 'failed' } });
      expect(broker.services.trust.get(id)!.acs[0]!.location).toBe('https://race.test/acs-1');
    });

    test('an SP removed meanwhile stays removed', async () => {
      const { id, path } = await bySlowUrl('race-remove', spXml({ entityId: 'ENTITY', certPem: cert.certPem, acs: 'https://race.test/acs' }));
      const gone = await whileDownloading(path, () => request(op).post(`${enc(id)}/refresh`).set(as('operator')), () => request(op).delete(enc(id)).set(as('operator')).expect(204));
      expect(gone.status).toBe(404);
      expect(gone.body.detail).toMatch(/left the trust list while its metadata was being fetched/);
      expect((await request(op).get(enc(id)).set(as('auditor'))).status).toBe(404);
      expect(broker.services.trust.get(id)).toBeUndefined();
    });

    test('two nodes whose schedules fire together fetch each source once', async () => {
      const { id, path } = await bySlowUrl('race-nodes', spXml({ entityId: 'ENTITY', certPem: cert.certPem, acs: 'https://race.test/acs' }));
      // Attempted long ago as far as the schedule is concerned.
      const later = new Date(Date.now() + 3_600_000);
      const node = (ds: typeof broker.services.ds) => trustAdminFor({ ...broker.services, ds, now: () => later });
      const other = await pair.makeDataSource();
      const before = fixtures.hits(path);
      const slow = fixtures.hold(path);
      const a = node(broker.services.ds).refreshAll('schedule', { freshWithinMs: 60_000 });
      await slow.arrived;
      // The second node either finishes (it left the source to the first) or fetches it too.
      const second = node(other).refreshAll('schedule', { freshWithinMs: 60_000 });
      let settled = false;
      const fetchedTwice = (async () => {
        while (!settled && fixtures.hits(path) - before < 2) await new Promise((r) => setTimeout(r, 5));
      })();
      await Promise.race([second, fetchedTwice]);
      settled = true;
      slow.release();
      const [first, b] = await Promise.all([a, second]);
      expect(fixtures.hits(path) - before).toBe(1);
      const sourceOf = (rs: Array<{ sourceId: string }>) => rs.map((r) => r.sourceId);
      const { body } = await request(op).get(enc(id)).set(as('auditor')).expect(200);
      expect(sourceOf(first)).toContain(body.refresh.sourceId);
      expect(sourceOf(b)).not.toContain(body.refresh.sourceId);
    });

    test('an aggregate removed meanwhile stays removed, with its SPs', async () => {
      const e = 'https://race-fed.test/md';
      const until = new Date(Date.now() + 7 * 86400_000);
      fixtures.set('/race-fed.xml', signAggregate(aggregateXml([spXml({ entityId: e, certPem: cert.certPem })], until), fedKey.keyPem));
      const added = await request(op).post('/admin/api/aggregates').set(as('operator')).send({ url: `${fixtures.url}/race-fed.xml`, pinnedCert: fedKey.certPem }).expect(201);
      const sourceId = added.body.sourceId as string;
      const gone = await whileDownloading(
        '/race-fed.xml',
        () => request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator')),
        async () => expect((await request(op).delete(`/admin/api/aggregates/${sourceId}`).set(as('operator')).expect(200)).body).toEqual({ removed: 1 }),
      );
      expect(gone.status).toBe(404);
      expect(gone.body.detail).toMatch(/was removed while it was being fetched/);
      expect((await request(op).get(enc(e)).set(as('auditor'))).status).toBe(404);
      expect(broker.services.trust.get(e)).toBeUndefined();
    });
  });

  test('signed aggregate: verified against the pinned key, validUntil required; a bad signature keeps the last good copy', async () => {
    const a = 'https://fed-a.test/md';
    const b = 'https://fed-b.test/md';
    const until = new Date(Date.now() + 7 * 86400_000);
    const v1 = signAggregate(aggregateXml([spXml({ entityId: a, certPem: cert.certPem }), spXml({ entityId: b, certPem: cert.certPem })], until), fedKey.keyPem);
    fixtures.set('/federation.xml', v1);
    const added = await request(op).post('/admin/api/aggregates').set(as('operator')).send({ url: `${fixtures.url}/federation.xml`, pinnedCert: fedKey.certPem }).expect(201);
    expect(added.body).toMatchObject({ entities: 2, added: 2, updated: 0, removed: 0, refused: [] });
    expect(broker.services.trust.get(a)!.validUntil!.toISOString()).toBe(until.toISOString());
    const sourceId = added.body.sourceId as string;

    // Tampered after signing (an ACS moved): refused, nothing changes, the error is visible per SP.
    fixtures.set('/federation.xml', v1.replace('https://fed-a.test/acs', 'https://evil.test/acs'));
    const bad = await request(op).post(`${enc(a)}/refresh`).set(as('operator'));
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('ERR_AGGREGATE_SIGNATURE');
    expect(broker.services.trust.get(a)!.acs[0]!.location).toBe('https://fed-a.test/acs');
    const shown = await request(op).get(enc(a)).set(as('auditor')).expect(200);
    expect(shown.body.refresh).toMatchObject({ kind: 'aggregate', status: 'failed', lastError: expect.stringMatching(/signature does not verify against the pinned certificate/) });

    // Signed by another key: refused the same way.
    fixtures.set('/federation.xml', signAggregate(aggregateXml([spXml({ entityId: a, certPem: cert.certPem })], until), makeSelfSignedRsa('impostor').keyPem));
    expect((await request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator'))).body.code).toBe('ERR_AGGREGATE_SIGNATURE');
    // Unsigned, or without validUntil: refused.
    fixtures.set('/federation.xml', aggregateXml([spXml({ entityId: a, certPem: cert.certPem })], until));
    expect((await request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator'))).body.code).toBe('ERR_AGGREGATE_UNSIGNED');
    fixtures.set('/federation.xml', signAggregate(aggregateXml([spXml({ entityId: a, certPem: cert.certPem })], null), fedKey.keyPem));
    expect((await request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator'))).body.code).toBe('ERR_AGGREGATE_VALID_UNTIL');
    expect(broker.services.trust.get(b)).toBeDefined();

    // A good new version: b leaves the federation, a changes.
    fixtures.set('/federation.xml', signAggregate(aggregateXml([spXml({ entityId: a, certPem: cert.certPem, acs: 'https://fed-a.test/acs-new' })], until), fedKey.keyPem));
    const ok = await request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator')).expect(200);
    expect(ok.body).toMatchObject({ entities: 1, added: 0, updated: 1, removed: 1 });
    expect(broker.services.trust.get(a)!.acs[0]!.location).toBe('https://fed-a.test/acs-new');
    expect(broker.services.trust.get(b)).toBeUndefined();
    const sources = await request(op).get('/admin/api/sources').set(as('auditor')).expect(200);
    expect(sources.body.items.find((s: { sourceId: string }) => s.sourceId === sourceId)).toMatchObject({ status: 'ok', lastError: null });

    // One entry refused (its new key is too weak): the others are taken, it keeps its last good copy.
    const c = 'https://fed-c.test/md';
    fixtures.set('/federation.xml', signAggregate(aggregateXml([spXml({ entityId: a, certPem: makeSelfSignedRsa('weak', { bits: 1024 }).certPem, acs: 'https://fed-a.test/acs-weak' }), spXml({ entityId: c, certPem: cert.certPem })], until), fedKey.keyPem));
    const partial = await request(op).post(`/admin/api/aggregates/${sourceId}/refresh`).set(as('operator')).expect(200);
    expect(partial.body).toMatchObject({ entities: 2, added: 1, updated: 0, removed: 0 });
    expect(partial.body.refused).toEqual([{ entityId: a, problem: expect.stringMatching(/RSA key shorter than 2048 bits/) }]);
    expect(broker.services.trust.get(a)!.acs[0]!.location).toBe('https://fed-a.test/acs-new');
    expect(broker.services.trust.get(c)).toBeDefined();
    const metrics = await request(op).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/pasarela_sp_metadata_age_seconds\{sp="https:\/\/fed-c\.test\/md"\} \d/);

    // An aggregate that does not load the first time is not kept; removing one removes its SPs.
    const sourcesBefore = (await request(op).get('/admin/api/sources').set(as('operator'))).body.items.length as number;
    const refusedAgg = await request(op).post('/admin/api/aggregates').set(as('operator')).send({ url: `${fixtures.url}/federation.xml`, pinnedCert: makeSelfSignedRsa('wrong pin').certPem });
    expect(refusedAgg.status).toBe(422);
    expect((await request(op).get('/admin/api/sources').set(as('operator'))).body.items).toHaveLength(sourcesBefore);
    expect((await request(op).delete(`/admin/api/aggregates/${sourceId}`).set(as('operator')).expect(200)).body).toEqual({ removed: 2 });
    expect(broker.services.trust.get(a)).toBeUndefined();
    expect(broker.services.trust.get(c)).toBeUndefined();
  });

  test('registrar: register a citizen (office: the activation code comes back once), look up, reissue, upgrade; audited with the token', async () => {
    const person = { dni: '00000000T', givenName: 'Lucía', firstSurname: 'Pérez', dateOfBirth: '1990-01-01', mobile: '+34600000001', channel: 'office' };
    const created = await request(op).post('/admin/api/citizens').set(as('registrar')).send(person).expect(201);
    expect(created.body).toMatchObject({ citizen: { dni: expect.not.stringContaining('00000000'), registrationLevel: 'advanced', status: expect.any(String) }, delivery: 'office', activationCode: expect.stringMatching(/^[A-Z2-9-]{16,19}$/) });
    const again = await request(op).post('/admin/api/citizens').set(as('registrar')).send(person);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ERR_CITIZEN_EXISTS');
    expect((await request(op).post('/admin/api/citizens').set(as('registrar')).send({ ...person, dni: '00000001R', channel: 'fax' })).status).toBe(400);
    const found = await request(op).post('/admin/api/citizens/lookup').set(as('registrar')).send({ dni: '00000000T' }).expect(200);
    expect(found.body.id).toBe(created.body.citizen.id);
    expect(JSON.stringify(found.body)).not.toContain('00000000T');
    const reissued = await request(op).post('/admin/api/citizens/reissue-code').set(as('registrar')).send({ dni: '00000000T' }).expect(200);
    expect(reissued.body.activationCode).not.toBe(created.body.activationCode);
    const upgraded = await request(op).post('/admin/api/citizens/upgrade').set(as('registrar')).send({ dni: '00000000T', channel: 'office' });
    expect(upgraded.status).toBe(422);
    expect(upgraded.body.detail).toMatch(/already registered at the advanced level/);
    expect((await request(op).post('/admin/api/citizens/lookup').set(as('registrar')).send({ dni: '99999999R' })).status).toBe(404);
    expect((await request(op).post('/admin/api/citizens').set(as('operator')).send(person)).status).toBe(403);
    const trail = await request(op).get('/admin/api/audit').query({ citizenId: created.body.citizen.id }).set(as('auditor')).expect(200);
    expect(trail.body.items.map((e: { actor: string }) => e.actor)).toContain('admin:key:test-registrar');
  });

  test('JWTs through issuer discovery: the JWKS named by /.well-known/openid-configuration', async () => {
    fixtures.set('/.well-known/openid-configuration', JSON.stringify({ issuer: fixtures.url, jwks_uri: `${fixtures.url}/jwks.json` }), 'application/json');
    const verify = jwtVerifier({ issuer: fixtures.url, roleClaim: 'roles' })!;
    const token = await new SignJWT({ roles: 'operator auditor' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(fixtures.url).setSubject('svc').setExpirationTime('1m').sign(jwtKey);
    expect(await verify(token)).toEqual({ kind: 'jwt', name: 'svc', roles: ['operator', 'auditor'], actor: 'admin:jwt:svc' });
    const otherIssuer = await new SignJWT({ roles: 'operator' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer('https://elsewhere.test').setExpirationTime('1m').sign(jwtKey);
    await expect(verify(otherIssuer)).rejects.toThrow(/iss/);
  });

  test('the OpenAPI document is served beside the API and lists every resource', async () => {
    const doc = await request(op).get('/admin/api/openapi.json').expect(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/sps', '/sps/{entityId}', '/sps/{entityId}/check', '/sps/{entityId}/refresh', '/audit']));
    expect((await request(op).get('/admin/api/nothing').set(as('operator'))).status).toBe(404);
  });
});

