import https from 'node:https';
import type http from 'node:http';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp, type BrokerApp } from '../../src/app';
import { AuditLog } from '../../src/audit/log';
import { certificateSettings, startCertificateHost, type CertificateHost } from '../../src/authn/certificate';
import { makeDevTlsPair } from '../../src/pki/tls-dev';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { BASE_URL, formFields, local, startBroker, type BrokerUnderTest } from '../support/harness';
import { FileServer, TestCa, tempDir, type Issued } from '../support/pki';
import { alertText, lastCode, messagesTo, postForm, tempOutbox } from '../pin/support';

/** /account/register: a DNIe on the mutual-TLS certificate host -> mobile -> SMS code -> advanced registration. */
const DNIE_CITIZEN = { C: 'ES', serialNumber: 'IDCES-48151623L', SN: 'LUNA PARDO', GN: 'MARTA', CN: 'LUNA PARDO, MARTA (AUTENTICACIÓN)' };
const MOBILE = '+34666123456';

const tmp = tempDir();
const crls = new FileServer();
const hostTls = makeDevTlsPair(['127.0.0.1', 'localhost']);
let root: TestCa;
let sub: TestCa;
let leaf: Issued;

beforeAll(async () => {
  await crls.start();
  const crlUrl = crls.url('/dnie.crl');
  root = TestCa.root(tmp.dir, 'root', { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', OU: 'DNIE', CN: 'AC RAIZ DNIE TEST' }, { keyType: 'rsa' });
  sub = root.subCa(tmp.dir, 'sub', { subject: { C: 'ES', O: 'DIRECCION GENERAL DE LA POLICIA', OU: 'DNIE', CN: 'AC DNIE 005 TEST' }, keyType: 'rsa' });
  leaf = sub.issue('citizen', { subject: DNIE_CITIZEN, crlUrl, keyType: 'rsa' });
  const crl = sub.crlDer();
  crls.route('/dnie.crl', () => ({ body: crl }));
});
afterAll(async () => {
  await crls.stop();
  tmp.cleanup();
});

function hostGet(url: string, client: Issued | null): Promise<{ status: number; location?: string; requestId?: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), { ca: hostTls.certPem, agent: false, ...(client ? { key: client.keyPem, cert: client.certPem } : {}) }, (res: http.IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, requestId: res.headers['x-request-id'] as string | undefined, text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('certificate host did not answer')));
    req.on('error', reject);
    req.end();
  });
}

