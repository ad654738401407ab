import request from 'supertest';
import { storagePairs, type StoragePair } from '../support/pairs';
import { startBroker, type BrokerUnderTest } from '../support/harness';

/** The information pages the seeds describe, linked from every page's footer, in both languages. */
describe('information pages', () => {
  let pair: StoragePair;
  let broker: BrokerUnderTest;
  beforeAll(async () => {
    pair = storagePairs()[0]!;
    broker = await startBroker({
      store: await pair.makeStore(),
      ds: await pair.makeDataSource(),
      // An operator's own policy: the about page must say what this deployment does.
      overrides: { loaPolicy: { 'pin.sms': { basic: 'low', advanced: 'high' } } },
    });
  });
  afterAll(() => pair.cleanup());

  test.each(['about', 'terms', 'requirements', 'cookies', 'accessibility'])('/info/%s in Spanish and English, footer links to all five', async (page) => {
    const es = await request(broker.app).get(`/info/${page}?lang=es`).expect(200);
    const en = await request(broker.app).get(`/info/${page}?lang=en`).expect(200);
    expect(es.text).toMatch(/<html lang="es">/);
    expect(en.text).toMatch(/<html lang="en">/);
    expect(es.text).not.toBe(en.text);
    for (const p of ['about', 'terms', 'requirements', 'cookies', 'accessibility']) {
      expect(es.text).toContain(`href="/info/${p}?lang=es"`);
      expect(en.text).toContain(`href="/info/${p}?lang=en"`);
    }
  });

  test('the cookies page names every cookie the broker sets', async () => {
    const text = (await request(broker.app).get('/info/cookies?lang=en')).text;
    for (const c of ['pasarela_bid', 'pasarela_csrf', '__Host-pasarela.csrf', 'pasarela_sso', 'pasarela_lang']) expect(text).toContain(c);
    expect(text).toContain(broker.config.session.cookieName);
  });

  test('the about page shows the configured LoA policy, not a fixed table', async () => {
    const text = (await request(broker.app).get('/info/about?lang=en')).text;
    expect(text).toMatch(/<th scope="row">Cl@ve PIN \(one-time PIN by SMS\)<\/th><td>low<\/td><td>high<\/td><td>not available<\/td>/);
  });

  test('every other page carries the footer too; unknown info pages are 404', async () => {
    expect((await request(broker.app).get('/login/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).text).toContain('href="/info/accessibility?lang=');
    expect((await request(broker.app).get('/info/nothing')).status).toBe(404);
  });
});
