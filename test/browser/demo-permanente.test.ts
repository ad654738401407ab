import path from 'node:path';
import { DEMO_CITIZEN } from '../../src/services';
import { ARTIFACTS, liveBrowserSuite } from '../support/browser';

const live = liveBrowserSuite();

test('a real browser: demo SP -> chooser -> Cl@ve Permanente -> back at the demo SP with the attributes', async () => {
  const page = await live.browser.newPage({ locale: 'en-GB' });
  await page.goto(`${live.broker.baseUrl}/demo`);
  await page.check('#loa-low');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login\//);
  expect(await page.locator('h1').textContent()).toBe('Choose how to identify yourself');
  await page.click('button[name=method][value=permanente]');
  await page.fill('#username', DEMO_CITIZEN.dni);
  await page.fill('#password', DEMO_CITIZEN.password);
  await page.click('form button[type=submit]');
  await page.waitForURL(/\/demo\/acs$/);
  expect(await page.locator('#loa').textContent()).toBe('http://eidas.europa.eu/LoA/low');
  const table = await page.locator('#attributes').textContent();
  expect(table).toContain('ES/ES/12345678Z');
  expect(table).toContain('SEGSOC');
  await page.screenshot({ path: path.join(ARTIFACTS, 'demo-permanente.png'), fullPage: true });
});
