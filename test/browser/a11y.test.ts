import type { BrowserContext, Page } from 'playwright-core';
import { DEMO_CITIZEN } from '../../src/services';
import { lastCode } from '../pin/support';
import { axeViolations, type A11yFinding } from '../support/a11y';
import { liveBrowserSuite } from '../support/browser';

/**
 * axe-core (WCAG 2.0–2.2 A and AA rules) on every citizen page we can reach, in Spanish and in
 * English, at desktop width and at 320 px: the method chooser (with disabled methods), each
 * method's steps and their error states, the error pages, the auto-POST page, the information
 * pages and the demo SP.
 */
const live = liveBrowserSuite();

type Visit = (page: Page, base: string) => Promise<void>;

async function chooser(page: Page, base: string, loa: 'low' | 'substantial' | 'high'): Promise<void> {
  await page.goto(`${base}/demo`);
  await page.check(`#loa-${loa}`);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/login\/[^/]+$/);
}

const VISITS: Array<[string, Visit]> = [
  ['demo SP', async (p, b) => void (await p.goto(`${b}/demo`))],
  ['chooser (low)', (p, b) => chooser(p, b, 'low')],
  ['chooser (high: methods disabled, with reasons)', (p, b) => chooser(p, b, 'high')],
  [
    'Cl@ve PIN: identification, then an unmatched date',
    async (p, b) => {
      await chooser(p, b, 'low');
      await p.click('button[name=method][value=pin]');
      await p.fill('#dni', DEMO_CITIZEN.dni);
      await p.fill('#validity_date', '2001-01-01');
      await p.click('form[action$="/pin"] button[type=submit]');
      await p.waitForSelector('[role=alert]');
    },
  ],
  [
    'Cl@ve PIN: the PIN step, then a wrong PIN',
    async (p, b) => {
      await chooser(p, b, 'low');
      await p.click('button[name=method][value=pin]');
      await p.fill('#dni', DEMO_CITIZEN.dni);
      await p.fill('#validity_date', DEMO_CITIZEN.dniValidityDate);
      await p.click('form[action$="/pin"] button[type=submit]');
      await p.waitForSelector('#pin');
      const right = lastCode(live.broker.outboxPath, DEMO_CITIZEN.mobile);
      await p.fill('#pin', right === '000000' ? '111111' : '000000');
      await p.click('form[action$="/pin/verify"] button[type=submit]');
      await p.waitForSelector('[role=alert]');
    },
  ],
  [
    'Cl@ve Permanente: a wrong password',
    async (p, b) => {
      await chooser(p, b, 'low');
      await p.click('button[name=method][value=permanente]');
      await p.fill('#username', '00000000T');
      await p.fill('#password', 'Not-the-password-1');
      await p.click('form[action$="/permanente"] button[type=submit]');
      await p.waitForSelector('[role=alert]');
    },
  ],
  [
    'Cl@ve Permanente: the SMS code step (substantial)',
    async (p, b) => {
      await chooser(p, b, 'substantial');
      await p.click('button[name=method][value=permanente]');
      await p.fill('#username', DEMO_CITIZEN.dni);
      await p.fill('#password', DEMO_CITIZEN.password);
      await p.click('form[action$="/permanente"] button[type=submit]');
      await p.waitForSelector('#otp');
    },
  ],
  [
    'certificate: the step before the certificate host',
    async (p, b) => {
      await chooser(p, b, 'high');
      await p.click('button[name=method][value=certificate]');
      await p.waitForSelector('#certificate-continue');
    },
  ],
  [
    'the auto-POST page back to the service',
    async (p, b) => {
      // It submits itself: the ACS answers 204 here, so the browser stays on the page.
      await p.route('**/demo/acs', (route) => route.fulfill({ status: 204 }));
      await chooser(p, b, 'low');
      await p.click('button[name=method][value=permanente]');
      await p.fill('#username', DEMO_CITIZEN.dni);
      await p.fill('#password', DEMO_CITIZEN.password);
      await p.click('form[action$="/permanente"] button[type=submit]');
      await p.waitForSelector('#saml-post');
      await p.waitForLoadState('networkidle');
    },
  ],
  [
    'Cl@ve PIN: nothing typed (the error summary with two fields in error)',
    async (p, b) => {
      await chooser(p, b, 'low');
      await p.click('button[name=method][value=pin]');
      await p.click('form[action$="/pin"] button[type=submit]');
      await p.waitForSelector('.error-summary');
    },
  ],
  [
    'error: a stale form (CSRF), with its next step',
    async (p, b) => {
      await chooser(p, b, 'low');
      await p.evaluate(() => document.querySelectorAll<HTMLInputElement>('input[name=_csrf]').forEach((i) => (i.value = 'stale')));
      await p.click('button[name=method][value=pin]');
      await p.waitForSelector('.next-steps');
    },
  ],
  ...(['activate', 'password', 'recover', 'deregister', 'register'] as const).map(
    (name): [string, Visit] => [`account: ${name}, first step`, async (p, b) => void (await p.goto(`${b}/account/${name}`))],
  ),
  [
    'account: activation refused (error summary), then the language switch',
    async (p, b) => {
      await p.goto(`${b}/account/activate`);
      await p.fill('#dni', '00000000T');
      await p.fill('#activation_code', 'AAAA-BBBB-CCCC-DDDD');
      await p.click('form[action="/account/activate"] button[type=submit]');
      await p.waitForSelector('.error-summary');
    },
  ],
  [
    'account: recovery, the SMS code step',
    async (p, b) => {
      await p.goto(`${b}/account/recover`);
      await p.fill('#dni', DEMO_CITIZEN.dni);
      await p.fill('#validity_date', DEMO_CITIZEN.dniValidityDate.split('-').reverse().join('/'));
      await p.click('form[action="/account/recover"] button[type=submit]');
      await p.waitForSelector('#otp');
    },
  ],
  ['error: an unknown login', async (p, b) => void (await p.goto(`${b}/login/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`))],
  ['error: a malformed request', async (p, b) => void (await p.goto(`${b}/saml/sso?SAMLRequest=%%%`))],
  ['error: not found', async (p, b) => void (await p.goto(`${b}/no/such/page`))],
  ...(['about', 'terms', 'requirements', 'cookies', 'accessibility'] as const).map(
    (name): [string, Visit] => [`information: ${name}`, async (p, b) => void (await p.goto(`${b}/info/${name}`))],
  ),
];

const contexts: BrowserContext[] = [];
afterAll(async () => {
  for (const c of contexts) await c.close();
});

describe.each([
  ['es', 'es-ES'],
  ['en', 'en-GB'],
] as const)('WCAG 2.2 A/AA (axe-core), %s', (lang, locale) => {
  test.each(VISITS)('%s: no violations at 1280 px and at 320 px', async (_name, visit) => {
    const findings: Record<string, A11yFinding[]> = {};
    const context = await live.browser.newContext({ locale, bypassCSP: true, viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    await visit(page, live.broker.baseUrl);
    expect(await page.getAttribute('html', 'lang')).toBe(lang);
    findings['1280px'] = await axeViolations(page);
    // The same page reflowed to 320 CSS px (WCAG 1.4.10): no horizontal scrolling, nothing lost.
    await page.setViewportSize({ width: 320, height: 800 });
    findings['320px'] = await axeViolations(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect({ overflow, findings }).toEqual({ overflow: 0, findings: { '1280px': [], '320px': [] } });
    await context.close();
  }, 60_000);
});
