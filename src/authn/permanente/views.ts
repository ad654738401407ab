import { html } from '../../web/html';
import { csrfField, layout, type PageContext } from '../../web/views';
import { messages } from '../pin/views';

export interface OtpModel {
  txnId: string;
  length: number;
  error?: string;
  info?: string;
}

/** Cl@ve Permanente, second step when the service needs more than the password: the SMS code (`otp`). */
export function permanenteOtpPage(ctx: PageContext, m: OtpModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('otp.title'),
    html`<h1>${t('otp.title')}</h1>
${messages(m)}
<form method="post" action="/login/${m.txnId}/permanente/otp">
${csrfField(ctx)}
<p><label for="otp">${t('otp.label')}</label>
<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{${m.length}}" maxlength="${m.length}" spellcheck="false"${m.error ? html` aria-describedby="form-error"` : ''}></p>
<p><button type="submit">${t('otp.submit')}</button></p>
</form>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}
