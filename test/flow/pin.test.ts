import type { DataSource } from 'typeorm';
import { AuditLog } from '../../src/audit/log';
import { maskDni } from '../../src/citizens/nif';
import { dniSequence } from '../support/citizens';
import type { NewCitizen } from '../../src/citizens/types';
import { CitizenEntity } from '../../src/db/entities';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { nodeSamlSp, sendRedirectRequest, SP_ACS, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { alertText, lastCode, messagesTo, pickMethod, postForm, posted, submit, tempOutbox, testClock, browserFromOwnAddress } from '../pin/support';

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const SELECTED_IDP = 'http://es.minhafp.clave/SelectedIdP';
const PERSON_ID = 'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier';

const nextDni = dniSequence(40_000_000);
/** A distinct citizen (DNI, mobile) per test, so per-citizen counters never leak between tests. */
function citizen(over: Partial<NewCitizen> = {}): NewCitizen & { dniValidityDate: string } {
  const { dni, mobile } = nextDni();
  return {
    dni,
    givenName: 'Rosa',
    firstSurname: 'Martín',
    secondSurname: 'Vega',
    dateOfBirth: '1980-01-02',
    mobile,
    registrationLevel: 'advanced',
    dniValidityDate: '2030-06-15',
    ...over,
  } as NewCitizen & { dniValidityDate: string };
}

const browser = (b: BrokerUnderTest): Agent => browserFromOwnAddress(b, '198.51');

describeEachPair('Cl@ve PIN end to end', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const outbox = tempOutbox();
  const clock = testClock();

  const start = (overrides: Record<string, unknown> = {}) =>
    startBroker({
      store,
      ds,
      keysDir: broker?.keysDir,
      now: clock.now,
      overrides: { trustProxy: true, notify: { outboxPath: outbox }, ...overrides },
    });

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await start();
  });
  afterEach(() => clock.reset());

  async function pinPage(agent: Agent, b: BrokerUnderTest, loa = SUBSTANTIAL) {
    const sp = nodeSamlSp(b, { authnContext: [loa] });
    const s = await sendRedirectRequest(agent, sp);
    expect(s.status).toBe(303);
    return { sp, chooser: s.headers.location!, pinPath: await pickMethod(agent, s.headers.location!, 'pin') };
  }

  test('advanced registration: DNI + validity date -> PIN by SMS -> substantial, SelectedIdP PIN24H, through node-saml', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { sp, pinPath } = await pinPage(agent, broker);
    expect(pinPath).toMatch(/\/pin$/);

    // The form contract: plain form, stable names, a label per input, hidden _csrf, no script.
    const form = await agent.get(pinPath).expect(200);
    expect(form.text).toContain('<label for="dni">');
    expect(form.text).toMatch(/<input id="dni" name="dni"/);
    expect(form.text).toContain('<label for="validity_date">');
    expect(form.text).toMatch(/<input id="validity_date" name="validity_date"/);
    expect(form.text).toMatch(/<input type="hidden" name="_csrf" value="[^"]+">/);
    expect(form.text).not.toContain('<script');

    const sent = await submit(agent, pinPath, { dni: c.dni.toLowerCase(), validity_date: c.dniValidityDate });
    expect(sent.status).toBe(200);
    expect(sent.text).toContain('<label for="pin">');
    expect(sent.text).toMatch(/<input id="pin" name="pin"/);
    expect(sent.text).toContain(`•••${c.mobile.slice(-3)}`);
    const sms = messagesTo(outbox, c.mobile);
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ channel: 'sms' });
    expect(sms[0]!.code).toMatch(/^\d{6}$/);
    expect(sms[0]!.text).toContain(sms[0]!.code!);
    expect(sms[0]!.text).toMatch(/Válido hasta las \d\d:\d\d/);
    expect(new Date(sms[0]!.at).getTime()).toBeLessThanOrEqual(Date.now());
    expect(sent.text).not.toContain(sms[0]!.code!);

    const done = await postForm(agent, sent.text, { pin: sms[0]!.code! });
    expect(done.status).toBe(200);
    const out = posted(done.text);
    expect(out.action).toBe(SP_ACS);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${SUBSTANTIAL}</saml:AuthnContextClassRef>`);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState! });
    expect(profile![SELECTED_IDP]).toBe('PIN24H');
    expect(profile![PERSON_ID]).toBe(`ES/ES/${c.dni}`);
    expect(profile!['http://es.minhafp.clave/RegisterType']).toBe('advanced');

    // Reuse: the same PIN again is refused (the login is consumed, nothing is posted).
    const again = await postForm(agent, sent.text, { pin: sms[0]!.code! });
    expect(again.status).toBe(410);
    expect(again.text).not.toContain('SAMLResponse');
  });

  test('basic registration reaches low with PIN', async () => {
    const c = citizen({ registrationLevel: 'basic' });
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { sp, pinPath } = await pinPage(agent, broker, LOW);
    const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const done = await postForm(agent, sent.text, { pin: lastCode(outbox, c.mobile) });
    const out = posted(done.text);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${LOW}</saml:AuthnContextClassRef>`);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState! });
    expect(profile![SELECTED_IDP]).toBe('PIN24H');
  });

  test('a registered citizen who never activated Cl@ve Permanente (pending) can use PIN', async () => {
    const c = citizen();
    const created = await broker.services.citizens.create(c); // no password: pending
    expect(created.status).toBe('pending');
    const agent = browser(broker);
    const { pinPath } = await pinPage(agent, broker);
    const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    expect(posted((await postForm(agent, sent.text, { pin: lastCode(outbox, c.mobile) })).text).xml).toContain(SUBSTANTIAL);
  });

  test('basic registration asked for substantial: the chooser hints, the page says why, no SMS, nothing posted', async () => {
    const c = citizen({ registrationLevel: 'basic' });
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const s = await sendRedirectRequest(agent, sp);
    const chooser = await agent.get(`${s.headers.location!}?lang=en`).expect(200);
    expect(chooser.text).toMatch(/value="pin">Cl@ve PIN<\/button>\n<span class="desc">[^<]*<\/span>\n\n<span class="hint">Requires an advanced registration.<\/span>/);
    const pinPath = await pickMethod(agent, s.headers.location!, 'pin');
    const refused = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    expect(refused.status).toBe(403);
    expect(alertText(refused.text)).toBe(
      'With your registration level (basic), Cl@ve PIN does not reach the substantial level of assurance this service requires. To get an advanced registration, visit a registration office or register online with your electronic certificate.',
    );
    expect(refused.text).not.toContain('SAMLResponse');
    expect(messagesTo(outbox, c.mobile)).toHaveLength(0);
  });

  test('unknown DNI, wrong validity date, deregistered, or locked with a wrong date: the same answer, and no SMS', async () => {
    const known = citizen();
    const gone = citizen();
    const locked = citizen();
    for (const c of [known, gone, locked]) await broker.services.citizens.create(c);
    await ds.getRepository(CitizenEntity).update({ dni: gone.dni }, { status: 'deregistered' });
    await ds.getRepository(CitizenEntity).update({ dni: locked.dni }, { status: 'locked' });
    const unknown = citizen();
    const answers: { status: number; alert?: string }[] = [];
    for (const [dni, date] of [
      [unknown.dni, unknown.dniValidityDate],
      [known.dni, '2030-06-16'],
      [gone.dni, gone.dniValidityDate],
      // A locked Permanente password does not block Cl@ve PIN (test/flow/enumeration.test.ts); a wrong date does.
      [locked.dni, '2030-06-16'],
    ] as const) {
      const agent = browser(broker);
      const { pinPath } = await pinPage(agent, broker);
      const res = await submit(agent, pinPath, { dni, validity_date: date });
      answers.push({ status: res.status, alert: alertText(res.text) });
    }
    expect(answers[0]).toEqual({ status: 401, alert: expect.stringContaining('no coinciden') as unknown });
    for (const a of answers) expect(a).toEqual(answers[0]);
    for (const c of [known, gone, locked, unknown]) expect(messagesTo(outbox, c.mobile)).toHaveLength(0);
  });

  test('input errors are explained: bad DNI check letter, impossible date', async () => {
    const agent = browser(broker);
    const { pinPath } = await pinPage(agent, broker);
    const badDni = await submit(agent, pinPath, { dni: '12345678A', validity_date: '2030-01-01' });
    expect(badDni.status).toBe(400);
    // In the page's language (the validator's English stays in the log), linked to its field.
    expect(alertText(badDni.text)).toBe('El DNI/NIE no es válido: la letra no corresponde al número.');
    expect(badDni.text).not.toContain('check letter');
    expect(badDni.text).toContain('<a href="#dni">');
    expect(badDni.text).toMatch(/<input id="dni" name="dni"[^>]*aria-describedby="dni-error"[^>]*aria-invalid="true"/);
    expect(badDni.text).toMatch(/<title>Error: Paso 1 de 2: sus datos — Cl@ve PIN · Pasarela<\/title>/);
    const badDate = await submit(agent, pinPath, { dni: '12345678Z', validity_date: '30/02/2030' });
    expect(badDate.status).toBe(400);
    expect(alertText(badDate.text)).toContain('día/mes/año');
    expect(badDate.text).toContain('value="30/02/2030"');
    expect(badDate.text).toMatch(/<input id="validity_date" name="validity_date"[^>]*aria-describedby="validity_date-hint validity_date-error"[^>]*aria-invalid="true"/);
    const empty = await submit(agent, pinPath, { dni: '', validity_date: '' });
    expect(alertText(empty.text)).toBe('Escriba su DNI o NIE. Escriba la fecha de validez de su DNI.');
  });

  test('refused PIN answers are in the audit trail: a wrong date and a wrong PIN for the citizen, an unknown DNI without one', async () => {
    const c = citizen();
    const created = await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { pinPath } = await pinPage(agent, broker);
    await submit(agent, pinPath, { dni: c.dni, validity_date: '01/01/2020' });
    const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    await postForm(agent, sent.text, { pin: lastCode(outbox, c.mobile) === '000000' ? '111111' : '000000' });
    const audit = new AuditLog(ds);
    const mine = (await audit.list({ citizenId: created.id, type: 'auth.login.failed' })).map((e) => [e.detail.method, e.detail.reason]);
    expect(mine.sort()).toEqual([['pin', 'no_match'], ['pin', 'wrong']]);
    const unknown = citizen();
    const other = browser(broker);
    const refused = await submit(other, (await pinPage(other, broker)).pinPath, { dni: unknown.dni, validity_date: '01/01/2030' });
    expect(refused.status).toBe(401);
    const anonymous = (await audit.list({ type: 'auth.login.failed', limit: 500 })).filter((e) => e.detail.who === maskDni(unknown.dni));
    expect(anonymous.map((e) => [e.citizenId, e.detail.method, e.detail.reason])).toEqual([[null, 'pin', 'no_match']]);
    expect(JSON.stringify(anonymous)).not.toContain(unknown.dni);
  });

  test('the validity date is typed as the hint says: dd/mm/aaaa (also d/m/aaaa) or aaaa-mm-dd', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const [y, m, d] = c.dniValidityDate.split('-');
    for (const typed of [`${d}/${m}/${y}`, `${Number(d)}/${Number(m)}/${y}`, `${d}-${m}-${y}`, c.dniValidityDate]) {
      const agent = browser(broker);
      const { pinPath } = await pinPage(agent, broker);
      const identify = await agent.get(pinPath);
      // A text field, not the browser's date picker (whose dd/mm/aaaa contradicted the old hint).
      expect(identify.text).toMatch(/<input id="validity_date" name="validity_date" inputmode="numeric"/);
      expect(identify.text).not.toContain('type="date"');
      const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: typed });
      expect(sent.status).toBe(200);
      expect(sent.text).toContain('Paso 2 de 2');
      expect(sent.text).toMatch(/Tiene hasta las \d{2}:\d{2} \(hora peninsular\) para escribir el PIN/);
    }
  });

  test('expiry by the injected clock: a PIN older than 10 minutes is refused; a new one works', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { sp, pinPath } = await pinPage(agent, broker);
    const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const old = lastCode(outbox, c.mobile);
    clock.advance(10 * 60_000 + 1000);
    const expired = await postForm(agent, sent.text, { pin: old });
    expect(expired.status).toBe(401);
    expect(alertText(expired.text)).toContain('caducado');
    expect(expired.text).not.toContain('SAMLResponse');
    const resent = await postForm(agent, expired.text, {}, 1);
    expect(resent.status).toBe(200);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(2);
    const fresh = lastCode(outbox, c.mobile);
    clock.reset();
    const done = await postForm(agent, resent.text, { pin: fresh });
    const out = posted(done.text);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState! });
    expect(profile![SELECTED_IDP]).toBe('PIN24H');
  });

  test('three wrong PINs invalidate it; the right one is refused after; a new one after 60 s works', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { pinPath } = await pinPage(agent, broker);
    let page = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const right = lastCode(outbox, c.mobile);
    const wrong = right === '000000' ? '999999' : '000000';
    page = await postForm(agent, page.text, { pin: wrong });
    expect(page.status).toBe(401);
    expect(alertText(page.text)).toBe('El PIN no es correcto. Le quedan 2 intentos.');
    page = await postForm(agent, page.text, { pin: wrong });
    expect(alertText(page.text)).toBe('El PIN no es correcto. Le quedan 1 intentos.');
    page = await postForm(agent, page.text, { pin: wrong });
    expect(alertText(page.text)).toContain('demasiadas veces');
    const refused = await postForm(agent, page.text, { pin: right });
    expect(refused.status).toBe(401);
    expect(refused.text).not.toContain('SAMLResponse');

    // Resend too early (the first PIN went out less than 60 s ago by the broker clock).
    const early = await postForm(agent, refused.text, {}, 1);
    expect(early.status).toBe(429);
    expect(alertText(early.text)).toMatch(/^Espere \d+ segundos/);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(1);

    clock.advance(61_000);
    const resent = await postForm(agent, early.text, {}, 1);
    expect(resent.status).toBe(200);
    const fresh = lastCode(outbox, c.mobile);
    clock.reset();
    expect(posted((await postForm(agent, resent.text, { pin: fresh })).text).xml).toContain(SUBSTANTIAL);
  });

  test('resend too early is refused and sends nothing', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const { pinPath } = await pinPage(agent, broker);
    const sent = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    expect(sent.text).toMatch(/<form method="post" action="\/login\/[^"]+\/pin\/resend">/);
    const early = await postForm(agent, sent.text, {}, 1);
    expect(early.status).toBe(429);
    expect(messagesTo(outbox, c.mobile)).toHaveLength(1);
    // The PIN already sent still works.
    expect(posted((await postForm(agent, early.text, { pin: lastCode(outbox, c.mobile) })).text).xml).toContain(SUBSTANTIAL);
  });

  test('a PIN is bound to its login: another transaction of the same citizen does not accept it', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = browser(broker);
    const first = await pinPage(agent, broker);
    await submit(agent, first.pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const codeOfFirst = lastCode(outbox, c.mobile);
    clock.advance(61_000);
    const second = await pinPage(agent, broker);
    const page2 = await submit(agent, second.pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const codeOfSecond = lastCode(outbox, c.mobile);
    clock.reset();
    if (codeOfFirst !== codeOfSecond) {
      const res = await postForm(agent, page2.text, { pin: codeOfFirst });
      expect(res.status).toBe(401);
    }
  });

  test('sends are rate-limited per phone: over the limit the page says so (429) and nothing is sent', async () => {
    const limited = await start({ notify: { outboxPath: outbox, rate: { perPhonePerHour: 2, perCitizenPerHour: 10 } } });
    const c = citizen();
    await limited.services.citizens.create(c);
    const agent = browser(limited);
    const { pinPath } = await pinPage(agent, limited);
    let page = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    clock.advance(61_000);
    page = await postForm(agent, page.text, {}, 1);
    expect(page.status).toBe(200);
    clock.advance(61_000);
    const over = await postForm(agent, page.text, {}, 1);
    expect(over.status).toBe(429);
    expect(alertText(over.text)).toContain('demasiados códigos');
    expect(messagesTo(outbox, c.mobile)).toHaveLength(2);
  });

  test('abuse limit: repeated failures for one DNI block it (429) without revealing whether it is registered', async () => {
    const strict = await start({ otp: { abuse: { maxFailuresPerCitizen: 3, maxFailuresPerAddress: 100 } } });
    const known = citizen();
    await strict.services.citizens.create(known);
    const unknown = citizen();
    const answers: { status: number; text?: string; retryAfter?: string }[] = [];
    for (const c of [known, unknown]) {
      const responses = [];
      for (let i = 0; i < 3; i++) {
        // A different address each time: the per-citizen counter is what stops this.
        const agent = browser(strict);
        const { pinPath } = await pinPage(agent, strict);
        responses.push(await submit(agent, pinPath, { dni: c.dni, validity_date: '2001-01-01' }));
      }
      expect(responses.map((r) => r.status)).toEqual([401, 401, 429]);
      const last = responses[2]!;
      answers.push({ status: last.status, text: /<p class="error" role="alert">([^<]*)<\/p>/.exec(last.text)?.[1], retryAfter: last.headers['retry-after'] });
    }
    expect(answers[0]).toEqual({ status: 429, text: expect.stringContaining('Demasiados intentos') as unknown, retryAfter: '900' });
    expect(answers[1]).toEqual(answers[0]);

    // Now even the right date is refused for that DNI, and no PIN is sent.
    const agent = browser(strict);
    const { pinPath } = await pinPage(agent, strict);
    const blocked = await submit(agent, pinPath, { dni: known.dni, validity_date: known.dniValidityDate });
    expect(blocked.status).toBe(429);
    expect(messagesTo(outbox, known.mobile)).toHaveLength(0);
  });

  test('abuse limit per client address: many DNIs from one address', async () => {
    const strict = await start({ otp: { abuse: { maxFailuresPerCitizen: 100, maxFailuresPerAddress: 3 } } });
    const agent = browser(strict);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const { pinPath } = await pinPage(agent, strict);
      statuses.push((await submit(agent, pinPath, { dni: citizen().dni, validity_date: '2001-01-01' })).status);
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
    // Another address is not affected.
    const c = citizen();
    await strict.services.citizens.create(c);
    const other = browser(strict);
    const { pinPath } = await pinPage(other, strict);
    expect((await submit(other, pinPath, { dni: c.dni, validity_date: c.dniValidityDate })).status).toBe(200);
  });

  test('wrong PINs count towards the abuse limit too', async () => {
    const strict = await start({ otp: { abuse: { maxFailuresPerCitizen: 2, maxFailuresPerAddress: 100 } } });
    const c = citizen();
    await strict.services.citizens.create(c);
    const agent = browser(strict);
    const { pinPath } = await pinPage(agent, strict);
    let page = await submit(agent, pinPath, { dni: c.dni, validity_date: c.dniValidityDate });
    const right = lastCode(outbox, c.mobile);
    const wrong = right === '000000' ? '999999' : '000000';
    page = await postForm(agent, page.text, { pin: wrong });
    expect(page.status).toBe(401);
    const blocked = await postForm(agent, page.text, { pin: wrong });
    expect(blocked.status).toBe(429);
    // Blocked before the PIN is even looked at: the right one is refused as well.
    const still = await postForm(agent, page.text, { pin: right });
    expect(still.status).toBe(429);
  });
});
