import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DefaultRevocationChecker, type CrlOptions, type OcspOptions } from '../../src/pki/revocation';
import { blackHole, DAYS, FileServer, freePort, TestCa, tempDir, type Issued, type OcspResponder } from '../support/pki';

const CITIZEN = { C: 'ES', serialNumber: 'IDCES-12345678Z', SN: 'GARCÍA LÓPEZ', GN: 'MARÍA', CN: 'GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)' };

function checker(crl: Partial<CrlOptions>, ocsp: Partial<OcspOptions>): DefaultRevocationChecker {
  return new DefaultRevocationChecker({
    crl: { enabled: false, urls: [], refreshSeconds: 3600, timeoutMs: 2000, maxBytes: 1024 * 1024, failOpen: false, ...crl },
    ocsp: { enabled: false, timeoutMs: 2000, failOpen: false, requireNonce: true, maxAgeSeconds: 3600, ...ocsp },
    clockSkewSeconds: 60,
  });
}

describe('revocation by CRL (fetched over http, verified, cached, refreshed)', () => {
  const tmp = tempDir();
  const files = new FileServer();
  let ca: TestCa;
  let good: Issued;
  let revoked: Issued;
  let noDp: Issued;

  beforeAll(async () => {
    await files.start();
    ca = TestCa.root(tmp.dir, 'crl-ca', { C: 'ES', CN: 'CRL Test CA' });
    good = ca.issue('good', { subject: CITIZEN, crlUrl: files.url('/ca.crl') });
    revoked = ca.issue('revoked', { subject: CITIZEN, crlUrl: files.url('/ca.crl') });
    noDp = ca.issue('no-dp', { subject: CITIZEN });
    ca.revoke(revoked, 'keyCompromise');
    const crl = ca.crlDer();
    files.route('/ca.crl', () => ({ body: crl }));
  });
  afterAll(async () => {
    await files.stop();
    tmp.cleanup();
  });

  test('a certificate on the CRL is revoked (with its reason), one not on it is good', async () => {
    const c = checker({ enabled: true }, {});
    expect(await c.check(revoked.cert, ca.cert, new Date())).toMatchObject({ status: 'revoked', source: 'crl', reason: 'keyCompromise' });
    expect(await c.check(good.cert, ca.cert, new Date())).toEqual({ status: 'good', source: 'crl' });
  });

  test('the CRL is cached, and fetched again after refreshSeconds', async () => {
    const c = checker({ enabled: true, refreshSeconds: 600 }, {});
    const before = files.hits.get('/ca.crl') ?? 0;
    const now = Date.now();
    await c.check(good.cert, ca.cert, new Date(now));
    await c.check(revoked.cert, ca.cert, new Date(now + 1000));
    expect(files.hits.get('/ca.crl')).toBe(before + 1);
    await c.check(good.cert, ca.cert, new Date(now + 601_000));
    expect(files.hits.get('/ca.crl')).toBe(before + 2);
  });

  test('a CRL past its nextUpdate is fetched again, and refused when still stale', async () => {
    const c = checker({ enabled: true }, {});
    const later = new Date(Date.now() + 3 * DAYS);
    const before = files.hits.get('/ca.crl') ?? 0;
    expect(await c.check(good.cert, ca.cert, later)).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/CRL expired/), failOpen: false });
    expect(files.hits.get('/ca.crl')!).toBeGreaterThan(before);
  });

  test('a CRL with the right issuer name but signed by another key is refused', async () => {
    const impostor = TestCa.root(tmp.dir, 'crl-impostor', { C: 'ES', CN: 'CRL Test CA' });
    const forged = impostor.crlDer();
    files.route('/forged.crl', () => ({ body: forged }));
    const leaf = ca.issue('forged-dp', { subject: CITIZEN, crlUrl: files.url('/forged.crl') });
    const c = checker({ enabled: true }, {});
    expect(await c.check(leaf.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/signature does not verify/) });
  });

  test('a CRL of another authority at the distribution point is refused', async () => {
    const other = TestCa.root(tmp.dir, 'crl-other', { C: 'ES', CN: 'Another CA' });
    const otherCrl = other.crlDer();
    files.route('/other.crl', () => ({ body: otherCrl }));
    const leaf = ca.issue('other-dp', { subject: CITIZEN, crlUrl: files.url('/other.crl') });
    expect(await checker({ enabled: true }, {}).check(leaf.cert, ca.cert, new Date())).toMatchObject({
      status: 'unavailable',
      message: expect.stringMatching(/issued by another authority/),
    });
  });

  test('a configured CRL covers certificates without a distribution point; other issuers\' CRLs are skipped', async () => {
    const other = TestCa.root(tmp.dir, 'crl-other2', { C: 'ES', CN: 'Yet another CA' });
    const otherCrl = other.crlDer();
    files.route('/other2.crl', () => ({ body: otherCrl }));
    ca.revoke(noDp);
    const crl = ca.crlDer();
    files.route('/configured.crl', () => ({ body: crl }));
    const c = checker({ enabled: true, urls: [files.url('/other2.crl'), files.url('/configured.crl')] }, {});
    expect(await c.check(noDp.cert, ca.cert, new Date())).toMatchObject({ status: 'revoked', source: 'crl' });
    const onlyOther = checker({ enabled: true, urls: [files.url('/other2.crl')] }, {});
    expect(await onlyOther.check(noDp.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', noSource: true });
  });

  test('an unreachable CRL fails closed, or open when configured', async () => {
    const port = await freePort();
    const leaf = ca.issue('dead-dp', { subject: CITIZEN, crlUrl: `http://127.0.0.1:${port}/ca.crl` });
    expect(await checker({ enabled: true }, {}).check(leaf.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', failOpen: false });
    expect(await checker({ enabled: true, failOpen: true }, {}).check(leaf.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', failOpen: true });
  });

  test('an HTTP error and garbage are unavailable, not a crash', async () => {
    files.route('/500.crl', () => ({ status: 500, body: Buffer.from('oops') }));
    files.route('/garbage.crl', () => ({ body: Buffer.from('this is not a CRL') }));
    const a = ca.issue('dp-500', { subject: CITIZEN, crlUrl: files.url('/500.crl') });
    const b = ca.issue('dp-garbage', { subject: CITIZEN, crlUrl: files.url('/garbage.crl') });
    const c = checker({ enabled: true }, {});
    expect(await c.check(a.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/HTTP 500/) });
    expect(await c.check(b.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/could not be read/) });
  });

  test('a CRL larger than maxBytes is refused', async () => {
    const c = checker({ enabled: true, maxBytes: 64 }, {});
    const leaf = ca.issue('dp-big', { subject: CITIZEN, crlUrl: files.url('/ca.crl') });
    expect(await c.check(leaf.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/bytes/) });
  });

  test('with revocation off nothing is checked', async () => {
    expect(await checker({}, {}).check(good.cert, ca.cert, new Date())).toEqual({ status: 'not_checked' });
  });
});

describe('revocation by OCSP against a real responder (openssl ocsp on loopback)', () => {
  const tmp = tempDir();
  let ca: TestCa;
  let responderCert: Issued;
  let responder: OcspResponder;
  let good: Issued;
  let revoked: Issued;
  let unknown: Issued;
  let ocspPort: number;
  const extra: Array<{ stop: () => Promise<void> }> = [];

  beforeAll(async () => {
    ocspPort = await freePort();
    ca = TestCa.root(tmp.dir, 'ocsp-ca', { C: 'ES', CN: 'OCSP Test CA' });
    responderCert = ca.issue('responder', { subject: { C: 'ES', CN: 'OCSP Test CA responder' }, profile: 'ocsp' });
    const url = `http://127.0.0.1:${ocspPort}/`;
    good = ca.issue('good', { subject: CITIZEN, ocspUrl: url });
    revoked = ca.issue('revoked', { subject: CITIZEN, ocspUrl: url });
    unknown = ca.issue('unknown', { subject: CITIZEN, ocspUrl: url, unrecorded: true });
    ca.revoke(revoked, 'keyCompromise');
    responder = await ca.startOcsp(responderCert, ocspPort);
  });
  afterAll(async () => {
    await responder?.stop();
    for (const e of extra) await e.stop();
    tmp.cleanup();
  });

  test('good, revoked (with time and reason) and unknown, signed by a delegated responder', async () => {
    const c = checker({}, { enabled: true });
    expect(await c.check(good.cert, ca.cert, new Date())).toEqual({ status: 'good', source: 'ocsp' });
    expect(await c.check(revoked.cert, ca.cert, new Date())).toMatchObject({ status: 'revoked', source: 'ocsp', reason: 'keyCompromise', revokedAt: expect.any(Date) });
    expect(await c.check(unknown.cert, ca.cert, new Date())).toMatchObject({ status: 'unknown', failOpen: false });
  });

  test('a responder signing with the CA key itself is accepted', async () => {
    const self = await ca.startOcsp({ certPath: ca.certPath, keyPath: ca.keyPath });
    extra.push(self);
    const c = checker({}, { enabled: true, responderUrl: self.url });
    expect(await c.check(revoked.cert, ca.cert, new Date())).toMatchObject({ status: 'revoked' });
  });

  test('a responder certificate not issued by the CA, or without id-kp-OCSPSigning, is refused', async () => {
    const other = TestCa.root(tmp.dir, 'ocsp-other', { C: 'ES', CN: 'Other CA' });
    const foreign = other.issue('foreign-responder', { subject: { C: 'ES', CN: 'OCSP Test CA responder' }, profile: 'ocsp' });
    const noEku = ca.issue('no-eku-responder', { subject: { C: 'ES', CN: 'OCSP no EKU' }, profile: 'leaf' });
    const r1 = await ca.startOcsp(foreign);
    const r2 = await ca.startOcsp(noEku);
    extra.push(r1, r2);
    expect(await checker({}, { enabled: true, responderUrl: r1.url }).check(good.cert, ca.cert, new Date())).toMatchObject({
      status: 'unavailable',
      message: expect.stringMatching(/not issued by the certificate issuer/),
    });
    expect(await checker({}, { enabled: true, responderUrl: r2.url }).check(good.cert, ca.cert, new Date())).toMatchObject({
      status: 'unavailable',
      message: expect.stringMatching(/not authorised for OCSP signing/),
    });
  });

  test('a replayed answer (nonce of another request) is refused', async () => {
    // A proxy that answers every request with the first answer it got from the real responder.
    let first: Buffer | undefined;
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (!first) {
          const r = await fetch(responder.url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.concat(chunks) });
          first = Buffer.from(await r.arrayBuffer());
        }
        res.setHeader('content-type', 'application/ocsp-response');
        res.end(first);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    extra.push({ stop: () => new Promise<void>((resolve) => proxy.close(() => resolve())) });
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    const c = checker({}, { enabled: true, responderUrl: url });
    expect(await c.check(good.cert, ca.cert, new Date())).toEqual({ status: 'good', source: 'ocsp' });
    expect(await c.check(good.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/nonce does not match/) });
  });

  test('a tampered answer is refused (its signature no longer verifies)', async () => {
    // A proxy that changes one digit of the first time in the signed response data.
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const r = await fetch(responder.url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.concat(chunks) });
        const body = Buffer.from(await r.arrayBuffer());
        const at = /20\d{12}Z/.exec(body.toString('latin1'))!.index + 13;
        body[at] = body[at] === 0x30 ? 0x31 : 0x30;
        res.setHeader('content-type', 'application/ocsp-response');
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    extra.push({ stop: () => new Promise<void>((resolve) => proxy.close(() => resolve())) });
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    expect(await checker({}, { enabled: true, responderUrl: url }).check(good.cert, ca.cert, new Date())).toMatchObject({
      status: 'unavailable',
      message: expect.stringMatching(/signature does not verify/),
    });
  });

  test('a stale answer is refused', async () => {
    const c = checker({}, { enabled: true });
    expect(await c.check(good.cert, ca.cert, new Date(Date.now() + 3 * DAYS))).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/stale/) });
  });

  test('responder down fails closed; fail-open is the operator\'s choice', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/`;
    expect(await checker({}, { enabled: true, responderUrl: dead }).check(good.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', failOpen: false });
    expect(await checker({}, { enabled: true, responderUrl: dead, failOpen: true }).check(good.cert, ca.cert, new Date())).toMatchObject({ status: 'unavailable', failOpen: true });
  });

  test('a responder that never answers times out within the bound', async () => {
    const hole = await blackHole();
    extra.push(hole);
    const started = Date.now();
    const v = await checker({}, { enabled: true, responderUrl: hole.url, timeoutMs: 300 }).check(good.cert, ca.cert, new Date());
    expect(v).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/no answer within 300 ms/) });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('when OCSP cannot answer, the CRL decides', async () => {
    const files = await new FileServer().start();
    extra.push(files);
    const crl = ca.crlDer();
    files.route('/ca.crl', () => ({ body: crl }));
    const dead = `http://127.0.0.1:${await freePort()}/`;
    const both = ca.issue('both', { subject: CITIZEN, ocspUrl: dead, crlUrl: files.url('/ca.crl') });
    const c = checker({ enabled: true }, { enabled: true });
    expect(await c.check(both.cert, ca.cert, new Date())).toEqual({ status: 'good', source: 'crl' });
    expect(await c.check(revoked.cert, ca.cert, new Date())).toMatchObject({ status: 'revoked', source: 'ocsp' });
  });
});
