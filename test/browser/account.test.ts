import path from 'node:path';
import type { Registration } from '../../src/citizens/lifecycle';
import { dniSequence } from '../support/citizens';
import { axeViolations } from '../support/a11y';
import { ARTIFACTS, liveBrowserSuite } from '../support/browser';
import { lastCode } from '../pin/support';

const live = liveBrowserSuite();
const PASSWORD = 'Navegador-Clave-42';
const RECOVERED = 'Recuperada-Clave-43';

const nextDni = dniSequence(46_000_000);
function registration(): Registration {
  const { dni, mobile } = nextDni();
  return { dni, givenName: 'Elena', firstSurname: 'Navarro', dateOfBirth: '1984-04-04', mobile, channel: 'office', dniValidityDate: '2032-12-12' };
}

test('a real browser without JavaScript: activation (DNI + code -> SMS code -> password), then the login through the demo SP', async () => {
  const r = registration();
  const { code } = await live.broker.services.lifecycle.register(r);
  const context = await live.browser.newContext({ locale: 'es-ES', javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${live.broker.baseUrl}/account/activate`);
  expect(await page.locator('h1').textContent()).toBe('Activar Cl@ve Permanente');
  expect(await page.locator('#policy-rules').textContent()).toContain('Al menos 8 caracteres.');
  await page.fill('#dni', r.dni);
  await page.fill('#activation_code', code!);
  await page.click('form button[type=submit]');
  await page.fill('#otp', lastCode(live.broker.outboxPath, r.mobile));
  await page.click('form button[type=submit]');
  await page.fill('#password', 'corta');
  await page.fill('#password_confirm', 'corta');
  await page.click('form button[type=submit]');
  expect(await page.locator('[role=alert]').textContent()).toContain('tiene menos de 8 caracteres');
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-password-rejected.png'), fullPage: true });
  await page.fill('#password', PASSWORD);
  await page.fill('#password_confirm', PASSWORD);
  await page.click('form button[type=submit]');
  expect(await page.locator('[role=status]').textContent()).toContain('Su Cl@ve Permanente está activada');
  await page.screenshot({ path: path.join(ARTIFACTS, 'account-activated.png'), fullPage: true });
  await context.close();

  const login = await live.browser.newPage({ locale: 'en-GB' });
  await login.goto(`${live.broker.baseUrl}/demo`);
  await login.check('#loa-low');
  await login.click('button[type=submit]');
  await login.click('button[name=method][value=permanente]');
  await login.fill('#username', r.dni);
  await login.fill('#password', PASSWORD);
  await login.click('form button[type=submit]');
  await login.waitForURL(/\/demo\/acs$/);
  expect(await login.locator('#attributes').textContent()).toContain(`ES/ES/${r.dni}`);
  await login.close();
});

test('a real browser: a locked password recovered (DNI + validity date -> SMS code -> new password), in English', async () => {
  const r = registration();
  const { code, citizen } = await live.broker.services.lifecycle.register(r);
  const checked = await live.broker.services.lifecycle.checkActivationCode(r.dni, code!);
  if (!checked.ok) throw new Error('code refused');
  await live.broker.services.lifecycle.activate(citizen.id, checked.codeId, PASSWORD, PASSWORD);
  for (let i = 0; i < 5; i++) await live.broker.services.citizens.verifyPassword(r.dni, 'Wrong-Password-1');
  expect((await live.broker.services.citizens.findByDni(r.dni))!.status).toBe('locked');

  const page = await live.browser.newPage({ locale: 'en-GB' });
  await page.goto(`${live.broker.baseUrl}/account/recover`);
  expect(await page.locator('h1').textContent()).toBe('Recover your password');
  await page.fill('#dni', r.dni);
  await page.fill('#validity_date', r.dniValidityDate!);
  await page.click('form button[type=submit]');
  await page.fill('#otp', lastCode(live.broker.outboxPath, r.mobile));
  await page.click('form button[type=submit]');
  await page.fill('#password', RECOVERED);
  await page.fill('#password_confirm', RECOVERED);
  await page.click('form button[type=submit]');
  expect(await page.locator('[role=status]').textContent()).toBe('Your new password is saved and your account unlocked.');
  await page.close();
  expect((await live.broker.services.citizens.verifyPassword(r.dni, RECOVERED)).ok).toBe(true);
});

test('the account pages pass axe-core (WCAG 2.2 A/AA): first steps and the password step with an error', async () => {
  const context = await live.browser.newContext({ locale: 'es-ES', bypassCSP: true });
  const page = await context.newPage();
  for (const p of ['/account/activate', '/account/password', '/account/recover', '/account/deregister', '/account/register']) {
    await page.goto(`${live.broker.baseUrl}${p}`);
    expect({ page: p, violations: await axeViolations(page) }).toEqual({ page: p, violations: [] });
  }
  await page.goto(`${live.broker.baseUrl}/account/activate`);
  await page.fill('#dni', '00000000T');
  await page.fill('#activation_code', 'AAAA-BBBB-CCCC-DDDD');
  await page.click('form button[type=submit]');
  // The error summary links to the field; the title says which step and that it was refused.
  expect(await page.locator('.error-summary a[href="#dni"]').textContent()).toBe('El DNI/NIE o el código de activación no son correctos.');
  expect(await page.title()).toBe('Error: Paso 1 de 3: identifíquese — Activar Cl@ve Permanente · Pasarela');
  expect(await page.locator('#dni').getAttribute('aria-invalid')).toBe('true');
  expect(await axeViolations(page)).toEqual([]);
  await context.close();
});