describeEachPair('online registration with a certificate', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  let host: CertificateHost;
  let app: BrokerApp;
  const outbox = tempOutbox();

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({
      store,
      ds,
      overrides: {
        trustProxy: true,
        notify: { outboxPath: outbox },
        methods: { enabled: ['permanente', 'certificate'] },
        certificate: { host: '127.0.0.1', port: 0, anchors: [{ path: root.certPath, kind: 'dnie' }], intermediates: [sub.certPath], crl: { timeoutMs: 2000 } },
      },
    });
    host = await startCertificateHost({
      settings: certificateSettings(broker.config.certificate),
      baseUrl: BASE_URL,
      broker: broker.services.broker,
      store,
      log: pino({ level: 'silent' }),
      env: 'test',
      keysDir: broker.keysDir,
      root: broker.config.root,
      tls: hostTls,
      // As server.ts wires it: one transaction per record.
      audit: (event) => broker.services.ds.transaction((m) => new AuditLog(broker.services.ds).record(event, m)),
    });
    // The main host links to where this certificate host really listens.
    app = createApp({ ...broker.services, certificate: { ...broker.services.certificate, publicUrl: host.url } });
  });
  afterAll(() => host?.close());

  /** Start page -> POST -> the certificate host with the DNIe -> back on the main host. */
  async function throughCertificate(agent: ReturnType<typeof request.agent>) {
    const start = await agent.get('/account/register').expect(200);
    expect(start.text).toContain('Continuar con mi certificado');
    const opened = await postForm(agent, start.text, {}).expect(303);
    expect(opened.headers.location).toMatch(new RegExp(`^${host.url}/account/register/tls\\?flow=[A-Za-z0-9_-]{32}&lang=es$`));
    const tls = await hostGet(opened.headers.location!, leaf);
    expect(tls.status).toBe(303);
    expect(tls.location).toMatch(new RegExp(`^${BASE_URL}/account/register/return\\?flow=`));
    return { opened, back: await agent.get(local(tls.location!)) };
  }

  test('DNIe -> identity from the certificate -> mobile and dates -> SMS code -> advanced registration, activation code by SMS', async () => {
    const agent = request.agent(app);
    const { back } = await throughCertificate(agent);
    expect(back.status).toBe(200);
    expect(back.text).toContain('Su certificado le identifica como MARTA LUNA PARDO, DNI/NIE 48151623L.');
    const badMobile = await postForm(agent, back.text, { flow: formFields(back.text).flow!, mobile: '666', email: '', birth_date: '1991-01-01', validity_date: '2031-01-01' });
    expect(alertText(badMobile.text)).toBe('El móvil debe estar en formato internacional, por ejemplo +34600000000.');
    // The language switch of that step (shown after a POST) keeps the flow, in this browser only.
    const flowId = formFields(badMobile.text).flow!;
    const english = await agent.get(`/account/register?flow=${flowId}&lang=en`).expect(200);
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('id="mobile"');
    expect(badMobile.text).toContain(`href="/account/register?flow=${flowId}&amp;lang=en"`);
    expect((await request.agent(app).get(`/account/register?flow=${flowId}`).expect(200)).text).not.toContain('id="mobile"');
    await agent.get(`/account/register?flow=${flowId}&lang=es`).expect(200);
    const otpPage = await postForm(agent, badMobile.text, { flow: formFields(badMobile.text).flow!, mobile: MOBILE, email: 'marta@example.org', birth_date: '01/01/1991', validity_date: '01/01/2031' });
    expect(otpPage.status).toBe(200);
    expect(await broker.services.citizens.findByDni('48151623L')).toBeNull(); // nothing written before the last step
    const done = await postForm(agent, otpPage.text, { flow: formFields(otpPage.text).flow!, otp: lastCode(outbox, MOBILE) });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Registro avanzado completado');
    const c = (await broker.services.citizens.findByDni('48151623L'))!;
    expect(c).toMatchObject({ registrationLevel: 'advanced', registrationChannel: 'certificate', status: 'pending', mobile: MOBILE, dateOfBirth: '1991-01-01', givenName: 'MARTA' });
    const messages = messagesTo(outbox, MOBILE);
    expect(messages).toHaveLength(2); // the SMS code, then the activation code
    expect((await broker.services.lifecycle.checkActivationCode('48151623L', messages[1]!.code!)).ok).toBe(true);

  });

  test('a certificate refused for registration, recovery or deregistration is an audit record, not only a log line', async () => {
    const stranger = TestCa.root(tmp.dir, 'stranger', { C: 'ES', O: 'NOT A TRUSTED CA', CN: 'UNTRUSTED ROOT' }, { keyType: 'rsa' });
    const untrusted = stranger.issue('impostor', { subject: DNIE_CITIZEN, keyType: 'rsa' });
    const audit = new AuditLog(ds);
    const refusals = async () => (await audit.list({ type: 'account.certificate.refused' })).map((e) => ({ ...e.detail, requestId: e.requestId }));
    const before = (await refusals()).length;
    const cases: Array<{ service: 'register' | 'recover' | 'deregister'; client: Issued | null; reason: string }> = [
      { service: 'register', client: null, reason: 'ERR_CERT_MISSING' },
      { service: 'register', client: untrusted, reason: 'ERR_CERT_UNKNOWN_CA' },
      { service: 'recover', client: untrusted, reason: 'ERR_CERT_UNKNOWN_CA' },
      { service: 'deregister', client: null, reason: 'ERR_CERT_MISSING' },
    ];
    for (const c of cases) {
      const agent = request.agent(app);
      const first = await agent.get(`/account/${c.service}`).expect(200);
      const opened = c.service === 'register' ? await postForm(agent, first.text, {}).expect(303) : await postForm(agent, first.text, { method: 'certificate' }, 1).expect(303);
      const refused = await hostGet(opened.headers.location!, c.client);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      const reference = refused.requestId;
      expect(reference).toMatch(/^[0-9a-f]{32}$/);
      expect(refused.text).toContain(reference); // the page's reference number
      // Written before the page was answered, under the page's reference number.
      expect((await refusals()).find((r) => r.requestId === reference)).toEqual({
        service: c.service === 'register' ? 'register' : 'account',
        reason: c.reason,
        address: '127.0.0.1',
        requestId: reference,
      });
    }
    expect((await refusals()).length - before).toBe(cases.length);
  });

  test('the certificate host refuses a flow the main host did not open; another browser cannot bring the result back', async () => {
    const forged = await hostGet(`${host.url}/account/register/tls?flow=${'a'.repeat(32)}`, leaf);
    expect(forged.status).toBe(410);
    const agent = request.agent(app);
    const start = await agent.get('/account/register').expect(200);
    const opened = await postForm(agent, start.text, {}).expect(303);
    const tls = await hostGet(opened.headers.location!, leaf);
    const stranger = await request.agent(app).get(local(tls.location!));
    expect(stranger.status).toBe(410);
    expect(alertText(stranger.text)).toBe('El proceso ha caducado o ya terminó. Empiece de nuevo.');
    // The right browser still can (the handle was not burnt by the stranger).
    expect((await agent.get(local(tls.location!))).status).toBe(200);
  });

  test('an already registered DNI/NIE is told so after the certificate (only its holder gets here)', async () => {
    const agent = request.agent(app);
    const { back } = await throughCertificate(agent);
    const res = await postForm(agent, back.text, { flow: formFields(back.text).flow!, mobile: MOBILE, email: '', birth_date: '1991-01-01', validity_date: '2031-01-01' });
    expect(res.status).toBe(409);
    expect(alertText(res.text)).toBe('Este DNI/NIE ya tiene un registro activo en Cl@ve. Si no recuerda su contraseña, recupérela.');
  });

  /** /account/{recover,deregister} -> "use my certificate" -> the certificate host -> back, the next step. */
  async function byCertificate(agent: ReturnType<typeof request.agent>, service: 'recover' | 'deregister') {
    const first = await agent.get(`/account/${service}`).expect(200);
    expect(first.text).toContain('Usar mi DNIe o certificado electrónico');
    // The second form of the page: method=certificate.
    const opened = await postForm(agent, first.text, { method: 'certificate' }, 1).expect(303);
    expect(opened.headers.location).toMatch(new RegExp(`^${host.url}/account/certificate/tls\\?flow=[A-Za-z0-9_-]{32}&lang=es$`));
    const tls = await hostGet(opened.headers.location!, leaf);
    expect(tls.status).toBe(303);
    expect(tls.location).toMatch(new RegExp(`^${BASE_URL}/account/certificate/return\\?flow=`));
    const back = await agent.get(local(tls.location!));
    return Object.assign(back, { returnUrl: local(tls.location!) });
  }

  test('recovery and deregistration proven with the DNIe instead of the validity date and the SMS code (issue 7)', async () => {
    // The registration of the first test is not activated yet: nothing to recover.
    const pending = await byCertificate(request.agent(app), 'recover');
    expect(pending.status).toBe(404);
    expect(alertText(pending.text)).toContain('No hay ninguna Cl@ve Permanente');
    const code = messagesTo(outbox, MOBILE)[1]!.code!;
    const lc = broker.services.lifecycle;
    const checked = await lc.checkActivationCode('48151623L', code);
    if (!checked.ok) throw new Error(`activation code refused: ${checked.reason}`);
    await lc.activate(checked.citizen.id, checked.codeId, 'Primera-Clave-2026', 'Primera-Clave-2026');

    const agent = request.agent(app);
    const pwStep = await byCertificate(agent, 'recover');
    expect(pwStep.status).toBe(200);
    // The certificate result is single use: bringing the same return address back is refused.
    const replay = await agent.get(pwStep.returnUrl);
    expect(replay.status).toBe(410);
    expect(pwStep.text).toMatch(/<input id="password" name="password"/);
    expect(pwStep.text).toContain('Paso 2 de 2');
    const done = await postForm(agent, pwStep.text, { flow: formFields(pwStep.text).flow!, password: 'Segunda-Clave-2026', password_confirm: 'Segunda-Clave-2026' });
    expect(done.status).toBe(200);
    const c = (await broker.services.citizens.findByDni('48151623L'))!;
    expect((await broker.services.citizens.verifyPassword(c.dni, 'Segunda-Clave-2026')).ok).toBe(true);
    const recovered = await new AuditLog(ds).list({ citizenId: c.id, type: 'citizen.recovered' });
    expect(recovered[0]!.detail.proof).toBe('certificate');

    const owner = request.agent(app);
    const confirm = await byCertificate(owner, 'deregister');
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('name="confirm" value="yes"');
    const stranger = await request.agent(app).post('/account/deregister').type('form').send({ flow: formFields(confirm.text).flow!, confirm: 'yes' });
    expect(stranger.status).toBe(403); // no CSRF token of that browser
    expect((await broker.services.citizens.findByDni('48151623L'))!.status).toBe('active');
    const gone = await postForm(owner, confirm.text, { flow: formFields(confirm.text).flow!, confirm: 'yes' });
    expect(gone.status).toBe(200);
    expect((await broker.services.citizens.findByDni('48151623L'))!.status).toBe('deregistered');
    const trail = await new AuditLog(ds).list({ citizenId: c.id, type: 'citizen.deregistered' });
    expect(trail[0]!.detail.proof).toBe('certificate');
  });
});
