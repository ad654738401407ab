import type request from 'supertest';
import type { DataSource } from 'typeorm';
import type { Registration } from '../../src/citizens/lifecycle';
import { dniSequence } from '../support/citizens';
import { ActivationCodeEntity, CitizenEntity } from '../../src/db/entities';
import type { KeyValueStore } from '../../src/store/types';
import { formFields, loginWithPassword, nodeSamlSp, sendRedirectRequest, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { describeEachPair } from '../support/pairs';
import { alertText, browserFromOwnAddress, lastCode, messagesTo, pickMethod, postForm, posted, submit, tempOutbox } from '../pin/support';

const LOW = 'http://eidas.europa.eu/LoA/low';
const FIRST = 'Mi-Clave-Nueva-7';
const SECOND = 'Otra-Clave-Buena-8';
const THIRD = 'Tercera-Clave-Ok-9';
const WRONG = 'Wrong-Password-00';

const nextDni = dniSequence(43_000_000);
function registration(over: Partial<Registration> = {}): Registration {
  const { dni, mobile } = nextDni();
  return {
    dni,
    givenName: 'Inés',
    firstSurname: 'Barrios',
    secondSurname: 'Soler',
    dateOfBirth: '1988-08-08',
    mobile,
    channel: 'office',
    dniValidityDate: '2031-03-03',
    ...over,
  };
}

describeEachPair('account services end to end (codes from the outbox)', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const outbox = tempOutbox();

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({ store, ds, overrides: { trustProxy: true, notify: { outboxPath: outbox } } });
  });

  const browser = (): Agent => browserFromOwnAddress(broker, '203.0');

  /** POST the page's form with its hidden fields (`_csrf`, `flow`) and `fields`: what a script filling named fields does. */
  const step = (agent: Agent, html: string, fields: Record<string, string>): request.Test => {
    const { flow } = formFields(html);
    return postForm(agent, html, { ...(flow ? { flow } : {}), ...fields });
  };
  const inputs = (html: string) => [...html.matchAll(/<input id="[^"]+" name="([^"]+)"/g)].map((m) => m[1]);

  async function activate(agent: Agent, r: Registration, code: string, password = FIRST): Promise<request.Response> {
    const first = await agent.get('/account/activate').expect(200);
    const otpPage = await step(agent, first.text, { dni: r.dni, activation_code: code });
    expect(otpPage.status).toBe(200);
    expect(inputs(otpPage.text)).toEqual(['otp']);
    const pwPage = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    expect(inputs(pwPage.text)).toEqual(['password', 'password_confirm']);
    return step(agent, pwPage.text, { password, password_confirm: password });
  }

  async function samlLogin(agent: Agent, dni: string, password: string): Promise<request.Response> {
    const s = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW] }));
    expect(s.status).toBe(303);
    return loginWithPassword(agent, s.headers.location!, dni, password);
  }

  async function activeCitizen(over: Partial<Registration> = {}): Promise<Registration> {
    const r = registration(over);
    const issued = await broker.services.lifecycle.register(r);
    // Office: the code handed back; letter: the code is in the outbox line addressed to the letter.
    const code = issued.code ?? lastCode(outbox, `letter:${issued.reference}`);
    const done = await activate(browser(), r, code);
    expect(done.status).toBe(200);
    return r;
  }

  test('activation: the rules are explained before typing; DNI + code -> SMS code -> password (failed rule named) -> active, and the login works', async () => {
    const r = registration();
    const { code } = await broker.services.lifecycle.register(r);
    const agent = browser();
    const first = await agent.get('/account/activate?lang=es').expect(200);
    expect(inputs(first.text)).toEqual(['dni', 'activation_code']);
    expect(first.text).toContain('Al menos 8 caracteres.');
    expect(first.text).toContain('name="_csrf"');
    expect(first.text).not.toContain('<script');

    const otpPage = await step(agent, first.text, { dni: r.dni, activation_code: code!.toLowerCase() });
    expect(otpPage.status).toBe(200);
    expect(messagesTo(outbox, r.mobile)).toHaveLength(1);
    const pwPage = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    expect(pwPage.text).toContain('Cómo debe ser la contraseña');

    const weak = await step(agent, pwPage.text, { password: 'barrios2026', password_confirm: 'barrios2026' });
    expect(weak.status).toBe(400);
    expect(alertText(weak.text)).toBe(
      'La contraseña no se ha aceptado: con menos de 16 caracteres debe mezclar 3 de los 4 grupos (minúsculas, mayúsculas, números, símbolos); contiene su nombre o un apellido',
    );
    const mismatch = await step(agent, weak.text, { password: FIRST, password_confirm: `${FIRST}x` });
    expect(alertText(mismatch.text)).toContain('las dos contraseñas escritas no son iguales');
    const done = await step(agent, mismatch.text, { password: FIRST, password_confirm: FIRST });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Su Cl@ve Permanente está activada');

    const login = await samlLogin(browser(), r.dni, FIRST);
    expect(posted(login.text).xml).toContain(LOW);

    // The code is used up: the same code again is refused, and says so only because it is the right one.
    const again = await submit(browser(), '/account/activate?lang=en', { dni: r.dni, activation_code: code! });
    expect(again.status).toBe(401);
    expect(alertText(again.text)).toBe('This activation code was already used. If you do not remember your password, recover it.');
  });

  test('activation: a wrong code and an unknown DNI get the same words and status; nothing is sent', async () => {
    const r = registration();
    await broker.services.lifecycle.register(r);
    const wrong = await submit(browser(), '/account/activate', { dni: r.dni, activation_code: 'AAAA-BBBB-CCCC-DDDD' });
    const unknown = await submit(browser(), '/account/activate', { dni: registration().dni, activation_code: 'AAAA-BBBB-CCCC-DDDD' });
    expect([wrong.status, alertText(wrong.text)]).toEqual([401, 'El DNI/NIE o el código de activación no son correctos.']);
    expect([unknown.status, alertText(unknown.text)]).toEqual([wrong.status, alertText(wrong.text)]);
    expect(messagesTo(outbox, r.mobile)).toHaveLength(0);
  });

  test('change: current password -> SMS code (advanced) -> new one, not one of the last 5; the old one stops working', async () => {
    const r = await activeCitizen();
    const agent = browser();
    const first = await agent.get('/account/password').expect(200);
    expect(inputs(first.text)).toEqual(['dni', 'current_password']);
    const bad = await step(agent, first.text, { dni: r.dni, current_password: WRONG });
    expect([bad.status, alertText(bad.text)]).toEqual([401, 'El DNI/NIE o la contraseña no son correctos.']);
    const otpPage = await step(agent, bad.text, { dni: r.dni, current_password: FIRST });
    expect(inputs(otpPage.text)).toEqual(['otp']);
    const pwPage = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    const reused = await step(agent, pwPage.text, { password: FIRST, password_confirm: FIRST });
    expect(alertText(reused.text)).toBe('La contraseña no se ha aceptado: es una de sus 5 últimas contraseñas');
    const done = await step(agent, reused.text, { password: SECOND, password_confirm: SECOND });
    expect(done.text).toContain('Su contraseña se ha cambiado.');
    expect((await broker.services.citizens.verifyPassword(r.dni, FIRST)).ok).toBe(false);
    expect((await broker.services.citizens.verifyPassword(r.dni, SECOND)).ok).toBe(true);
  });

  test('change, basic registration: no SMS step', async () => {
    const r = await activeCitizen({ channel: 'letter' });
    const agent = browser();
    const pwPage = await submit(agent, '/account/password', { dni: r.dni, current_password: FIRST });
    expect(inputs(pwPage.text)).toEqual(['password', 'password_confirm']);
    const done = await step(agent, pwPage.text, { password: SECOND, password_confirm: SECOND });
    expect(done.status).toBe(200);
  });

  test('lock with wrong passwords, then recover: DNI + validity date -> SMS code -> new password; unlocked, the login works', async () => {
    const r = await activeCitizen();
    for (let i = 0; i < 5; i++) await samlLogin(browser(), r.dni, WRONG);
    expect((await broker.services.citizens.findByDni(r.dni))!.status).toBe('locked');
    const locked = await samlLogin(browser(), r.dni, FIRST);
    expect(alertText(locked.text)).toContain('bloqueada');

    const agent = browser();
    const first = await agent.get('/account/recover').expect(200);
    expect(inputs(first.text)).toEqual(['dni', 'validity_date']);
    const noMatch = await step(agent, first.text, { dni: r.dni, validity_date: '2030-01-01' });
    expect(noMatch.status).toBe(401);
    const unknown = await submit(browser(), '/account/recover', { dni: registration().dni, validity_date: '2031-03-03' });
    expect([unknown.status, alertText(unknown.text)]).toEqual([noMatch.status, alertText(noMatch.text)]);
    const otpPage = await step(agent, noMatch.text, { dni: r.dni, validity_date: r.dniValidityDate! });
    const wrongOtp = await step(agent, otpPage.text, { otp: '000000' === lastCode(outbox, r.mobile) ? '111111' : '000000' });
    expect(wrongOtp.status).toBe(401);
    const pwPage = await step(agent, wrongOtp.text, { otp: lastCode(outbox, r.mobile) });
    const done = await step(agent, pwPage.text, { password: THIRD, password_confirm: THIRD });
    expect(done.text).toContain('desbloqueada');
    expect((await broker.services.citizens.findByDni(r.dni))!.status).toBe('active');
    expect(posted((await samlLogin(browser(), r.dni, THIRD)).text).xml).toContain(LOW);
  });

  test('account steps (issue 8): dates as printed on the DNI, messages in the page language, the language switch keeps the step', async () => {
    const r = await activeCitizen();
    const agent = browser();
    const first = await agent.get('/account/recover').expect(200);
    expect(first.text).not.toContain('type="date"');
    const badDni = await step(agent, first.text, { dni: '12345678A', validity_date: '03/03/2031' });
    expect(alertText(badDni.text)).toBe('El DNI/NIE no es válido: la letra no corresponde al número.');
    const [y, m, d] = r.dniValidityDate!.split('-');
    const otpPage = await step(agent, badDni.text, { dni: r.dni, validity_date: `${d}/${m}/${y}` });
    expect(otpPage.status).toBe(200);
    expect(inputs(otpPage.text)).toEqual(['otp']);
    // The step was shown in answer to a POST: its language link carries the flow and shows the same step.
    const { flow } = formFields(otpPage.text);
    const href = /<nav aria-label="Idioma \/ Language"><a href="([^"]+)"/.exec(otpPage.text)![1]!.replace(/&amp;/g, '&');
    expect(href).toBe(`/account/recover?flow=${flow}&lang=en`);
    const english = await agent.get(href).expect(200);
    expect(english.text).toContain('<html lang="en">');
    expect(inputs(english.text)).toEqual(['otp']);
    expect(formFields(english.text).flow).toBe(flow);
    // Another browser cannot pick the flow up from the address.
    expect(inputs((await browser().get(href).expect(200)).text)).toEqual(['dni', 'validity_date']);
    const pwPage = await step(agent, english.text, { otp: lastCode(outbox, r.mobile) });
    expect(inputs(pwPage.text)).toEqual(['password', 'password_confirm']);
  });

  test('deregistration: password + SMS code + explicit confirmation; the live SSO session is gone, PIN and Permanente refuse; registering again works', async () => {
    const r = await activeCitizen();
    const agent = browser();
    expect(posted((await samlLogin(agent, r.dni, FIRST)).text).samlResponse).toBeTruthy();
    const reuse = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW] }));
    expect(reuse.status).toBe(200); // SSO session reused: straight back to the SP

    const first = await agent.get('/account/deregister').expect(200);
    const otpPage = await step(agent, first.text, { dni: r.dni, current_password: FIRST });
    const confirm = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    expect(confirm.text).toContain('<button type="submit" name="confirm" value="yes">');
    const notConfirmed = await step(agent, confirm.text, {});
    expect(notConfirmed.status).toBe(400);
    const done = await step(agent, notConfirmed.text, { confirm: 'yes' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Se han cerrado todas sus sesiones');

    const after = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW] }));
    expect(after.status).toBe(303); // no session: to the chooser
    const permanente = await loginWithPassword(agent, after.headers.location!, r.dni, FIRST);
    expect(permanente.status).toBe(401);
    const s = await sendRedirectRequest(browser(), nodeSamlSp(broker, { authnContext: [LOW] }));
    const pinAgent = browser();
    const s2 = await sendRedirectRequest(pinAgent, nodeSamlSp(broker, { authnContext: [LOW] }));
    expect(s.status).toBe(303);
    const pinPath = await pickMethod(pinAgent, s2.headers.location!, 'pin');
    const pin = await submit(pinAgent, pinPath, { dni: r.dni, validity_date: r.dniValidityDate! });
    expect(pin.status).toBe(401);
    const row = await ds.getRepository(CitizenEntity).findOneByOrFail({ dni: r.dni });
    expect(row).toMatchObject({ status: 'deregistered', passwordHash: null });

    const again = await broker.services.lifecycle.register({ ...r, channel: 'office' });
    expect(again.citizen.id).toBe(row.id);
    expect((await activate(browser(), r, again.code!, SECOND)).status).toBe(200);
  });

  test('deregistration revokes the session on a second node sharing the store (Redis on the production pair)', async () => {
    const r = await activeCitizen();
    const agent = browser();
    const login = await samlLogin(agent, r.dni, FIRST);
    const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    const name = broker.config.session.cookieName;
    const ssoId = setCookie.map((c) => new RegExp(`^${name}=([^;]+)`).exec(c)?.[1]).find(Boolean)!;
    expect(ssoId).toBeTruthy();
    const second = await startBroker({ store: pair.sharedStore ? await pair.makeStore() : store, ds, keysDir: broker.keysDir, overrides: { trustProxy: true, notify: { outboxPath: outbox } } });
    expect(await second.services.broker.sessions.get(ssoId, new Date())).not.toBeNull();

    const first = await agent.get('/account/deregister').expect(200);
    const otpPage = await step(agent, first.text, { dni: r.dni, current_password: FIRST });
    const confirm = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    expect((await step(agent, confirm.text, { confirm: 'yes' })).status).toBe(200);
    expect(await second.services.broker.sessions.get(ssoId, new Date())).toBeNull();
  });

  test('the SMS provider fails: the page says try again, nothing changes (code still valid, not consumed)', async () => {
    const failing = await startBroker({
      store,
      ds,
      keysDir: broker.keysDir,
      overrides: { trustProxy: true, notify: { driver: 'http', http: { url: 'http://127.0.0.1:9/sms', retries: 0, timeoutMs: 1000 } } },
    });
    const r = registration();
    const { code } = await broker.services.lifecycle.register(r);
    const before = await ds.getRepository(ActivationCodeEntity).findOneByOrFail({ citizenId: (await broker.services.citizens.findByDni(r.dni))!.id });
    const res = await submit(browserFromOwnAddress(failing, '203.0'), '/account/activate', { dni: r.dni, activation_code: code! });
    expect(res.status).toBe(503);
    expect(alertText(res.text)).toBe('No hemos podido enviar el SMS. Inténtelo de nuevo en unos minutos.');
    const after = await ds.getRepository(ActivationCodeEntity).findOneByOrFail({ id: before.id });
    expect(after).toMatchObject({ status: 'active', failedAttempts: 0 });
    expect((await broker.services.citizens.findByDni(r.dni))!.status).toBe('pending');
    // And it still works once the channel is back.
    expect((await activate(browser(), r, code!)).status).toBe(200);
  });

  test('a step posted with an unknown or foreign flow id starts again, never a 500', async () => {
    const page = await browser().get('/account/recover').expect(200);
    const res = await postForm(browser(), page.text, { flow: 'x'.repeat(32), otp: '123456' });
    // Another browser's CSRF token: refused before the flow is even looked at.
    expect([403, 410]).toContain(res.status);
    const agent = browser();
    const own = await agent.get('/account/recover').expect(200);
    const forged = await postForm(agent, own.text, { flow: 'y'.repeat(32), otp: '123456' });
    expect(forged.status).toBe(410);
    expect(alertText(forged.text)).toBe('El proceso ha caducado o ya terminó. Empiece de nuevo.');
  });
});
