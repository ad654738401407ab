import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { buildServices, DEMO_CITIZEN, type Services } from '../../src/services';
import { MemoryStore } from '../../src/store/memory';
import { formAction, formFields, local, loginWithPassword } from '../support/harness';
import { lastCode, pickMethod, postForm, submit } from '../pin/support';

/** The quickstart path: embedded defaults, demo SP and seeded citizen, as `npm start` builds them. */
let services: Services;
let app: ReturnType<typeof createApp>;

let outbox: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-demo-'));
  outbox = path.join(dir, 'outbox.jsonl');
  const config = loadConfig({
    root: path.resolve(__dirname, '../..'),
    env: {},
    overrides: {
      port: 8080,
      keys: { dir: path.join(dir, 'certs'), generateIfMissing: true },
      secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
      database: { sqlitePath: path.join(dir, 'pasarela.sqlite') },
      notify: { outboxPath: outbox },
      log: { level: 'silent' },
    },
  });
  expect(config.demo).toEqual({ enabled: true, seedCitizen: true });
  services = await buildServices(config, pino({ level: 'silent' }), { store: new MemoryStore() });
  app = createApp(services);
});

afterAll(async () => {
  await services.close();
});

test('the demo SP logs the seeded citizen in and shows the attributes and the achieved LoA', async () => {
  const agent = request.agent(app);
  const home = await agent.get('/demo').expect(200);
  expect(home.text).toContain('name="loa" value="substantial"');
  const toBroker = await agent.get('/demo/login?loa=low').expect(302);
  const start = await agent.get(local(toBroker.headers.location!)).expect(303);
  const done = await loginWithPassword(agent, start.headers.location!, DEMO_CITIZEN.dni, DEMO_CITIZEN.password);
  expect(done.status).toBe(200);
  const acs = formAction(done.text, 'saml-post')!;
  expect(acs).toBe('http://localhost:8080/demo/acs');
  const page = await agent.post(local(acs)).type('form').send(formFields(done.text)).expect(200);
  expect(page.text).toContain('<strong id="loa">http://eidas.europa.eu/LoA/low</strong>');
  expect(page.text).toContain('ES/ES/12345678Z');
  expect(page.text).toContain('García López');
  expect(page.text).toContain('SEGSOC');
});

test('the demo citizen reaches substantial with Cl@ve PIN from the demo SP (PIN read from the outbox)', async () => {
  const agent = request.agent(app);
  const toBroker = await agent.get('/demo/login?loa=substantial').expect(302);
  const start = await agent.get(local(toBroker.headers.location!)).expect(303);
  const pinPath = await pickMethod(agent, start.headers.location!, 'pin');
  const codePage = await submit(agent, pinPath, { dni: DEMO_CITIZEN.dni, validity_date: DEMO_CITIZEN.dniValidityDate });
  expect(codePage.status).toBe(200);
  const done = await postForm(agent, codePage.text, { pin: lastCode(outbox, DEMO_CITIZEN.mobile) });
  const acs = formAction(done.text, 'saml-post')!;
  expect(acs).toBe('http://localhost:8080/demo/acs');
  const page = await agent.post(local(acs)).type('form').send(formFields(done.text)).expect(200);
  expect(page.text).toContain('<strong id="loa">http://eidas.europa.eu/LoA/substantial</strong>');
  expect(page.text).toContain('ES/ES/12345678Z');
  expect(page.text).toContain('PIN24H');
});

test('high from the demo offers only the certificate method; PIN and Permanente are disabled with the reason', async () => {
  const agent = request.agent(app);
  const toBroker = await agent.get('/demo/login?loa=high').expect(302);
  const start = await agent.get(local(toBroker.headers.location!)).expect(303);
  const chooser = await agent.get(`${start.headers.location!}?lang=en`).expect(200);
  expect(chooser.text).toMatch(/<button type="submit" name="method" value="certificate">/);
  for (const m of ['pin', 'permanente']) {
    expect(chooser.text).toMatch(new RegExp(`<button type="submit" name="method" value="${m}" disabled aria-describedby="reason-${m}">`));
  }
  expect(chooser.text).toContain('does not reach the high level of assurance');
});
