import path from 'node:path';
import { ARTIFACTS, liveBrowserSuite } from '../support/browser';

/** The development PKI as `npm start` makes it: a real browser presents the demo .p12 to the certificate host. */
const live = liveBrowserSuite();

test.each([
  ['dnie', 'high', 'http://eidas.europa.eu/LoA/high'],
  ['qualified', 'substantial', 'http://eidas.europa.eu/LoA/substantial'],
] as const)('a real browser logs in with the development %s certificate at %s from the demo SP', async (kind, loa, expected) => {
  const devPki = live.broker.services.devPki!;
  expect(devPki).toBeDefined();
  const context = await live.browser.newContext({
    locale: 'en-GB',
    // The development certificate host has a self-signed TLS certificate.
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin: live.broker.certificateHost!.url.replace('127.0.0.1', 'localhost'), pfxPath: devPki.p12[kind], passphrase: devPki.p12Password }],
  });
  const page = await context.newPage();
  await page.goto(`${live.broker.baseUrl}/demo`);
  await page.check(`#loa-${loa}`);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.click('button[name=method][value=certificate]');
  await page.waitForURL(/\/certificate$/);
  await page.click('a[href*="/certificate/tls"]');
  await page.waitForURL(/\/demo\/acs$/);
  expect(await page.locator('#loa').textContent()).toBe(expected);
  const table = await page.locator('#attributes').textContent();
  expect(table).toContain('ES/ES/12345678Z');
  expect(table).toContain('AFIRMA');
  await page.screenshot({ path: path.join(ARTIFACTS, `demo-certificate-${kind}.png`), fullPage: true });
  await context.close();
});
