import type { X509Certificate } from 'node:crypto';
import type { RevocationChecker, RevocationVerdict } from '../../src/pki/revocation';
import { validateClientCertificate, type TrustAnchor, type ValidateOptions } from '../../src/pki/validate';
import { DAYS, pemChain, TestCa, tempDir, type Issued } from '../support/pki';

/** Chain checks only: revocation is exercised in revocation.test.ts and the flow test. */
const noRevocation: RevocationChecker = { check: async () => ({ status: 'not_checked' }) };

function verdicts(byCert: (cert: X509Certificate) => RevocationVerdict): RevocationChecker & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    check: async (cert) => {
      asked.push(cert.subject);
      return byCert(cert);
    },
  };
}

const CITIZEN = { C: 'ES', serialNumber: 'IDCES-12345678Z', SN: 'GARCÍA LÓPEZ', GN: 'MARÍA', CN: 'GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)' };

describe('client certificate validation (node:crypto chain checks)', () => {
  const tmp = tempDir();
  let root: TestCa;
  let sub: TestCa;
  let qualifiedRoot: TestCa;
  let strangerRoot: TestCa;
  let citizen: Issued;
  let anchors: TrustAnchor[];

  const opts = (extra: Partial<ValidateOptions> = {}): ValidateOptions => ({ anchors, now: new Date(), revocation: noRevocation, ...extra });

  beforeAll(() => {
    root = TestCa.root(tmp.dir, 'dnie-root', { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', CN: 'AC RAIZ DNIE TEST' });
    sub = root.subCa(tmp.dir, 'dnie-004', { subject: { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', CN: 'AC DNIE 004 TEST' } });
    qualifiedRoot = TestCa.root(tmp.dir, 'fnmt', { C: 'ES', O: 'FNMT-RCM TEST', CN: 'AC FNMT Usuarios TEST' });
    strangerRoot = TestCa.root(tmp.dir, 'stranger', { C: 'ES', O: 'Nobody', CN: 'Untrusted Root' });
    citizen = sub.issue('citizen', { subject: CITIZEN });
    anchors = [
      { cert: root.cert, kind: 'dnie' },
      { cert: qualifiedRoot.cert, kind: 'qualified' },
    ];
  });
  afterAll(() => tmp.cleanup());

  test('a DNIe-like chain validates, with the identity from the subject and kind "dnie"', async () => {
    const r = await validateClientCertificate(citizen.certPem, [sub.certPem], opts());
    expect(r).toMatchObject({
      ok: true,
      kind: 'dnie',
      identity: { dni: '12345678Z', givenName: 'MARÍA', firstSurname: 'GARCÍA', secondSurname: 'LÓPEZ' },
      warnings: [],
    });
  });

  test('a certificate of another qualified CA validates with kind "qualified"', async () => {
    const soft = qualifiedRoot.issue('soft', { subject: { C: 'ES', serialNumber: 'IDCES-X1234567L', SN: 'RUIZ SOLER', GN: 'ANA', CN: 'RUIZ SOLER ANA - X1234567L' } });
    const r = await validateClientCertificate(soft.cert, [], opts());
    expect(r).toMatchObject({ ok: true, kind: 'qualified', identity: { dni: 'X1234567L', firstSurname: 'RUIZ', secondSurname: 'SOLER' } });
  });

  test('the intermediate may come from the configured pool instead of the client', async () => {
    expect(await validateClientCertificate(citizen.certPem, [], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_UNKNOWN_CA' });
  });

  test('expired and not-yet-valid leaves fail with their own codes', async () => {
    const expired = sub.issue('expired', { subject: CITIZEN, notBefore: new Date(Date.now() - 400 * DAYS), notAfter: new Date(Date.now() - DAYS) });
    const future = sub.issue('future', { subject: CITIZEN, notBefore: new Date(Date.now() + DAYS), notAfter: new Date(Date.now() + 400 * DAYS) });
    expect(await validateClientCertificate(expired.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_EXPIRED', message: expect.stringMatching(/^the certificate expired on/) });
    expect(await validateClientCertificate(future.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_NOT_YET_VALID' });
    // The clock is what counts: the same certificate is fine once its time has come.
    expect(await validateClientCertificate(future.certPem, [sub.certPem], opts({ now: new Date(Date.now() + 2 * DAYS) }))).toMatchObject({ ok: true });
  });

  test('an expired intermediate CA fails the chain', async () => {
    const oldSub = root.subCa(tmp.dir, 'old-sub', {
      subject: { C: 'ES', CN: 'AC DNIE OLD TEST' },
      notBefore: new Date(Date.now() - 800 * DAYS),
      notAfter: new Date(Date.now() - DAYS),
    });
    const leaf = oldSub.issue('old-sub-leaf', { subject: CITIZEN, notBefore: new Date(Date.now() - 10 * DAYS), notAfter: new Date(Date.now() + 10 * DAYS) });
    expect(await validateClientCertificate(leaf.certPem, [oldSub.certPem], opts())).toMatchObject({
      ok: false,
      code: 'ERR_CERT_EXPIRED',
      message: expect.stringMatching(/certification authority "AC DNIE OLD TEST"/),
    });
  });

  test('a certificate from an unknown CA fails, even when the client sends that CA', async () => {
    const leaf = strangerRoot.issue('stranger-leaf', { subject: CITIZEN });
    expect(await validateClientCertificate(leaf.certPem, [], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_UNKNOWN_CA' });
    expect(await validateClientCertificate(leaf.certPem, [strangerRoot.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_UNKNOWN_CA' });
  });

  test('CVE-2026-33896: a leaf without basicConstraints/keyUsage used as an intermediate fails', async () => {
    // A real, validly issued certificate with no extensions at all signs a "citizen" certificate.
    const bare = sub.issue('bare-leaf', { subject: { C: 'ES', CN: 'Some leaf' }, profile: 'bare' });
    // (no authorityKeyIdentifier: the "issuer" has no subjectKeyIdentifier to point at)
    const forged = TestCa.fromIssued(tmp.dir, bare).issue('forged-by-bare', { subject: CITIZEN, ext: { authorityKeyIdentifier: null } });
    const r = await validateClientCertificate(forged.certPem, [bare.certPem, sub.certPem], opts());
    expect(r).toMatchObject({ ok: false, code: 'ERR_CERT_ISSUER_NOT_CA', message: expect.stringMatching(/no basicConstraints/) });
  });

  test('a leaf with CA:FALSE (the citizen\'s own certificate) used as an intermediate fails', async () => {
    const forged = TestCa.fromIssued(tmp.dir, citizen).issue('forged-by-citizen', { subject: { ...CITIZEN, serialNumber: 'IDCES-00000000T' } });
    const r = await validateClientCertificate(forged.certPem, [citizen.certPem, sub.certPem], opts());
    expect(r).toMatchObject({ ok: false, code: 'ERR_CERT_ISSUER_NOT_CA', message: expect.stringMatching(/not a CA/) });
  });

  test('the message naming a citizen certificate used as an issuer masks the DNI/NIE in its CN', async () => {
    const fnmtStyle = qualifiedRoot.issue('fnmt-style', { subject: { C: 'ES', serialNumber: 'IDCES-X1234567L', SN: 'RUIZ SOLER', GN: 'ANA', CN: 'RUIZ SOLER ANA - X1234567L' } });
    const forged = TestCa.fromIssued(tmp.dir, fnmtStyle).issue('forged-by-fnmt-style', { subject: CITIZEN });
    const r = await validateClientCertificate(forged.certPem, [fnmtStyle.certPem], opts());
    expect(r).toMatchObject({ ok: false, code: 'ERR_CERT_ISSUER_NOT_CA', message: expect.stringContaining('RUIZ SOLER ANA - ****4567L') });
    expect(JSON.stringify(r)).not.toContain('X1234567L');
  });

  test('an intermediate with CA:TRUE but no keyCertSign fails', async () => {
    const noSign = root.subCa(tmp.dir, 'no-certsign', { subject: { C: 'ES', CN: 'CA without keyCertSign' }, ext: { keyUsage: 'critical, cRLSign, digitalSignature' } });
    const leaf = noSign.issue('no-certsign-leaf', { subject: CITIZEN });
    expect(await validateClientCertificate(leaf.certPem, [noSign.certPem], opts())).toMatchObject({
      ok: false,
      code: 'ERR_CERT_ISSUER_NOT_CA',
      message: expect.stringMatching(/keyCertSign/),
    });
  });

  test('a certificate signed by an impostor CA with the same name fails on the signature', async () => {
    const impostor = TestCa.root(tmp.dir, 'impostor', { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', CN: 'AC DNIE 004 TEST' });
    const leaf = impostor.issue('impostor-leaf', { subject: CITIZEN, ext: { authorityKeyIdentifier: null } });
    expect(await validateClientCertificate(leaf.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_SIGNATURE' });
  });

  test('a certificate whose signature was tampered with fails on the signature', async () => {
    const raw = Buffer.from(citizen.cert.raw);
    raw[raw.length - 6]! ^= 0x01; // inside the signature value
    expect(await validateClientCertificate(raw, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_SIGNATURE' });
    const rawSub = Buffer.from(sub.cert.raw);
    rawSub[rawSub.length - 6]! ^= 0x01;
    expect(await validateClientCertificate(citizen.certPem, [rawSub], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_SIGNATURE' });
  });

  test('wrong key usage: a signing-only certificate and a server certificate fail', async () => {
    const signing = sub.issue('signing', { subject: { ...CITIZEN, CN: 'GARCÍA LÓPEZ, MARÍA (FIRMA)' }, ext: { keyUsage: 'critical, nonRepudiation', extendedKeyUsage: null } });
    const server = sub.issue('server', { subject: CITIZEN, ext: { extendedKeyUsage: 'serverAuth' } });
    expect(await validateClientCertificate(signing.certPem, [sub.certPem], opts())).toMatchObject({
      ok: false,
      code: 'ERR_CERT_USAGE',
      message: expect.stringMatching(/digitalSignature/),
    });
    expect(await validateClientCertificate(server.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_USAGE', message: expect.stringMatching(/clientAuth/) });
  });

  test('a CA certificate cannot log in', async () => {
    expect(await validateClientCertificate(sub.certPem, [], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_USAGE' });
  });

  test('path length: the anchor\'s pathLenConstraint and the configured maximum', async () => {
    const tight = TestCa.root(tmp.dir, 'tight', { C: 'ES', CN: 'Root pathlen 0' }, { ext: { basicConstraints: 'critical, CA:TRUE, pathlen:0' } });
    const tightSub = tight.subCa(tmp.dir, 'tight-sub', { subject: { C: 'ES', CN: 'Sub under pathlen 0' } });
    const leaf = tightSub.issue('tight-leaf', { subject: CITIZEN });
    const withTight = [...anchors, { cert: tight.cert, kind: 'qualified' as const }];
    expect(await validateClientCertificate(leaf.certPem, [tightSub.certPem], opts({ anchors: withTight }))).toMatchObject({ ok: false, code: 'ERR_CERT_PATH_LENGTH' });
    expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ maxIntermediates: 0 }))).toMatchObject({ ok: false, code: 'ERR_CERT_PATH_LENGTH' });
  });

  test('an unknown critical extension fails', async () => {
    const odd = sub.issue('odd', { subject: CITIZEN, ext: { '1.3.6.1.4.1.99999.1': 'critical, ASN1:NULL' } });
    expect(await validateClientCertificate(odd.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_CRITICAL_EXTENSION' });
  });

  test('identity: no DNI, a wrong check letter, and the CN fallback for names', async () => {
    const noDni = sub.issue('no-dni', { subject: { C: 'ES', CN: 'Somebody' } });
    const badLetter = sub.issue('bad-letter', { subject: { ...CITIZEN, serialNumber: 'IDCES-12345678A' } });
    const cnOnly = sub.issue('cn-only', { subject: { C: 'ES', serialNumber: '12345678Z', CN: 'DE LA FUENTE GARCÍA, JOSÉ LUIS (AUTENTICACIÓN)' } });
    expect(await validateClientCertificate(noDni.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_IDENTITY' });
    expect(await validateClientCertificate(badLetter.certPem, [sub.certPem], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_IDENTITY' });
    expect(await validateClientCertificate(cnOnly.certPem, [sub.certPem], opts())).toMatchObject({
      ok: true,
      identity: { dni: '12345678Z', givenName: 'JOSÉ LUIS', firstSurname: 'DE LA FUENTE', secondSurname: 'GARCÍA' },
    });
  });

  test('malformed input fails cleanly', async () => {
    expect(await validateClientCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', [], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_MALFORMED' });
    expect(await validateClientCertificate(Buffer.from('not der'), [], opts())).toMatchObject({ ok: false, code: 'ERR_CERT_MALFORMED' });
  });

  test('a PEM bundle and DER both work as input', async () => {
    expect(await validateClientCertificate(citizen.cert.raw, [sub.cert.raw], opts())).toMatchObject({ ok: true });
    expect(pemChain(citizen, { certPem: sub.certPem })).toContain('-----BEGIN CERTIFICATE-----');
  });

  describe('revocation verdicts', () => {
    const leafSubject = () => citizen.cert.subject;

    test('the leaf and then the intermediate are checked, each against its own issuer', async () => {
      const checker = verdicts(() => ({ status: 'good', source: 'ocsp' }));
      expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: checker }))).toMatchObject({ ok: true });
      expect(checker.asked).toEqual([leafSubject(), sub.cert.subject]);
    });

    test('revoked -> ERR_CERT_REVOKED', async () => {
      const checker = verdicts(() => ({ status: 'revoked', source: 'crl', reason: 'keyCompromise', revokedAt: new Date('2026-01-02T03:04:05Z') }));
      expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: checker }))).toMatchObject({
        ok: false,
        code: 'ERR_CERT_REVOKED',
        message: 'the certificate was revoked on 2026-01-02T03:04:05.000Z (keyCompromise) according to the CRL',
      });
    });

    test('unavailable fails closed, and passes with a warning when the checker says fail-open', async () => {
      const closed = verdicts(() => ({ status: 'unavailable', message: 'timeout', failOpen: false }));
      const open = verdicts(() => ({ status: 'unavailable', message: 'timeout', failOpen: true }));
      expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: closed }))).toMatchObject({ ok: false, code: 'ERR_CERT_REVOCATION_UNAVAILABLE' });
      const r = await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: open }));
      expect(r).toMatchObject({ ok: true });
      expect(r.ok && r.warnings).toHaveLength(2);
    });

    test('unknown -> ERR_CERT_STATUS_UNKNOWN', async () => {
      const checker = verdicts(() => ({ status: 'unknown', message: 'responder says unknown', failOpen: false }));
      expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: checker }))).toMatchObject({ ok: false, code: 'ERR_CERT_STATUS_UNKNOWN' });
    });

    test('an intermediate whose CA publishes no revocation source is a warning; a leaf without one fails', async () => {
      const noSourceForCa = verdicts((c) =>
        c.subject === leafSubject() ? { status: 'good', source: 'ocsp' } : { status: 'unavailable', message: 'no source', failOpen: false, noSource: true },
      );
      const r = await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: noSourceForCa }));
      expect(r).toMatchObject({ ok: true, warnings: [expect.stringMatching(/no source/)] });
      const noSourceAtAll = verdicts(() => ({ status: 'unavailable', message: 'no source', failOpen: false, noSource: true }));
      expect(await validateClientCertificate(citizen.certPem, [sub.certPem], opts({ revocation: noSourceAtAll }))).toMatchObject({
        ok: false,
        code: 'ERR_CERT_REVOCATION_UNAVAILABLE',
      });
    });

    test('revocation is not asked for a certificate that already failed', async () => {
      const checker = verdicts(() => ({ status: 'good', source: 'ocsp' }));
      const expired = sub.issue('expired-2', { subject: CITIZEN, notBefore: new Date(Date.now() - 400 * DAYS), notAfter: new Date(Date.now() - DAYS) });
      await validateClientCertificate(expired.certPem, [sub.certPem], opts({ revocation: checker }));
      expect(checker.asked).toEqual([]);
    });
  });
});
