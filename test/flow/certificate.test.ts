import https from 'node:https';
import http from 'node:http';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp, type BrokerApp } from '../../src/app';
import { AuditLog } from '../../src/audit/log';
import { createMetrics } from '../../src/metrics';
import { certificateSettings, createCertificateAuthenticator, startCertificateHost, type CertificateHost } from '../../src/authn/certificate';
import { tlsFailureReason } from '../../src/authn/certificate/host';
import type { CertificateSettings } from '../../src/authn/certificate/config';
import { makeDevTlsPair } from '../../src/pki/tls-dev';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { BASE_URL, formAction, formFields, local, nodeSamlSp, sendRedirectRequest, SP_ACS, SP_ENTITY, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { DAYS, FileServer, freePort, pemChain, TestCa, tempDir, type Issued, type OcspResponder } from '../support/pki';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const HIGH = 'http://eidas.europa.eu/LoA/high';
const ATTR = {
  personIdentifier: 'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier',
  givenName: 'http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName',
  familyName: 'http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName',
  dateOfBirth: 'http://eidas.europa.eu/attributes/naturalperson/DateOfBirth',
  firstSurname: 'http://es.minhafp.clave/FirstSurname',
  selectedIdP: 'http://es.minhafp.clave/SelectedIdP',
};

const DNIE_CITIZEN = { C: 'ES', serialNumber: 'IDCES-12345678Z', SN: 'ESPAÑOL ESPAÑOL', GN: 'JUAN', CN: 'ESPAÑOL ESPAÑOL, JUAN (AUTENTICACIÓN)' };
/** The software-certificate holder is also in the Cl@ve registry (date of birth comes from there). */
const SOFT_CITIZEN = { C: 'ES', serialNumber: 'IDCES-X1234567L', SN: 'RUIZ SOLER', GN: 'ANA', CN: 'RUIZ SOLER ANA - X1234567L' };
const REGISTERED = {
  dni: 'X1234567L',
  password: 'Correct-Horse-9',
  givenName: 'Ana',
  firstSurname: 'Ruiz',
  secondSurname: 'Soler',
  dateOfBirth: '1990-02-03',
  mobile: '+34600111222',
  registrationLevel: 'basic' as const,
};

// ---------------------------------------------------------------- the test PKI (one per file)

const tmp = tempDir();
const crls = new FileServer();
const hostTls = makeDevTlsPair(['127.0.0.1', 'localhost']);
let ocsp: OcspResponder;
let dnieRoot: TestCa;
let dnieSub: TestCa;
let fnmt: TestCa;
const leaf: Record<string, Issued> = {};

beforeAll(async () => {
  await crls.start();
  const ocspPort = await freePort();
  const deadPort = await freePort();
  const crlUrl = crls.url('/dnie004.crl');
  const ocspUrl = `http://127.0.0.1:${ocspPort}/`;

  // DNIe-like: RSA root -> RSA "AC DNIE 004" -> citizen certificates with a CRL distribution point.
  dnieRoot = TestCa.root(tmp.dir, 'dnie-root', { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', OU: 'DNIE', CN: 'AC RAIZ DNIE 2 TEST' }, { keyType: 'rsa' });
  dnieSub = dnieRoot.subCa(tmp.dir, 'dnie-004', { subject: { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', OU: 'DNIE', CN: 'AC DNIE 004 TEST' }, keyType: 'rsa' });
  leaf.dnie = dnieSub.issue('dnie', { subject: DNIE_CITIZEN, crlUrl, keyType: 'rsa' });
  leaf.signing = dnieSub.issue('dnie-signing', {
    subject: { ...DNIE_CITIZEN, CN: 'ESPAÑOL ESPAÑOL, JUAN (FIRMA)' },
    crlUrl,
    ext: { keyUsage: 'critical, nonRepudiation', extendedKeyUsage: null },
  });
  leaf.expired = dnieSub.issue('dnie-expired', { subject: DNIE_CITIZEN, crlUrl, notBefore: new Date(Date.now() - 800 * DAYS), notAfter: new Date(Date.now() - 2 * DAYS) });
  leaf.future = dnieSub.issue('dnie-future', { subject: DNIE_CITIZEN, crlUrl, notBefore: new Date(Date.now() + 2 * DAYS), notAfter: new Date(Date.now() + 800 * DAYS) });
  leaf.crlRevoked = dnieSub.issue('dnie-revoked', { subject: DNIE_CITIZEN, crlUrl });
  dnieSub.revoke(leaf.crlRevoked, 'keyCompromise');
  // Leaf-signed "intermediates": a validly issued certificate without basicConstraints/keyUsage
  // (the CVE-2026-33896 shape) and the citizen's own CA:FALSE certificate, each signing a "citizen".
  leaf.bare = dnieSub.issue('bare', { subject: { C: 'ES', CN: 'Some device' }, profile: 'bare' });
  leaf.bareSigned = TestCa.fromIssued(tmp.dir, leaf.bare).issue('bare-signed', {
    subject: { ...DNIE_CITIZEN, serialNumber: 'IDCES-00000000T' },
    ext: { authorityKeyIdentifier: null },
  });
  leaf.leafSigned = TestCa.fromIssued(tmp.dir, leaf.dnie).issue('leaf-signed', { subject: { ...DNIE_CITIZEN, serialNumber: 'IDCES-00000000T' } });
  const crl = dnieSub.crlDer();
  crls.route('/dnie004.crl', () => ({ body: crl }));

  // Another qualified CA with an OCSP responder (delegated signer) run by openssl.
  fnmt = TestCa.root(tmp.dir, 'fnmt', { C: 'ES', O: 'FNMT-RCM TEST', OU: 'Ceres', CN: 'AC FNMT Usuarios TEST' });
  const responder = fnmt.issue('ocsp-responder', { subject: { C: 'ES', O: 'FNMT-RCM TEST', CN: 'AC FNMT Usuarios TEST OCSP' }, profile: 'ocsp' });
  leaf.soft = fnmt.issue('soft', { subject: SOFT_CITIZEN, ocspUrl });
  leaf.ocspRevoked = fnmt.issue('soft-revoked', { subject: SOFT_CITIZEN, ocspUrl });
  fnmt.revoke(leaf.ocspRevoked, 'keyCompromise');
  leaf.ocspDown = fnmt.issue('soft-ocsp-down', { subject: SOFT_CITIZEN, ocspUrl: `http://127.0.0.1:${deadPort}/` });
  ocsp = await fnmt.startOcsp(responder, ocspPort);

  const stranger = TestCa.root(tmp.dir, 'stranger', { C: 'ES', O: 'Nobody', CN: 'Untrusted Root' });
  leaf.stranger = stranger.issue('stranger', { subject: DNIE_CITIZEN });
});

afterAll(async () => {
  await ocsp?.stop();
  await crls.stop();
  tmp.cleanup();
});

/** The certificate settings of the broker under test (validated as part of its configuration). */
function certificateConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    host: '127.0.0.1',
    port: 0,
    anchors: [
      { path: dnieRoot.certPath, kind: 'dnie' },
      { path: fnmt.certPath, kind: 'qualified' },
    ],
    // Browsers often send the card's certificate alone: the operator configures the DNIe intermediates.
    intermediates: [dnieSub.certPath],
    crl: { timeoutMs: 2000 },
    ocsp: { timeoutMs: 2000 },
    ...over,
  };
}

// ---------------------------------------------------------------- the browser's two hops

interface TlsAnswer {
  status: number;
  location?: string;
  text: string;
}

/** A browser's request to the certificate host: TLS with (or without) a client certificate. */
function hostGet(url: string, client: Issued | { key: string; cert: string } | null, headers: Record<string, string> = {}): Promise<TlsAnswer> {
  const u = new URL(url);
  const auth = client && 'certPem' in client ? { key: client.keyPem, cert: client.certPem } : client;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
    };
    const req =
      u.protocol === 'https:'
        ? https.request(u, { ca: hostTls.certPem, agent: false, headers, ...(auth ?? {}) }, onResponse)
        : http.request(u, { agent: false, headers }, onResponse);
    req.setTimeout(10_000, () => req.destroy(new Error('certificate host did not answer')));
    req.on('error', reject);
    req.end();
  });
}

function decode(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

function posted(text: string): { samlResponse: string; relayState?: string; xml: string } {
  const fields = formFields(text);
  if (formAction(text, 'saml-post') !== SP_ACS || !fields.SAMLResponse) throw new Error(`not an auto-POST page:\n${text.slice(0, 800)}`);
  return { samlResponse: fields.SAMLResponse, relayState: fields.RelayState, xml: Buffer.from(fields.SAMLResponse, 'base64').toString('utf8') };
}

function alert(text: string): string {
  return decode(/<p class="error" role="alert"[^>]*>([^<]*)<\/p>/.exec(text)?.[1] ?? '');
}

describeEachPair('DNIe and certificates over mutual TLS, end to end', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  let host: CertificateHost;
  let app: BrokerApp;
  const extraHosts: CertificateHost[] = [];

  /** A certificate host for this broker (same store), with settings from the broker's validated configuration plus `over`. */
  async function startHost(over: Partial<CertificateSettings> = {}): Promise<CertificateHost> {
    const settings = certificateSettings({ ...broker.config.certificate, ...over });
    const h = await startCertificateHost({
      settings,
      baseUrl: BASE_URL,
      broker: broker.services.broker,
      store,
      log: pino({ level: 'silent' }),
      env: 'test',
      keysDir: broker.keysDir,
      root: broker.config.root,
      tls: hostTls,
      now: broker.services.now,
      audit: (event) => new AuditLog(broker.services.ds).record(event),
    });
    return h;
  }

  /** The newest failed-login record (most recent first). */
  async function lastLoginFailure() {
    return (await new AuditLog(broker.services.ds).list({ type: 'auth.login.failed', limit: 1 }))[0];
  }

  /** The broker's app with the certificate method pointing at `h` (the lead's wiring does this from the configuration). */
  function appFor(h: CertificateHost): BrokerApp {
    const authenticators = [...broker.services.authenticators.filter((a) => a.id !== 'certificate'), createCertificateAuthenticator({ hostUrl: h.url })];
    return createApp({ ...broker.services, authenticators });
  }

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({
      store,
      ds,
      overrides: {
        methods: { enabled: ['permanente', 'certificate'] },
        loaPolicy: { 'certificate.dnie': { none: 'high' }, 'certificate.qualified': { none: 'substantial' } },
        certificate: certificateConfig(),
      },
    });
    if (!(await broker.services.citizens.findByDni(REGISTERED.dni))) await broker.services.citizens.create(REGISTERED);
    host = await startHost();
    app = appFor(host);
  });

  afterAll(async () => {
    await host?.close();
    for (const h of extraHosts) await h.close();
  });

  /** SP -> broker -> chooser -> certificate page -> the certificate host (TLS). */
  async function toCertificateHost(
    agent: Agent,
    client: Issued | { key: string; cert: string } | null,
    opts: { loa?: string; headers?: Record<string, string>; hostUrl?: string } = {},
  ): Promise<{ txnPath: string; tls: TlsAnswer; sp: ReturnType<typeof nodeSamlSp>; page: string }> {
    const sp = nodeSamlSp(broker, { authnContext: [opts.loa ?? LOW] });
    const start = await sendRedirectRequest(agent, sp);
    expect(start.status).toBe(303);
    const txnPath = start.headers.location!;
    const chooser = await agent.get(txnPath).expect(200);
    expect(chooser.text).toMatch(/<button type="submit" name="method" value="certificate">/);
    const picked = await agent.post(txnPath).type('form').send({ _csrf: formFields(chooser.text)._csrf, method: 'certificate' }).expect(303);
    expect(picked.headers.location).toBe(`${txnPath}/certificate`);
    const page = await agent.get(picked.headers.location!).expect(200);
    const href = /<a class="button" href="([^"]+)" id="certificate-continue">/.exec(page.text)?.[1];
    expect(href).toBeDefined();
    let target = decode(href!);
    if (opts.hostUrl) target = target.replace(host.url, opts.hostUrl);
    const tls = await hostGet(target, client, opts.headers);
    return { txnPath, tls, sp, page: page.text };
  }

  async function login(client: Issued, loa = LOW) {
    const agent = request.agent(app);
    const { tls, sp } = await toCertificateHost(agent, client, { loa });
    expect(tls.status).toBe(303);
    expect(tls.location).toMatch(/^http:\/\/broker\.test\/login\/[A-Za-z0-9_-]+\/certificate\/return\?handle=[A-Za-z0-9_-]{32}$/);
    const back = await agent.get(local(tls.location!));
    expect(back.status).toBe(200);
    const post = posted(back.text);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: post.relayState ?? '' });
    return { profile: profile!, xml: post.xml, agent, location: tls.location! };
  }

  function classRef(xml: string): string | undefined {
    return /<saml:AuthnContextClassRef>([^<]+)<\/saml:AuthnContextClassRef>/.exec(xml)?.[1];
  }

  describe('valid certificates log in', () => {
    test('DNIe: LoA high, SelectedIdP AFIRMA, identity from the certificate', async () => {
      const { profile, xml } = await login(leaf.dnie!);
      expect(classRef(xml)).toBe(HIGH);
      expect(profile[ATTR.selectedIdP]).toBe('AFIRMA');
      expect(profile[ATTR.personIdentifier]).toBe('ES/ES/12345678Z');
      expect(profile[ATTR.givenName]).toBe('JUAN');
      expect(profile[ATTR.familyName]).toBe('ESPAÑOL ESPAÑOL');
      expect(profile[ATTR.firstSurname]).toBe('ESPAÑOL');
      // Not in the registry: the certificate carries no date of birth.
      expect(profile[ATTR.dateOfBirth]).toBeUndefined();
    });

    test('DNIe satisfies a request for high', async () => {
      const { xml } = await login(leaf.dnie!, HIGH);
      expect(classRef(xml)).toBe(HIGH);
    });

    test('software (qualified) certificate: LoA substantial, checked by OCSP, date of birth from the registry', async () => {
      const { profile, xml } = await login(leaf.soft!, SUBSTANTIAL);
      expect(classRef(xml)).toBe(SUBSTANTIAL);
      expect(profile[ATTR.selectedIdP]).toBe('AFIRMA');
      expect(profile[ATTR.personIdentifier]).toBe('ES/ES/X1234567L');
      expect(profile[ATTR.familyName]).toBe('RUIZ SOLER');
      expect(profile[ATTR.dateOfBirth]).toBe(REGISTERED.dateOfBirth);
    });

    test('a software certificate cannot reach high: the page says so and points to the DNIe', async () => {
      const agent = request.agent(app).set('Accept-Language', 'en');
      const { tls, page } = await toCertificateHost(agent, leaf.soft!, { loa: HIGH });
      expect(page).toContain('This service requires the high level of assurance: only the DNIe reaches it.');
      expect(tls.status).toBe(303);
      const back = await agent.get(local(tls.location!));
      expect(back.status).toBe(403);
      expect(alert(back.text)).toBe('Your certificate reaches the substantial level of assurance, but this service requires high. Identify yourself with your DNIe or choose another method.');
      // A failed login, in the audit trail as a wrong password is.
      const failed = await lastLoginFailure();
      expect(failed?.detail).toMatchObject({ method: 'certificate', reason: 'insufficient_loa', sp: SP_ENTITY });
      expect(failed?.detail.who).toMatch(/\*/);
      // A valid certificate's holder, registered in Cl@ve, finds it in their own trail.
      expect(failed?.citizenId).toBe((await broker.services.citizens.findByDni(REGISTERED.dni))!.id);
    });
  });

  describe('each bad certificate gets a clear page on the certificate host', () => {
    interface Case {
      name: string;
      client: () => Issued | null;
      status: number;
      message: RegExp;
      /** Intermediates the client sends after its certificate. */
      chain?: () => Issued[];
    }
    const cases: Case[] = [
      { name: 'no certificate at all', client: () => null, status: 400, message: /no ha enviado ningún certificado/ },
      { name: 'expired', client: () => leaf.expired!, status: 403, message: /Su certificado ha caducado/ },
      { name: 'not yet valid', client: () => leaf.future!, status: 403, message: /todavía no es válido/ },
      { name: 'unknown CA', client: () => leaf.stranger!, status: 403, message: /no lo ha emitido una autoridad de certificación admitida/ },
      {
        name: 'leaf-signed "intermediate" (a leaf without basicConstraints/keyUsage)',
        client: () => leaf.bareSigned!,
        status: 403,
        message: /no es una autoridad de certificación/,
        chain: () => [leaf.bare!, { certPem: dnieSub.certPem } as Issued],
      },
      {
        // Node's getPeerCertificate(true) drops a presented "issuer" whose keyUsage lacks keyCertSign
        // (OpenSSL's X509_check_issued), so this one arrives without its fake intermediate.
        name: 'leaf-signed "intermediate" (the citizen\'s own CA:FALSE certificate)',
        client: () => leaf.leafSigned!,
        status: 403,
        message: /no lo ha emitido una autoridad de certificación admitida|no es una autoridad de certificación/,
        chain: () => [leaf.dnie!],
      },
      { name: 'wrong key usage (the signing certificate)', client: () => leaf.signing!, status: 403, message: /elija el certificado de AUTENTICACIÓN/ },
      { name: 'revoked by CRL', client: () => leaf.crlRevoked!, status: 403, message: /está revocado/ },
      { name: 'revoked by OCSP', client: () => leaf.ocspRevoked!, status: 403, message: /está revocado/ },
      { name: 'OCSP responder down (fails closed)', client: () => leaf.ocspDown!, status: 503, message: /No hemos podido comprobar si su certificado está revocado/ },
    ];

    test.each(cases)('$name', async ({ client, status, message, chain }) => {
      const agent = request.agent(app);
      const c = client();
      const presented = c && chain ? { key: c.keyPem, cert: pemChain(c, ...chain()) } : c;
      const sp = nodeSamlSp(broker);
      const start = await sendRedirectRequest(agent, sp);
      const txnPath = start.headers.location!;
      const chooser = await agent.get(txnPath);
      await agent.post(txnPath).type('form').send({ _csrf: formFields(chooser.text)._csrf, method: 'certificate' }).expect(303);
      await agent.get(`${txnPath}/certificate`).expect(200);
      const answer = await hostGet(`${host.url}${txnPath}/certificate/tls`, presented);
      expect(answer.status).toBe(status);
      expect(answer.text).toMatch(/^<!doctype html>/);
      expect(alert(answer.text)).toMatch(message);
      // Where to go next: back to the chooser of this login, or try again.
      expect(answer.text).toContain(`href="${BASE_URL}${txnPath}"`);
      expect(answer.text).toContain(`href="${BASE_URL}${txnPath}/certificate"`);
      expect(answer.text).not.toMatch(/at .*\.ts:\d+/);
      // A failed login in the audit trail, with the refusal's code and the reference the page shows.
      const failed = await lastLoginFailure();
      expect(failed?.detail).toMatchObject({ method: 'certificate', sp: SP_ENTITY });
      expect(failed?.detail.reason).toMatch(c ? /^ERR_CERT_(?!MISSING)/ : /^ERR_CERT_MISSING$/);
      expect(answer.text).toContain(failed!.requestId);
      // The login is still open: the citizen can pick another method.
      await agent.get(txnPath).expect(200);
    });

    test('the page follows the citizen\'s language and gives the technical detail', async () => {
      const agent = request.agent(app).set('Accept-Language', 'en');
      const { tls } = await toCertificateHost(agent, leaf.crlRevoked!);
      expect(tls.status).toBe(403);
      expect(tls.text).toContain('<html lang="en">');
      expect(alert(tls.text)).toBe('Your certificate has been revoked and can no longer be used.');
      expect(decode(tls.text)).toMatch(/<summary>Technical detail<\/summary><p class="detail" lang="en">the certificate was revoked on .* \(keyCompromise\) according to the CRL/);
    });

    test('an unknown or finished login on the certificate host is an error page, not a crash', async () => {
      const answer = await hostGet(`${host.url}/login/${'x'.repeat(32)}/certificate/tls`, leaf.dnie!);
      expect(answer.status).toBe(410);
      expect(answer.text).toMatch(/ya se completó o caducó/);
    });
  });

  describe('revocation fail-open is the operator\'s choice', () => {
    test('with ocsp.failOpen the same certificate logs in', async () => {
      const open = await startHost({ ocsp: { ...certificateSettings().ocsp, timeoutMs: 2000, failOpen: true } });
      extraHosts.push(open);
      const openApp = appFor(open);
      const agent = request.agent(openApp);
      const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
      const start = await sendRedirectRequest(agent, sp);
      const txnPath = start.headers.location!;
      const chooser = await agent.get(txnPath);
      await agent.post(txnPath).type('form').send({ _csrf: formFields(chooser.text)._csrf, method: 'certificate' }).expect(303);
      await agent.get(`${txnPath}/certificate`).expect(200);
      const tls = await hostGet(`${open.url}${txnPath}/certificate/tls`, leaf.ocspDown!);
      expect(tls.status).toBe(303);
      const back = await agent.get(local(tls.location!));
      const post = posted(back.text);
      expect(classRef(post.xml)).toBe(SUBSTANTIAL);
    });
  });

  describe('the one-time result', () => {
    test('is bound to the browser that started the certificate step', async () => {
      const agent = request.agent(app);
      const { tls, sp } = await toCertificateHost(agent, leaf.dnie!);
      const other = await request.agent(app).get(local(tls.location!));
      expect(other.status).toBe(403);
      expect(alert(other.text)).toMatch(/se empezó en otro navegador/);
      // The other browser did not burn it: the right browser still finishes.
      const back = await agent.get(local(tls.location!)).expect(200);
      const post = posted(back.text);
      expect((await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: post.relayState ?? '' })).profile).not.toBeNull();
    });

    test('is taken once', async () => {
      const { agent, location } = await login(leaf.dnie!);
      const again = await agent.get(local(location));
      expect(again.status).toBe(410);
    });

    test('of one login does not finish another', async () => {
      const agent = request.agent(app);
      const a = await toCertificateHost(agent, leaf.dnie!);
      const b = await toCertificateHost(agent, leaf.dnie!);
      const handleOfA = new URL(a.tls.location!).searchParams.get('handle')!;
      const wrong = await agent.get(`${b.txnPath}/certificate/return?handle=${handleOfA}`);
      expect(wrong.status).toBe(410);
      expect(alert(wrong.text)).toMatch(/ha caducado o ya se usó/);
    });

    test('a made-up handle is refused', async () => {
      const agent = request.agent(app);
      const { txnPath } = await toCertificateHost(agent, null);
      const r = await agent.get(`${txnPath}/certificate/return?handle=${'A'.repeat(32)}`);
      expect(r.status).toBe(410);
    });
  });

  describe('trusted reverse proxy mode', () => {
    const header = (i: Issued) => ({ 'x-ssl-client-cert': encodeURIComponent(i.certPem) });

    test('the certificate header is accepted from a configured proxy address', async () => {
      const proxied = await startHost({ trustedProxy: { enabled: true, addresses: ['127.0.0.1', '::1'], header: 'x-ssl-client-cert', plainHttp: true } });
      extraHosts.push(proxied);
      const agent = request.agent(app);
      const { tls, sp } = await toCertificateHost(agent, null, { headers: header(leaf.dnie!), hostUrl: proxied.url });
      expect(proxied.url).toMatch(/^http:/);
      expect(tls.status).toBe(303);
      const back = await agent.get(local(tls.location!)).expect(200);
      const post = posted(back.text);
      expect(classRef(post.xml)).toBe(HIGH);
      expect((await sp.validatePostResponseAsync({ SAMLResponse: post.samlResponse, RelayState: post.relayState ?? '' })).profile).not.toBeNull();
    });

    test('from an address that is not a configured proxy, the header is refused', async () => {
      const elsewhere = await startHost({ trustedProxy: { enabled: true, addresses: ['10.9.8.7', '192.0.2.0/24'], header: 'x-ssl-client-cert', plainHttp: true } });
      extraHosts.push(elsewhere);
      const agent = request.agent(app);
      const { tls } = await toCertificateHost(agent, null, { headers: header(leaf.dnie!), hostUrl: elsewhere.url });
      expect(tls.status).toBe(403);
      expect(alert(tls.text)).toMatch(/no llega por el canal seguro esperado/);
    });

    test('with the proxy mode off, a forged header next to a real client certificate is refused', async () => {
      const agent = request.agent(app);
      const { tls } = await toCertificateHost(agent, leaf.soft!, { headers: header(leaf.dnie!) });
      expect(tls.status).toBe(403);
      expect(tls.location).toBeUndefined();
    });
  });

  describe('a TLS handshake that fails', () => {
    test('a presented chain whose certificate signature is broken gets the explanation page over TLS (the connection is not dropped)', async () => {
      const der = Buffer.from(leaf.dnie!.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der[der.length - 6]! ^= 0x01; // inside the signature value
      const tamperedPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
      const agent = request.agent(app);
      const { tls } = await toCertificateHost(agent, { key: leaf.dnie!.keyPem, cert: pemChain({ certPem: tamperedPem }, dnieSub) });
      expect(tls.status).toBe(403);
      expect(alert(tls.text)).toMatch(/firma|signature/i);
      expect(tls.text).toMatch(/Referencia del error|Error reference/);
    });

    test('is logged with its reason and counted (no page can be served on it), and the certificate page says what that browser error means', async () => {
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
      const metrics = createMetrics();
      const settings = certificateSettings({ ...broker.config.certificate });
      const h = await startCertificateHost({
        metrics,
        settings,
        baseUrl: BASE_URL,
        broker: broker.services.broker,
        store,
        log,
        env: 'test',
        keysDir: broker.keysDir,
        root: broker.config.root,
        tls: hostTls,
      });
      try {
        // Node and OpenSSL refuse to load a client key that does not match its certificate, so a
        // bad CertificateVerify cannot be sent from here; any refused handshake takes the same path.
        const u = new URL(h.url);
        const err = await new Promise<Error>((resolve) => {
          const req = https.request({ host: u.hostname, port: u.port, path: '/', ca: hostTls.certPem, agent: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => resolve(new Error('answered')));
          req.on('error', resolve);
          req.end();
        });
        expect(err.message).not.toBe('answered');
        await new Promise((r) => setTimeout(r, 100));
        const entry = lines.map((l) => JSON.parse(l) as { event?: string; reason?: string; from?: string }).find((e) => e.event === 'auth.certificate.tls_failed');
        expect(entry).toMatchObject({ reason: expect.stringMatching(/^ERR_SSL_|^ECONNRESET$/) as unknown, from: expect.stringContaining('127.0.0.1') as unknown });
        // The operator's counter, under the same reason as the log line.
        const counted = (await metrics.certificateTlsFailures.get()).values;
        expect(counted).toEqual([expect.objectContaining({ value: 1, labels: { reason: entry!.reason } })]);
        const scrape = await metrics.registry.metrics();
        expect(scrape).toContain(`pasarela_certificate_tls_failures_total{reason="${entry!.reason}"} 1`);
      } finally {
        await h.close();
      }
      const agent = request.agent(app);
      const { page } = await toCertificateHost(agent, leaf.dnie!);
      expect(page).toMatch(/id="certificate-tls-help">Si, tras elegir el certificado, su navegador dice que no se pudo establecer la conexión/);
    });
  });
});

describe('the label of a refused handshake', () => {
  test("is Node's error code when it is one, and TLS_ERROR otherwise (a label set the error cannot widen)", () => {
    expect(tlsFailureReason({ code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' })).toBe('ERR_SSL_UNSUPPORTED_PROTOCOL');
    expect(tlsFailureReason({ code: 'ECONNRESET' })).toBe('ECONNRESET');
    expect(tlsFailureReason({})).toBe('TLS_ERROR');
    expect(tlsFailureReason({ code: 42 })).toBe('TLS_ERROR');
    expect(tlsFailureReason({ code: 'err_lowercase' })).toBe('TLS_ERROR');
    expect(tlsFailureReason({ code: 'ERR"} 1\nfake_metric 9' })).toBe('TLS_ERROR');
    expect(tlsFailureReason({ code: 'E'.repeat(81) })).toBe('TLS_ERROR');
  });
});
