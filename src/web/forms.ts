import { html, raw, type Raw } from './html';
import type { PageContext } from './views';

/**
 * Form building blocks shared by every citizen page (the GOV.UK Design System patterns that
 * WCAG 2.2 AA asks for): a step indicator and per-step `<title>`, an error summary at the top
 * linking to the field in error, and fields that carry `aria-invalid` and `aria-describedby`.
 */

/** A message for the citizen; `field` names the input it is about (its id), if any. */
export interface FormError {
  message: string;
  field?: string;
}

/** Where the citizen is in a method: "Paso 2 de 3". */
export interface Step {
  n: number;
  of: number;
  /** What this step asks for ("introduzca el PIN"), as a phrase that follows "Paso n de m:". */
  name: string;
}

/**
 * The page `<title>`: "Error: Paso 2 de 2: introduzca el PIN — Cl@ve PIN". Screen-reader users
 * hear the title first, so it says which step and whether the last answer was refused.
 */
export function stepTitle(ctx: PageContext, method: string, step: Step | undefined, error: boolean): string {
  const prefix = error ? `${ctx.t('form.error_prefix')} ` : '';
  if (!step) return `${prefix}${method}`;
  return `${prefix}${ctx.t('form.step', { n: step.n, of: step.of })}: ${step.name} — ${method}`;
}

/** The visible caption above the heading: method name and step. */
export function stepCaption(ctx: PageContext, method: string, step: Step | undefined): Raw {
  return html`<p class="caption">${method}${step ? html`<span class="step"> · ${ctx.t('form.step', { n: step.n, of: step.of })}</span>` : ''}</p>`;
}

/**
 * The error summary (GOV.UK pattern): first thing in `main`, announced as an alert, each
 * message a link that moves focus to its field. Messages without a field are listed as text.
 */
export function errorSummary(ctx: PageContext, errors: FormError[]): Raw {
  if (errors.length === 0) return raw('');
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
<h2 id="error-summary-title">${ctx.t('form.error_summary')}</h2>
<ul>${errors.map((e) => html`<li>${e.field ? html`<a href="#${e.field}">${e.message}</a>` : e.message}</li>`)}</ul>
</div>`;
}

/** Notices that are not errors (a code was sent, ...): a polite status region. */
export function notice(message: string | undefined): Raw {
  return message ? html`<p class="notice" role="status">${message}</p>` : raw('');
}

export interface FieldSpec {
  id: string;
  label: string;
  /** The rest of the input's attributes (type, autocomplete, ...), already escaped. */
  attrs?: Raw;
  value?: string;
  hint?: string;
  errors?: FormError[];
}

/**
 * One labelled input: hint and error message linked with `aria-describedby`, `aria-invalid`
 * when in error. The error text sits between label and input, where a screen reader reads it.
 */
export function inputField(ctx: PageContext, f: FieldSpec): Raw {
  const error = f.errors?.find((e) => e.field === f.id);
  const hintId = f.hint ? `${f.id}-hint` : undefined;
  const errorId = error ? `${f.id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(' ');
  return html`<div class="field${error ? ' field-error' : ''}">
<label for="${f.id}">${f.label}</label>
${f.hint ? html`<span class="hint" id="${hintId}">${f.hint}</span>` : ''}
${error ? html`<p class="error-message" id="${errorId}"><span class="visually-hidden">${ctx.t('form.error_prefix')} </span>${error.message}</p>` : ''}
<input id="${f.id}" name="${f.id}"${f.attrs ?? raw('')}${f.value !== undefined ? html` value="${f.value}"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${error ? raw(' aria-invalid="true"') : ''}>
</div>`;
}

/** Why a DNI/NIE was refused, in the page's language (the validator's `reason` is English, for logs). */
export function dniReason(ctx: Pick<PageContext, 't'>, code: 'empty' | 'format' | 'check_letter'): string {
  return ctx.t(code === 'check_letter' ? 'dni.check_letter' : 'dni.format');
}

/** A one-time code field: digits, `autocomplete="one-time-code"`, pasting allowed (WCAG 2.2 3.3.8). */
export function codeAttrs(length: number): Raw {
  return html` inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{${length}}" maxlength="${length}" spellcheck="false"`;
}

/**
 * A date as people type it: `dd/mm/aaaa` (what Spanish documents print, also with `-` or `.`
 * and one-digit day or month) or `aaaa-mm-dd`. Returns the ISO date, or null if it is not a
 * real calendar date.
 */
export function parseDate(input: string): string | null {
  const s = input.trim();
  let y: string, m: string, d: string;
  let match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (match) [, y, m, d] = match as unknown as [string, string, string, string];
  else {
    match = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
    if (!match) return null;
    [, d, m, y] = match as unknown as [string, string, string, string];
  }
  const iso = `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(iso) ? iso : null;
}

const CLOCKS = {
  es: new Intl.DateTimeFormat('es-ES', { timeZone: 'Europe/Madrid', hour: '2-digit', minute: '2-digit' }),
  en: new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Madrid', hour: '2-digit', minute: '2-digit' }),
};

/** Time of day in Spain (peninsular time), for "valid until 14:52". */
export function clock(lang: PageContext['lang'], at: Date): string {
  return CLOCKS[lang].format(at);
}
