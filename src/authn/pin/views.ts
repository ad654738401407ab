import { html, raw, type Raw } from '../../web/html';
import { csrfField, layout, type PageContext } from '../../web/views';

export function messages(m: { error?: string; info?: string }): Raw {
  return html`${m.error ? html`<p class="error" role="alert" id="form-error">${m.error}</p>` : ''}
${m.info ? html`<p class="notice" role="status">${m.info}</p>` : ''}`;
}

function describedBy(ids: (string | false | undefined)[]): Raw {
  const list = ids.filter(Boolean).join(' ');
  return list ? raw(` aria-describedby="${list}"`) : raw('');
}

export interface PinIdentifyModel {
  txnId: string;
  dni?: string;
  validityDate?: string;
  error?: string;
  info?: string;
}

/** Cl@ve PIN, step 1: DNI/NIE and DNI validity date (form contract: `dni`, `validity_date`). */
export function pinIdentifyPage(ctx: PageContext, m: PinIdentifyModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('pin.title'),
    html`<h1>${t('pin.title')}</h1>
<p>${t('pin.intro')}</p>
${messages(m)}
<form method="post" action="/login/${m.txnId}/pin">
${csrfField(ctx)}
<p><label for="dni">${t('pin.dni')}</label>
<input id="dni" name="dni" autocomplete="username" required spellcheck="false" value="${m.dni ?? ''}"${describedBy([m.error && 'form-error'])}></p>
<p><label for="validity_date">${t('pin.validity_date')}</label>
<input id="validity_date" name="validity_date" type="date" required placeholder="AAAA-MM-DD" pattern="\\d{4}-\\d{2}-\\d{2}" value="${m.validityDate ?? ''}"${describedBy(['validity_date-hint', m.error && 'form-error'])}>
<span class="hint" id="validity_date-hint">${t('pin.validity_date.hint')}</span></p>
<p><button type="submit">${t('pin.request')}</button></p>
</form>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}

export interface PinCodeModel {
  txnId: string;
  resendSeconds: number;
  length: number;
  error?: string;
  info?: string;
}

/** Cl@ve PIN, step 2: the PIN (form contract: `pin`), and a resend button that works without JavaScript. */
export function pinCodePage(ctx: PageContext, m: PinCodeModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('pin.title'),
    html`<h1>${t('pin.title')}</h1>
${messages(m)}
<form method="post" action="/login/${m.txnId}/pin/verify">
${csrfField(ctx)}
<p><label for="pin">${t('pin.pin')}</label>
<input id="pin" name="pin" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{${m.length}}" maxlength="${m.length}" spellcheck="false"${describedBy([m.error && 'form-error'])}></p>
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
