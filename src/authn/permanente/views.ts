import { html } from '../../web/html';
import { codeAttrs, errorSummary, inputField, notice, stepCaption, stepTitle, type FormError, type Step } from '../../web/forms';
import { csrfField, layout, type PageContext } from '../../web/views';

export interface OtpModel {
  txnId: string;
  length: number;
  error?: string;
  info?: string;
  /** "You have until 14:52 ...; need more time? ..." (WCAG 2.2.1). */
  timer?: string;
}

/**
 * Cl@ve Permanente, second step when the service needs more than the password: the SMS code
 * (`otp`). A new code comes with the password again, so "more time" is a button back to it.
 */
export function permanenteOtpPage(ctx: PageContext, m: OtpModel): string {
  const { t } = ctx;
  const errors: FormError[] = m.error ? [{ message: m.error, field: 'otp' }] : [];
  const step: Step = { n: 2, of: 2, name: t('otp.step') };
  return layout(
    ctx,
    stepTitle(ctx, t('permanente.title'), step, errors.length > 0),
    html`${errorSummary(ctx, errors)}
${stepCaption(ctx, t('permanente.title'), step)}
<h1>${t('otp.title')}</h1>
${notice(m.info)}
${m.timer ? html`<p class="timer">${m.timer}</p>` : ''}
<form method="post" action="/login/${m.txnId}/permanente/otp" novalidate>
${csrfField(ctx)}
${inputField(ctx, { id: 'otp', label: t('otp.label'), errors, attrs: codeAttrs(m.length) })}
<p><button type="submit">${t('otp.submit')}</button></p>
</form>
<form method="post" action="/login/${m.txnId}/permanente/restart">
${csrfField(ctx)}
<p><button type="submit" class="secondary">${t('otp.restart')}</button></p>
</form>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}
