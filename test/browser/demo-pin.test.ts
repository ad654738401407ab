import path from 'node:path';
import { DEMO_CITIZEN } from '../../src/services';
import { lastCode } from '../pin/support';
import { ARTIFACTS, liveBrowserSuite } from '../support/browser';

const live = liveBrowserSuite();

test('a real browser: demo SP (substantial) -> chooser -> Cl@ve PIN -> back at the demo SP with the attributes', async () => {
  const page = await live.browser.newPage({ locale: 'es-ES' });
  await page.goto(`${live.broker.baseUrl}/demo`);
  await page.check('#loa-substantial');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login\/[^/]+$/);
  expect(await page.locator('h1').textContent()).toBe('Elija cómo identificarse');
  // Permanente without the SMS code cannot reach substantial for everyone, but the method stays offered (advanced registrations).
  await page.click('button[name=method][value=pin]');
  await page.fill('#dni', DEMO_CITIZEN.dni);
  await page.fill('#validity_date', DEMO_CITIZEN.dniValidityDate);
  await page.click('form[action$="/pin"] button[type=submit]');
  await page.waitForSelector('#pin');
  const pin = lastCode(live.broker.outboxPath, DEMO_CITIZEN.mobile);
  expect(pin).toMatch(/^\d{6}$/);
  await page.fill('#pin', pin);
  await page.click('form[action$="/pin/verify"] button[type=submit]');
  await page.waitForURL(/\/demo\/acs$/);
  expect(await page.locator('#loa').textContent()).toBe('http://eidas.europa.eu/LoA/substantial');
  const table = await page.locator('#attributes').textContent();
  expect(table).toContain('ES/ES/12345678Z');
  expect(table).toContain('PIN24H');
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-pin.png'), fullPage: true });
});
