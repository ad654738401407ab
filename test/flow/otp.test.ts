import request from 'supertest';
import type { DataSource } from 'typeorm';
import { dniSequence } from '../support/citizens';
import type { NewCitizen } from '../../src/citizens/types';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { nodeSamlSp, sendRedirectRequest, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { alertText, lastCode, messagesTo, pickMethod, postForm, posted, submit, tempOutbox, testClock, browserFromOwnAddress } from '../pin/support';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const HIGH = 'http://eidas.europa.eu/LoA/high';
const SELECTED_IDP = 'http://es.minhafp.clave/SelectedIdP';
const PASSWORD = 'Permanente-Pass-55';

const nextDni = dniSequence(60_000_000);
function citizen(over: Partial<NewCitizen> = {}): NewCitizen {
  const { dni, mobile } = nextDni();
  return {
    dni,
    password: PASSWORD,
    givenName: 'Jorge',
    firstSurname: 'Iglesias',
    secondSurname: 'Mora',
    dateOfBirth: '1975-03-04',
    mobile,
    registrationLevel: 'advanced',
    dniValidityDate: '2029-09-09',
    ...over,
  };
}

const browser = (b: BrokerUnderTest): Agent => browserFromOwnAddress(b, '203.0');

describeEachPair('Cl@ve Permanente with and without the SMS code', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const outbox = tempOutbox();
  const clock = testClock();

  const start = (overrides: Record<string, unknown> = {}) =>
    startBroker({ store, ds, keysDir: broker?.keysDir, now: clock.now, overrides: { trustProxy: true, notify: { outboxPath: outbox }, ...overrides } });

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await start();
  });
  afterEach(() => clock.reset());

  async function passwordStep(agent: Agent, b: BrokerUnderTest, loa: string, c: NewCitizen, password = PASSWORD) {
    const sp = nodeSamlSp(b, { authnContext: [loa] });
    const s = await sendRedirectRequest(agent, sp);
    expect(s.status).toBe(303);
    const path = await pickMethod(agent, s.headers.location!, 'permanente');
    const res = await submit(agent, path, { username: c.dni, password });
    return { sp, path, res };
  }

  test('low: the password alone, no SMS code (SEGSOC, low)', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { sp, res } = await passwordStep(agent, broker, LOW, c);
    const out = posted(res.text);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${LOW}</saml:AuthnContextClassRef>`);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState! });
    expect(profile![SELECTED_IDP]).toBe('SEGSOC');
    expect(messagesTo(outbox, c.mobile)).toHaveLength(0);
  });

  test('substantial, advanced registration: password, then the 6-digit SMS code -> substantial (SEGSOC)', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { sp, path, res } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('SAMLResponse');
    expect(res.text).toContain('<label for="otp">');
    expect(res.text).toMatch(/<input id="otp" name="otp"/);
    expect(res.text).toMatch(/<form method="post" action="\/login\/[^"]+\/permanente\/otp"[^>]*>/);
    expect(res.text).toMatch(/<input type="hidden" name="_csrf" value="[^"]+">/);
    const sms = messagesTo(outbox, c.mobile);
    expect(sms).toHaveLength(1);
    expect(sms[0]!.code).toMatch(/^\d{6}$/);
    expect(sms[0]!.text).toContain(`código de verificación es ${sms[0]!.code}`);

    // Reloading the method page keeps the code step.
    const reload = await agent.get(path).expect(200);
    expect(reload.text).toMatch(/name="otp"/);

    const done = await postForm(agent, res.text, { otp: sms[0]!.code! });
    const out = posted(done.text);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${SUBSTANTIAL}</saml:AuthnContextClassRef>`);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState! });
    expect(profile![SELECTED_IDP]).toBe('SEGSOC');
    expect(profile!['http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier']).toBe(`ES/ES/${c.dni}`);

    // Single use: the login is consumed.
    expect((await postForm(agent, res.text, { otp: sms[0]!.code! })).status).toBe(410);
  });

  test('the SSO session from password + code is at substantial: a later substantial request needs no interaction', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { res } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    posted((await postForm(agent, res.text, { otp: lastCode(outbox, c.mobile) })).text);
    const again = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] }));
    expect(again.status).toBe(200);
    expect(posted(again.text).xml).toContain(SUBSTANTIAL);
  });

  test('step-up: a session at low from the password, then substantial asks for the code', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const first = await passwordStep(agent, broker, LOW, c);
    expect(posted(first.res.text).xml).toContain(LOW);
    const { res } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    expect(res.text).toMatch(/name="otp"/);
    expect(posted((await postForm(agent, res.text, { otp: lastCode(outbox, c.mobile) })).text).xml).toContain(SUBSTANTIAL);
  });

  test('a basic registration cannot reach substantial: told why and how, no code sent, nothing posted', async () => {
    const c = citizen({ registrationLevel: 'basic' });
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const s = await sendRedirectRequest(agent, sp);
    const chooser = await agent.get(`${s.headers.location!}?lang=en`).expect(200);
    expect(chooser.text).toMatch(/value="permanente">Cl@ve Permanente<\/button>\n<span class="desc">[^<]*<\/span>\n\n<span class="hint">Requires an advanced registration.<\/span>/);
    const path = await pickMethod(agent, s.headers.location!, 'permanente');
    const refused = await submit(agent, path, { username: c.dni, password: PASSWORD });
    expect(refused.status).toBe(403);
    expect(alertText(refused.text)).toBe(
      'Your registration level (basic) does not reach the substantial level of assurance this service requires. To get an advanced registration, visit a registration office or register online with your electronic certificate.',
    );
    expect(refused.text).not.toContain('SAMLResponse');
    expect(refused.text).not.toMatch(/name="otp"/);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(0);
  });

  test('policy as data: with "permanente.otp" reaching substantial for basic too, a basic registration gets the code', async () => {
    const generous = await start({ loaPolicy: { 'permanente.otp': { basic: 'substantial', advanced: 'substantial' } } });
    const c = citizen({ registrationLevel: 'basic' });
    await generous.services.citizens.create(c);
    const agent = browser(generous);
    const { res } = await passwordStep(agent, generous, SUBSTANTIAL, c);
    expect(res.status).toBe(200);
    expect(posted((await postForm(agent, res.text, { otp: lastCode(outbox, c.mobile) })).text).xml).toContain(SUBSTANTIAL);
  });

  test('high is out of reach for Permanente and PIN: with only those configured, the SP gets NoAuthnContext at once', async () => {
    const noCertificates = await start({ methods: { enabled: ['pin', 'permanente'] } });
    const agent = browser(noCertificates);
    const res = await sendRedirectRequest(agent, nodeSamlSp(noCertificates, { authnContext: [HIGH] }));
    expect(posted(res.text).xml).toContain('urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext');
  });

  test('a wrong code says how many tries are left; three wrong codes invalidate it and the password is asked again', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { res, path } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    const right = lastCode(outbox, c.mobile);
    const wrong = right === '000000' ? '999999' : '000000';
    let page = await postForm(agent, res.text, { otp: wrong });
    expect(page.status).toBe(401);
    expect(alertText(page.text)).toBe('El código no es correcto. Le quedan 2 intentos.');
    page = await postForm(agent, page.text, { otp: wrong });
    page = await postForm(agent, page.text, { otp: wrong });
    expect(page.status).toBe(401);
    expect(alertText(page.text)).toContain('demasiadas veces');
    expect(page.text).toMatch(/name="password"/);
    // The old code is gone, even the right one; a code post now goes back to the password step.
    const late = await postForm(agent, res.text, { otp: right });
    expect(late.status).toBe(303);
    expect(late.headers.location).toBe(path);
    // Password again (after the 60 s resend window by the broker clock) -> a new code -> in.
    clock.advance(61_000);
    const again = await submit(agent, path, { username: c.dni, password: PASSWORD });
    expect(again.text).toMatch(/name="otp"/);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(2);
    const fresh = lastCode(outbox, c.mobile);
    clock.reset();
    expect(posted((await postForm(agent, again.text, { otp: fresh })).text).xml).toContain(SUBSTANTIAL);
  });

  test('expiry by the injected clock: a code older than 5 minutes is refused, back to the password', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { res } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    const code = lastCode(outbox, c.mobile);
    clock.advance(4 * 60_000 + 59_000);
    const stillOk = await postForm(agent, res.text, { otp: code === '000000' ? '999999' : '000000' });
    expect(alertText(stillOk.text)).toContain('Le quedan 2 intentos');
    clock.advance(2_000);
    const expired = await postForm(agent, stillOk.text, { otp: code });
    expect(expired.status).toBe(401);
    expect(alertText(expired.text)).toContain('caducado');
    expect(expired.text).toMatch(/name="password"/);
    expect(expired.text).not.toContain('SAMLResponse');
  });

  test('asking for a new code within 60 s (password again at once) is refused', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { path } = await passwordStep(agent, broker, SUBSTANTIAL, c);
    // Back to the chooser and Permanente again: the code step restarts, the resend rule holds.
    const chooser = path.replace(/\/permanente$/, '');
    const path2 = await pickMethod(agent, chooser, 'permanente');
    const early = await submit(agent, path2, { username: c.dni, password: PASSWORD });
    expect(early.status).toBe(429);
    expect(alertText(early.text)).toMatch(/^Espere \d+ segundos/);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(1);
  });

  test('unknown DNI, wrong password and a not yet activated registration get the same answer', async () => {
    const active = citizen();
    const pending = citizen({ password: undefined });
    await broker.services.citizens.create(active);
    await broker.services.citizens.create(pending);
    const answers = [];
    for (const [dni, pw] of [
      [citizen().dni, PASSWORD],
      [active.dni, 'Wrong-Password-99'],
      [pending.dni, PASSWORD],
    ] as const) {
      const agent = browser(broker);
      const sp = nodeSamlSp(broker);
      const s = await sendRedirectRequest(agent, sp);
      const path = await pickMethod(agent, s.headers.location!, 'permanente');
      const res = await submit(agent, path, { username: dni, password: pw });
      answers.push({ status: res.status, alert: alertText(res.text) });
    }
    expect(answers[0]!.status).toBe(401);
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  test('abuse limit: wrong passwords and codes count per citizen across addresses -> 429, unknown DNIs alike', async () => {
    const strict = await start({ otp: { abuse: { maxFailuresPerCitizen: 3, maxFailuresPerAddress: 100 } } });
    const known = citizen();
    await strict.services.citizens.create(known);
    const unknown = citizen();
    const lastAnswers = [];
    for (const c of [known, unknown]) {
      const statuses = [];
      let last: request.Response | undefined;
      for (let i = 0; i < 3; i++) {
        const { res } = await passwordStep(browser(strict), strict, LOW, c, 'Wrong-Password-99');
        statuses.push(res.status);
        last = res;
      }
      expect(statuses).toEqual([401, 401, 429]);
      lastAnswers.push({ status: last!.status, alert: /<p class="error" role="alert">([^<]*)<\/p>/.exec(last!.text)?.[1] });
    }
    expect(lastAnswers[1]).toEqual(lastAnswers[0]);
    // Blocked before the password is checked: the right one is refused too (and the DB lockout is not touched).
    const { res } = await passwordStep(browser(strict), strict, LOW, known);
    expect(res.status).toBe(429);
    const row = await strict.services.citizens.findByDni(known.dni);
    expect(row!.status).toBe('active');

    // Wrong codes count as well.
    const other = citizen();
    await strict.services.citizens.create(other);
    const agent = browser(strict);
    const step = await passwordStep(agent, strict, SUBSTANTIAL, other);
    const wrong = lastCode(outbox, other.mobile) === '000000' ? '999999' : '000000';
    const w1 = await postForm(agent, step.res.text, { otp: wrong });
    const w2 = await postForm(agent, w1.text, { otp: wrong });
    expect(w2.status).toBe(401);
    const w3 = await postForm(agent, w2.text, { otp: wrong });
    expect(w3.status).toBe(429);
  });

  test('the database lockout after 5 wrong passwords stays as it is', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    for (let i = 0; i < 5; i++) expect((await passwordStep(agent, broker, LOW, c, 'Wrong-Password-99')).res.status).toBe(401);
    const locked = await passwordStep(agent, broker, LOW, c);
    expect(locked.res.status).toBe(401);
    expect(alertText(locked.res.text)).toContain('bloqueada');
  });
});
