import { errorSummary, inputField, parseDate, stepTitle } from '../../src/web/forms';
import { translator } from '../../src/web/i18n';
import type { PageContext } from '../../src/web/views';

const ctx = (lang: 'es' | 'en'): PageContext => ({ lang, t: translator(lang), path: '/x' });

describe('parseDate: what people type as a date', () => {
  test.each([
    ['01/01/2031', '2031-01-01'],
    ['1/1/2031', '2031-01-01'],
    ['15-06-2030', '2030-06-15'],
    ['15.06.2030', '2030-06-15'],
    [' 2030-06-15 ', '2030-06-15'],
    ['29/02/2028', '2028-02-29'],
  ])('%s -> %s', (typed, iso) => expect(parseDate(typed)).toBe(iso));
  test.each(['30/02/2030', '29/02/2030', '31/04/2030', '2030-13-01', '00/01/2030', '01/01/30', '2030/01/01', 'mañana', '', '01/01/2030x'])(
    '%s is not a date',
    (typed) => expect(parseDate(typed)).toBeNull(),
  );
});

describe('form building blocks', () => {
  test('a field in error: message between label and input, aria-invalid, described by hint and error', () => {
    const out = inputField(ctx('es'), { id: 'dni', label: 'DNI/NIE', hint: 'Ocho cifras y una letra', errors: [{ field: 'dni', message: 'Escriba su DNI o NIE.' }] }).value;
    expect(out).toMatch(/<label for="dni">DNI\/NIE<\/label>\n<span class="hint" id="dni-hint">[^<]+<\/span>\n<p class="error-message" id="dni-error"><span class="visually-hidden">Error: <\/span>Escriba su DNI o NIE\.<\/p>\n<input id="dni" name="dni" aria-describedby="dni-hint dni-error" aria-invalid="true">/);
    const ok = inputField(ctx('es'), { id: 'dni', label: 'DNI/NIE', errors: [{ field: 'other', message: 'x' }] }).value;
    expect(ok).not.toContain('aria-invalid');
    expect(ok).not.toContain('aria-describedby');
  });

  test('the error summary links each message to its field and is announced', () => {
    const out = errorSummary(ctx('en'), [{ field: 'pin', message: 'The PIN is not correct.' }, { message: 'Form-level <b>text</b>' }]).value;
    expect(out).toContain('role="alert"');
    expect(out).toContain('<h2 id="error-summary-title">There is a problem</h2>');
    expect(out).toContain('<li><a href="#pin">The PIN is not correct.</a></li>');
    expect(out).toContain('<li>Form-level &lt;b&gt;text&lt;/b&gt;</li>');
    expect(errorSummary(ctx('en'), []).value).toBe('');
  });

  test('titles name the step and say when the last answer was refused', () => {
    expect(stepTitle(ctx('es'), 'Cl@ve PIN', { n: 2, of: 3, name: 'introduzca el PIN' }, false)).toBe('Paso 2 de 3: introduzca el PIN — Cl@ve PIN');
    expect(stepTitle(ctx('en'), 'Cl@ve PIN', { n: 1, of: 2, name: 'your details' }, true)).toBe('Error: Step 1 of 2: your details — Cl@ve PIN');
  });
});
