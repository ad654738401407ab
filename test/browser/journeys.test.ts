import type { Page } from 'playwright-core';
import { DEMO_CITIZEN } from '../../src/services';
import { lastCode } from '../pin/support';
import { liveBrowserSuite } from '../support/browser';

/**
 * Journeys a keyboard user and a browser without JavaScript make (issue 8): every step reached
 * with Tab and operated with the keyboard alone, and the whole way back to the service with
 * JavaScript off (one extra press on the auto-POST page, which says so).
 */
const live = liveBrowserSuite();

/** Press Tab until `selector` has the focus; fails if it is not reachable within `max` presses. */
async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`${selector} not reachable with Tab on ${page.url()}`);
}

const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');
const ddmmyyyy = (iso: string) => iso.split('-').reverse().join('/');

test('keyboard only: demo SP (substantial) -> chooser -> Cl@ve PIN, with a refused PIN on the way, -> back at the SP', async () => {
  const page = await live.browser.newPage({ locale: 'es-ES' });
  await page.goto(`${live.broker.baseUrl}/demo`);
  await tabTo(page, '#loa-low');
  await page.keyboard.press('ArrowDown'); // radio group: substantial
  expect(await page.isChecked('#loa-substantial')).toBe(true);
  await tabTo(page, 'form[action="/demo/login"] button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/login\/[^/]+$/);
  await tabTo(page, 'button[name=method][value=pin]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#dni');
  expect(await page.title()).toBe('Paso 1 de 2: sus datos — Cl@ve PIN · Pasarela');
  await tabTo(page, '#dni');
  await page.keyboard.type(DEMO_CITIZEN.dni);
  await tabTo(page, '#validity_date');
  await page.keyboard.type(ddmmyyyy(DEMO_CITIZEN.dniValidityDate)); // as the hint says: day/month/year
  await page.keyboard.press('Enter');
  await page.waitForSelector('#pin');
  expect(await page.title()).toBe('Paso 2 de 2: introduzca el PIN — Cl@ve PIN · Pasarela');
  const right = lastCode(live.broker.outboxPath, DEMO_CITIZEN.mobile);
  await tabTo(page, '#pin');
  await page.keyboard.type(right === '000000' ? '111111' : '000000');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.error-summary');
  expect(await page.title()).toMatch(/^Error: Paso 2 de 2/);
  // The summary's link takes the focus to the field in error.
  await tabTo(page, '.error-summary a[href="#pin"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'pin');
  expect(await page.getAttribute('#pin', 'aria-invalid')).toBe('true');
  await page.keyboard.type(right);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/demo\/acs$/);
  expect(await page.locator('#loa').textContent()).toBe('http://eidas.europa.eu/LoA/substantial');
  await page.close();
});

test('keyboard only: Cl@ve Permanente at low, and the language switch reached by Tab', async () => {
  const page = await live.browser.newPage({ locale: 'es-ES' });
  await page.goto(`${live.broker.baseUrl}/demo`);
  await tabTo(page, 'form[action="/demo/login"] button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/login\/[^/]+$/);
  await tabTo(page, 'button[name=method][value=permanente]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#username');
  await tabTo(page, 'a[hreflang=en]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('html[lang=en]');
  await tabTo(page, '#username');
  expect(await focusedId(page)).toBe('username');
  await page.keyboard.type(DEMO_CITIZEN.dni);
  await tabTo(page, '#password');
  await page.keyboard.type(DEMO_CITIZEN.password);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/demo\/acs$/);
  expect(await page.locator('#loa').textContent()).toBe('http://eidas.europa.eu/LoA/low');
  await page.close();
});

test('JavaScript off: Cl@ve PIN all the way; the auto-POST page says to press Continue, and its language switch works', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES', javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${live.broker.baseUrl}/demo`);
  await page.click('form[action="/demo/login"] button[type=submit]');
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.click('button[name=method][value=pin]');
  await page.fill('#dni', DEMO_CITIZEN.dni);
  await page.fill('#validity_date', ddmmyyyy(DEMO_CITIZEN.dniValidityDate));
  await page.click('form[action$="/pin"] button[type=submit]');
  await page.waitForSelector('#pin');
  await page.fill('#pin', lastCode(live.broker.outboxPath, DEMO_CITIZEN.mobile));
  await page.click('form[action$="/pin/verify"] button[type=submit]');
  await page.waitForSelector('#saml-post');
  expect(await page.locator('main').textContent()).toContain('pulse Continuar para volver al servicio');
  // The language switch of a page that answers a POST: the same response, in English.
  await page.click('button.lang-switch');
  await page.waitForSelector('html[lang=en]');
  expect(await page.locator('main').textContent()).toContain('press Continue to return to the service');
  await page.click('#saml-post button[type=submit]');
  await page.waitForURL(/\/demo\/acs$/);
  // Cl@ve PIN with the demo citizen's advanced registration reaches substantial (asked: low).
  expect(await page.locator('#loa').textContent()).toBe('http://eidas.europa.eu/LoA/substantial');
  await context.close();
});
