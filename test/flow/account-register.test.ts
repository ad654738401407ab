import https from 'node:https';
import type http from 'node:http';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { Express } from 'express';
import { createApp } from '../../src/app';
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

function hostGet(url: string, client: Issued | null): Promise<{ status: number; location?: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), { ca: hostTls.certPem, agent: false, ...(client ? { key: client.keyPem, cert: client.certPem } : {}) }, (res: http.IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }));
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
  let app: Express;
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
    const otpPage = await postForm(agent, badMobile.text, { flow: formFields(badMobile.text).flow!, mobile: MOBILE, email: 'marta@example.org', birth_date: '1991-01-01', validity_date: '2031-01-01' });
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
});
