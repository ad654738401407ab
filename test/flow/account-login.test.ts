import type request from 'supertest';
import { AuditLog } from '../../src/audit/log';
import type { DataSource } from 'typeorm';
import type { Registration } from '../../src/citizens/lifecycle';
import { dniSequence } from '../support/citizens';
import { CitizenEntity } from '../../src/db/entities';
import type { KeyValueStore } from '../../src/store/types';
import { formFields, nodeSamlSp, sendRedirectRequest, SP_ENTITY, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { describeEachPair } from '../support/pairs';
import { alertText, browserFromOwnAddress, lastCode, pickMethod, postForm, posted, submit, tempOutbox } from '../pin/support';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const FIRST = 'Mi-Clave-Nueva-7';
const SECOND = 'Otra-Clave-Buena-8';
const DAY = 86_400_000;

const nextDni = dniSequence(44_000_000);
function registration(over: Partial<Registration> = {}): Registration {
  const { dni, mobile } = nextDni();
  return {
    dni,
    givenName: 'Tomás',
    firstSurname: 'Herrero',
    dateOfBirth: '1970-07-07',
    mobile,
    channel: 'office',
    dniValidityDate: '2030-10-10',
    ...over,
  };
}

describeEachPair('account services at the Cl@ve Permanente login', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const outbox = tempOutbox();

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({ store, ds, overrides: { trustProxy: true, notify: { outboxPath: outbox } } });
  });

  const browser = (): Agent => browserFromOwnAddress(broker, '198.51');
  const inputs = (html: string) => [...html.matchAll(/<input id="[^"]+" name="([^"]+)"/g)].map((m) => m[1]);

  async function activeCitizen(): Promise<Registration> {
    const r = registration();
    const { code, citizen } = await broker.services.lifecycle.register(r);
    const checked = await broker.services.lifecycle.checkActivationCode(r.dni, code!);
    if (!checked.ok) throw new Error('code refused');
    await broker.services.lifecycle.activate(citizen.id, checked.codeId, FIRST, FIRST);
    return r;
  }

  /** The SP's requests carry real time, so the password is made old rather than the broker's clock moved. */
  const passwordSetDaysAgo = (dni: string, days: number) => ds.getRepository(CitizenEntity).update({ dni }, { passwordSetAt: new Date(Date.now() - days * DAY) });

  async function passwordStep(agent: Agent, loa: string, dni: string, password: string): Promise<{ path: string; res: request.Response }> {
    const s = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [loa] }));
    const path = await pickMethod(agent, s.headers.location!, 'permanente');
    return { path, res: await submit(agent, path, { username: dni, password }) };
  }

  test('the Permanente page links to recovery and activation on every answer, the same for unknown and registered DNIs', async () => {
    const r = await activeCitizen();
    const agent = browser();
    const s = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW] }));
    const path = await pickMethod(agent, s.headers.location!, 'permanente');
    const pagePlain = await agent.get(path).expect(200);
    const links = '<ul class="links"><li><a href="/account/recover">¿Ha olvidado su contraseña o está bloqueada?</a></li><li><a href="/account/activate">¿Aún no ha activado su Cl@ve Permanente?</a></li></ul>';
    expect(pagePlain.text).toContain(links);
    const wrongRegistered = (await passwordStep(browser(), LOW, r.dni, 'Wrong-Password-1')).res;
    const wrongUnknown = (await passwordStep(browser(), LOW, registration().dni, 'Wrong-Password-1')).res;
    for (const res of [wrongRegistered, wrongUnknown]) expect(res.text).toContain(links);
    expect([wrongRegistered.status, alertText(wrongRegistered.text)]).toEqual([wrongUnknown.status, alertText(wrongUnknown.text)]);
  });

  test('an expired password (365 days) leads into the change, then the SAML login continues where it was (low: straight to the SP)', async () => {
    const r = await activeCitizen();
    await passwordSetDaysAgo(r.dni, 366);
    const agent = browser();
    const { res } = await passwordStep(agent, LOW, r.dni, FIRST);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Su contraseña ha caducado');
    expect(inputs(res.text)).toEqual(['password', 'password_confirm']);
    expect(res.text).toContain('Cómo debe ser la contraseña');
    const reused = await postForm(agent, res.text, { password: FIRST, password_confirm: FIRST });
    expect(reused.status).toBe(400);
    expect(alertText(reused.text)).toBe('La contraseña no se ha aceptado: es una de sus 5 últimas contraseñas');
    const done = await postForm(agent, reused.text, { password: SECOND, password_confirm: SECOND });
    const out = posted(done.text);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${LOW}</saml:AuthnContextClassRef>`);
    expect(out.relayState).toBe('rs-1');
    const citizen = (await broker.services.citizens.findByDni(r.dni))!;
    expect(broker.services.lifecycle.passwordExpired(citizen)).toBe(false);
    const types = (await new AuditLog(ds).list({ citizenId: citizen.id })).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['citizen.password_expired', 'citizen.password_changed', 'auth.login.succeeded']));
  });

  test('expired password, substantial: change, then the SMS code, then the SP', async () => {
    const r = await activeCitizen();
    await passwordSetDaysAgo(r.dni, 400);
    const agent = browser();
    const { res } = await passwordStep(agent, SUBSTANTIAL, r.dni, FIRST);
    const otpPage = await postForm(agent, res.text, { password: SECOND, password_confirm: SECOND });
    expect(otpPage.status).toBe(200);
    expect(inputs(otpPage.text)).toEqual(['otp']);
    const done = await postForm(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    expect(posted(done.text).xml).toContain(SUBSTANTIAL);
    expect(formFields(done.text).SAMLResponse).toBeTruthy();
  });

  test('login success and failure are audited with method, LoA and SP', async () => {
    const r = await activeCitizen();
    await passwordStep(browser(), LOW, r.dni, 'Wrong-Password-1');
    const ok = await passwordStep(browser(), LOW, r.dni, FIRST);
    expect(posted(ok.res.text).samlResponse).toBeTruthy();
    const citizen = (await broker.services.citizens.findByDni(r.dni))!;
    const events = await new AuditLog(ds).list({ citizenId: citizen.id });
    expect(events.find((e) => e.type === 'auth.login.succeeded')!.detail).toMatchObject({ method: 'permanente', loa: 'low', sp: SP_ENTITY, selectedIdP: 'SEGSOC', address: expect.stringMatching(/^198\.51\./) });
    expect(events.find((e) => e.type === 'auth.password.failed')!.detail).toMatchObject({ reason: 'bad_password', method: 'permanente', sp: SP_ENTITY, address: expect.stringMatching(/^198\.51\./) });
    expect(JSON.stringify(events)).not.toContain(r.dni);
  });
});
