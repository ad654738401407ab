import { html, raw, type Raw } from '../../web/html';
import { errorSummary, inputField, codeAttrs, notice, stepCaption, stepTitle, type FormError, type Step } from '../../web/forms';
import { csrfField, layout, type PageContext } from '../../web/views';

/** A single form-level message as the pages before the error summary showed it (kept for the Permanente pages). */
export function messages(m: { error?: string; info?: string }): Raw {
  return html`${m.error ? html`<p class="error" role="alert" id="form-error">${m.error}</p>` : ''}
${m.info ? html`<p class="notice" role="status">${m.info}</p>` : ''}`;
}

export interface PinIdentifyModel {
  txnId: string;
  dni?: string;
  /** As the citizen typed it (shown again as typed). */
  validityDate?: string;
  errors?: FormError[];
  info?: string;
}

const PIN_STEPS = 2;

function identifyStep(ctx: PageContext): Step {
  return { n: 1, of: PIN_STEPS, name: ctx.t('pin.step.identify') };
}

/**
 * Cl@ve PIN, step 1: DNI/NIE and DNI validity date (form contract: `dni`, `validity_date`). The
 * date is a text field that takes day/month/year as printed on the DNI (or ISO), as its hint says:
 * a browser date picker shows its own format, which contradicted the hint.
 */
export function pinIdentifyPage(ctx: PageContext, m: PinIdentifyModel): string {
  const { t } = ctx;
  const errors = m.errors ?? [];
  const step = identifyStep(ctx);
  return layout(
    ctx,
    stepTitle(ctx, t('pin.title'), step, errors.length > 0),
    html`${errorSummary(ctx, errors)}
${stepCaption(ctx, t('pin.title'), step)}
<h1>${t('pin.step.identify.heading')}</h1>
<p>${t('pin.intro')}</p>
${notice(m.info)}
<form method="post" action="/login/${m.txnId}/pin" novalidate>
${csrfField(ctx)}
${inputField(ctx, { id: 'dni', label: t('pin.dni'), value: m.dni ?? '', errors, attrs: raw(' autocomplete="username" required spellcheck="false"') })}
${inputField(ctx, { id: 'validity_date', label: t('pin.validity_date'), value: m.validityDate ?? '', hint: t('pin.validity_date.hint'), errors, attrs: raw(' inputmode="numeric" autocomplete="off" required spellcheck="false"') })}
<p><button type="submit">${t('pin.request')}</button></p>
</form>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}

export interface PinCodeModel {
  txnId: string;
  resendSeconds: number;
  length: number;
  errors?: FormError[];
  info?: string;
  /** "You have until 14:52 ...; need more time? ask for a new PIN" (WCAG 2.2.1). */
  timer?: string;
}

/** Cl@ve PIN, step 2: the PIN (form contract: `pin`), and a resend button that works without JavaScript. */
export function pinCodePage(ctx: PageContext, m: PinCodeModel): string {
  const { t } = ctx;
  const errors = m.errors ?? [];
  const step: Step = { n: 2, of: PIN_STEPS, name: t('pin.step.code') };
  return layout(
    ctx,
    stepTitle(ctx, t('pin.title'), step, errors.length > 0),
    html`${errorSummary(ctx, errors)}
${stepCaption(ctx, t('pin.title'), step)}
<h1>${t('pin.step.code.heading')}</h1>
${notice(m.info)}
${m.timer ? html`<p class="timer">${m.timer}</p>` : ''}
<form method="post" action="/login/${m.txnId}/pin/verify" novalidate>
${csrfField(ctx)}
${inputField(ctx, { id: 'pin', label: t('pin.pin'), errors, attrs: codeAttrs(m.length) })}
<p><button type="submit">${t('pin.submit')}</button></p>
</form>
<form method="post" action="/login/${m.txnId}/pin/resend">
${csrfField(ctx)}
<p><span class="hint" id="resend-hint">${t('pin.resend.hint', { seconds: m.resendSeconds })}</span></p>
<p><button type="submit" class="secondary" aria-describedby="resend-hint">${t('pin.resend')}</button></p>
</form>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}
