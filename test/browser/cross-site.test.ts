import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BROWSER_COOKIE } from '../../src/web/context';
import { spMetadata, SP_ACS, SP_ENTITY, testSpSigner } from '../support/harness';
import { postRequest } from '../support/sp-requests';
import { liveBrowserSuite } from '../support/browser';

/**
 * An SP's HTTP-POST binding is a cross-site POST to /saml/sso, on which the browser withholds
 * the broker's SameSite=Lax cookies, among them the browser id that CSRF tokens and login flows
 * are bound to. Answering it with a new browser id replaced the one the browser had, so a login
 * open in another tab failed at its next step. Here the SP's page is on another site for real
 * (localhost, the broker on 127.0.0.1) and Chromium applies its own SameSite rules.
 */
const live = liveBrowserSuite();
let sp: Server;
let spBase: string;

beforeAll(async () => {
  await live.broker.services.trust.upsert(spMetadata(null), {}, 'test');
  // The SP's page auto-posts a fresh signed AuthnRequest, as a Cl@ve 2 SP does.
  sp = createServer((_req, res) => {
    const form = postRequest({ issuer: SP_ENTITY, destination: `${live.broker.baseUrl}/saml/sso`, acsUrl: SP_ACS, loa: 'http://eidas.europa.eu/LoA/low', signer: testSpSigner(), relayState: 'cross-site' });
    const fields = Object.entries(form)
      .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>SP</title><form method="post" action="${live.broker.baseUrl}/saml/sso">${fields}<button>Go</button></form><script>document.forms[0].submit()</script>`);
  });
  await new Promise<void>((resolve) => sp.listen(0, '127.0.0.1', resolve));
  spBase = `http://localhost:${(sp.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => sp?.close(resolve));
});

test('a login open in one tab goes on after an SP in another tab posts an AuthnRequest (the browser id is not replaced)', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES' });
  const browserId = async () => (await context.cookies(live.broker.baseUrl)).find((c) => c.name === BROWSER_COOKIE)?.value;
  const first = await context.newPage();
  await first.goto(`${live.broker.baseUrl}/demo`);
  await first.click('form[action="/demo/login"] button[type=submit]');
  await first.waitForURL(/\/login\/[^/]+$/);
  const before = await browserId();
  expect(before).toMatch(/^[A-Za-z0-9_-]{22,64}$/);

  // Another tab: an SP on another site posts its AuthnRequest; the broker shows that login's chooser.
  const second = await context.newPage();
  await second.goto(spBase);
  await second.waitForURL(new RegExp(`^${live.broker.baseUrl.replace(/\./g, '\\.')}/login/[^/]+$`));
  expect(await second.locator('button[name=method][value=permanente]').count()).toBe(1);
  expect(await browserId()).toBe(before);

  // The first tab's chooser (its CSRF token bound to that browser id) still works.
  await first.click('button[name=method][value=permanente]');
  await first.waitForURL(/\/login\/[^/]+\/permanente$/);
  expect(await first.locator('#username').count()).toBe(1);
  await context.close();
});

test('a browser that has never been here, arriving by an SP\'s cross-site POST, gets its browser id on the chooser and goes on', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES' });
  const page = await context.newPage();
  await page.goto(spBase);
  await page.waitForURL(new RegExp(`^${live.broker.baseUrl.replace(/\./g, '\\.')}/login/[^/]+$`));
  // The POST's answer could not set it (it might have replaced one); the redirected GET did.
  expect((await context.cookies(live.broker.baseUrl)).find((c) => c.name === BROWSER_COOKIE)?.value).toMatch(/^[A-Za-z0-9_-]{22,64}$/);
  await page.click('button[name=method][value=permanente]');
  await page.waitForURL(/\/login\/[^/]+\/permanente$/);
  expect(await page.locator('#username').count()).toBe(1);
  await context.close();
});
