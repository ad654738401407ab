import type { DataSource } from 'typeorm';
import { dniSequence } from '../support/citizens';
import type { NewCitizen } from '../../src/citizens/types';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { formAction, formFields, nodeSamlSp, sendRedirectRequest, SP_ACS, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { alertText, browserFromOwnAddress, lastCode, pickMethod, postForm, posted, submit, tempOutbox, testClock } from '../pin/support';

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

const nextDni = dniSequence(41_000_000);
function citizen(): NewCitizen & { dniValidityDate: string } {
  const { dni, mobile } = nextDni();
  return {
    dni,
    givenName: 'Luz',
    firstSurname: 'Ortega',
    dateOfBirth: '1975-03-04',
    mobile,
    registrationLevel: 'advanced',
    dniValidityDate: '2031-01-01',
  } as NewCitizen & { dniValidityDate: string };
}

/** The href of the header's language link. */
function languageLink(html: string): string {
  const href = /<nav aria-label="Idioma \/ Language"><a href="([^"]+)"/.exec(html)?.[1];
  if (!href) throw new Error(`no language link:\n${html.slice(0, 600)}`);
  return href.replace(/&amp;/g, '&');
}

describeEachPair('error pages and language switching (issue 8)', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const clock = testClock();
  const outbox = tempOutbox();

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({ store, ds, now: clock.now, overrides: { trustProxy: true, notify: { outboxPath: outbox } } });
  });
  afterEach(() => clock.reset());

  const agentFor = (): Agent => browserFromOwnAddress(broker, '203.0');
  async function pinPath(agent: Agent) {
    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const s = await sendRedirectRequest(agent, sp);
    expect(s.status).toBe(303);
    return { sp, chooser: s.headers.location!, pin: await pickMethod(agent, s.headers.location!, 'pin') };
  }

  test('after a POST (a wrong PIN) the language link shows the same step in English, never a 404', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = agentFor();
    const { pin } = await pinPath(agent);
    const sent = await submit(agent, pin, { dni: c.dni, validity_date: '01/01/2031' });
    const wrong = await postForm(agent, sent.text, { pin: '000000' });
    expect(wrong.status).toBe(401);
    const href = languageLink(wrong.text);
    expect(href).toBe(`${pin}?lang=en`);
    const english = await agent.get(href);
    expect(english.status).toBe(200);
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('Enter the PIN we sent you');
    expect(english.text).toContain('<title>Step 2 of 2: enter the PIN — Cl@ve PIN · Pasarela</title>');
  });

  test('an error page answering a POST switches language through a signed address; a forged one is refused', async () => {
    const agent = agentFor();
    const { chooser } = await pinPath(agent);
    // A stale form: the CSRF token no longer matches.
    const stale = await agent.post(chooser).type('form').send({ _csrf: 'x'.repeat(40), method: 'pin' });
    expect(stale.status).toBe(403);
    expect(alertText(stale.text)).toContain('El formulario ha caducado');
    expect(stale.text).toContain(`<a href="${chooser}">Volver a elegir método</a>`);
    const href = languageLink(stale.text);
    expect(href).toMatch(/^\/error\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\?lang=en$/);
    const english = await agent.get(href);
    expect(english.status).toBe(403);
    expect(english.text).toContain('<html lang="en">');
    expect(alertText(english.text)).toContain('The form has expired');
    expect(english.text).toContain(`<a href="${chooser}">Back to the methods</a>`);
    // The reference id is the one of the original error (it is what the log holds).
    const ref = (html: string) => /Referen[a-z ]+: ([0-9a-f-]{36})|reference: ([0-9a-f-]{36})/i.exec(html)?.slice(1).find(Boolean);
    expect(ref(english.text)).toBe(ref(stale.text));
    // Tampering with the signed address: the message cannot be chosen by whoever writes the link.
    const [, payload, mac] = /^\/error\/([^.]+)\.([^?]+)/.exec(href)!;
    const forged = Buffer.from(JSON.stringify({ s: 403, k: 'error.internal', r: 'x', t: Date.now() })).toString('base64url');
    expect((await agent.get(`/error/${forged}.${mac}`)).status).toBe(404);
    expect((await agent.get(`/error/${payload}.${mac!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`)).status).toBe(404);
  });

  test('an expired login offers "return to the service": an AuthnFailed response to the ACS, not a dead end', async () => {
    const agent = agentFor();
    const { sp, pin } = await pinPath(agent);
    clock.advance(broker.config.saml.transactionTtlSeconds * 1000 + 1000);
    const gone = await agent.get(pin);
    expect(gone.status).toBe(410);
    expect(alertText(gone.text)).toContain('El tiempo para identificarse ha terminado');
    expect(formAction(gone.text)).toBe(`${pin.replace(/\/pin$/, '')}/cancel`);
    const back = await postForm(agent, gone.text, {});
    const out = posted(back.text);
    expect(out.action).toBe(SP_ACS);
    expect(out.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:AuthnFailed');
    expect(out.xml).toContain('The login expired before the citizen completed it');
    await expect(sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: out.relayState ?? '' })).rejects.toThrow(/AuthnFailed|Responder/);
    // Answered once: the second try is the plain "already completed" page with the information link.
    const again = await agent.get(pin);
    expect(again.status).toBe(410);
    expect(again.text).toContain('<a href="/info/about">');
    expect(again.text).not.toContain('/cancel');
  });

  test('a request nobody followed up (no method picked) leaves at the pending TTL, with no grace: the flood bound stays', async () => {
    const agent = agentFor();
    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const chooser = (await sendRedirectRequest(agent, sp)).headers.location!;
    clock.advance(broker.config.saml.pendingTransactionTtlSeconds * 1000 + 1000);
    const gone = await agent.get(chooser);
    expect(gone.status).toBe(410);
    expect(gone.text).not.toContain('/cancel');
    expect(gone.text).toContain('<a href="/info/about">');
  });

  test('past the grace period the page still gives a next step (the information page)', async () => {
    const agent = agentFor();
    const { pin } = await pinPath(agent);
    clock.advance((broker.config.saml.transactionTtlSeconds + broker.config.saml.expiredTransactionGraceSeconds) * 1000 + 1000);
    const gone = await agent.get(pin);
    expect(gone.status).toBe(410);
    expect(alertText(gone.text)).toContain('ya se completó o caducó');
    expect(gone.text).toContain('<a href="/info/about">Cómo identificarse con Pasarela</a>');
  });

  test('too many attempts: back to the chooser (another method) or to the service', async () => {
    const agent = agentFor();
    const { pin, chooser } = await pinPath(agent);
    let page = await submit(agent, pin, { dni: '12345678Z', validity_date: '01/01/2030' });
    for (let i = 0; i < 30 && page.status !== 429; i++) page = await postForm(agent, page.text, { dni: '12345678Z', validity_date: '01/01/2030' });
    expect(page.status).toBe(429);
    expect(page.text).toContain(`<a href="${chooser}">Volver a elegir método</a>`);
    expect(page.text).toContain(`action="${chooser}/cancel"`);
  });

  test('the auto-POST page switches language by posting the same signed response back; a changed one is refused', async () => {
    const c = citizen();
    await broker.services.citizens.create(c);
    const agent = agentFor();
    const { pin } = await pinPath(agent);
    const sent = await submit(agent, pin, { dni: c.dni, validity_date: c.dniValidityDate });
    const done = await postForm(agent, sent.text, { pin: lastCode(outbox, c.mobile) });
    const out = posted(done.text);
    // One copy of the response in the page: the switch is a second submit button of the same form.
    expect(done.text.split(out.samlResponse).length - 1).toBe(1);
    const button = /<button type="submit" form="saml-post" formaction="([^"]+)" class="link lang-switch" lang="en">English<\/button>/.exec(done.text);
    expect(button).not.toBeNull();
    const again = button![1]!.replace(/&amp;/g, '&');
    const url = new URL(again, 'http://x');
    expect(url.pathname).toBe('/post/lang');
    expect(url.searchParams.get('acs')).toBe(SP_ACS);
    const fields = formFields(/<form method="post" action="[^"]+" id="saml-post">([\s\S]*?)<\/form>/.exec(done.text)![1]!);
    expect(fields.SAMLResponse).toBe(out.samlResponse);
    const english = await agent.post(again).type('form').send(fields);
    expect(english.status).toBe(200);
    expect(english.text).toContain('<html lang="en">');
    expect(english.text).toContain('Returning to the service');
    expect(posted(english.text).samlResponse).toBe(out.samlResponse);
    const mac = url.searchParams.get('mac')!;
    const to = (acs: string, m = mac) => `/post/lang?lang=en&acs=${encodeURIComponent(acs)}&mac=${encodeURIComponent(m)}`;
    // The MAC is what lets it through: the same post without it, or with another one, is refused.
    expect((await agent.post(to(SP_ACS, '')).type('form').send(fields)).status).toBe(404);
    expect((await agent.post(to(SP_ACS, mac.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).type('form').send(fields)).status).toBe(404);
    // Not an open POST redirector: another ACS, or another response, breaks the signature.
    expect((await agent.post(to('https://evil.example/acs')).type('form').send(fields)).status).toBe(404);
    expect((await agent.post(to(SP_ACS)).type('form').send({ ...fields, SAMLResponse: Buffer.from('<x/>').toString('base64') })).status).toBe(404);
    expect((await agent.post(to(SP_ACS)).type('form').send({ ...fields, RelayState: 'other' })).status).toBe(404);
  });

  test('Cl@ve Permanente: a refused password is summarised and linked to its field; the code step has a timer and a way to more time', async () => {
    const password = 'Una-Clave-Larga-2026';
    const c = { ...citizen(), password };
    await broker.services.citizens.create(c);
    const agent = agentFor();
    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const s = await sendRedirectRequest(agent, sp);
    const perm = await pickMethod(agent, s.headers.location!, 'permanente');
    const first = await agent.get(perm);
    // Substantial: the password, then an SMS code.
    expect(first.text).toContain('<title>Paso 1 de 2: DNI/NIE y contraseña — Cl@ve Permanente · Pasarela</title>');
    const wrong = await postForm(agent, first.text, { username: c.dni, password: 'not-it-at-all' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toMatch(/<title>Error: Paso 1 de 2/);
    expect(wrong.text).toContain('<a href="#username">');
    expect(wrong.text).toMatch(/<input id="username" name="username"[^>]*aria-invalid="true"/);
    const code = await postForm(agent, wrong.text, { username: c.dni, password });
    expect(code.status).toBe(200);
    expect(code.text).toContain('<title>Paso 2 de 2: código por SMS — Cl@ve Permanente · Pasarela</title>');
    expect(code.text).toMatch(/Tiene hasta las \d{2}:\d{2} \(hora peninsular\) para escribir el código/);
    expect(code.text).toMatch(/<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code"/);
    // "More time": back to the password step, which sends a new code.
    const restart = await postForm(agent, code.text, {}, 1);
    expect(restart.status).toBe(303);
    expect(restart.headers.location).toBe(perm);
    const again = await agent.get(perm);
    expect(again.text).toContain('id="password"');
    clock.advance(61_000); // codes are at least 60 s apart
    const second = await postForm(agent, again.text, { username: c.dni, password });
    expect(second.text).toContain('id="otp"');
    const done = await postForm(agent, second.text, { otp: lastCode(outbox, c.mobile) });
    expect(posted(done.text).action).toBe(SP_ACS);
  });

  test('an invalid request: the citizen reads the catalogue text; the technical reason sits in the developers block', async () => {
    const agent = agentFor();
    const res = await agent.get('/saml/sso?SAMLRequest=not-deflate');
    expect(res.status).toBe(400);
    expect(alertText(res.text)).toContain('La petición de identificación que ha enviado el servicio no es válida');
    expect(res.text).toMatch(/<details class="developer"><summary>Detalles para los desarrolladores del servicio<\/summary><p class="detail" lang="en">[^<]+<\/p><\/details>/);
    expect(res.text).toContain('<a href="/info/about">');
  });
});
