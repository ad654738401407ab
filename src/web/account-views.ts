import { errorSummary, inputField, notice, stepCaption, stepTitle, type FormError, type Step } from './forms';
import { html, raw, type Raw } from './html';
import type { MessageKey } from './i18n';
import { csrfField, layout, type PageContext } from './views';

/** One input of an account step; names come from the form contract (DESIGN.md). */
export interface AccountField {
  name: 'dni' | 'activation_code' | 'current_password' | 'validity_date' | 'otp' | 'password' | 'password_confirm' | 'mobile' | 'email' | 'birth_date';
  label: MessageKey;
  value?: string;
  hint?: MessageKey;
  /** Not `required` (e-mail at registration). */
  optional?: boolean;
}

const INPUT: Record<AccountField['name'], string> = {
  dni: 'autocomplete="username" spellcheck="false"',
  activation_code: 'autocomplete="off" spellcheck="false" autocapitalize="characters" maxlength="24"',
  current_password: 'type="password" autocomplete="current-password"',
  validity_date: 'inputmode="numeric" autocomplete="off" spellcheck="false"',
  otp: 'inputmode="numeric" autocomplete="one-time-code" spellcheck="false" maxlength="10"',
  password: 'type="password" autocomplete="new-password"',
  password_confirm: 'type="password" autocomplete="new-password"',
  mobile: 'type="tel" autocomplete="tel" spellcheck="false"',
  email: 'type="email" autocomplete="email" spellcheck="false"',
  birth_date: 'inputmode="numeric" autocomplete="bday" spellcheck="false"',
};

export interface AccountStepModel {
  title: MessageKey;
  intro?: string;
  /** The page's own URL: every step posts back to it. */
  action: string;
  /** Server-side flow id (hidden field); absent on the first step. */
  flow?: string;
  fields: AccountField[];
  submit: MessageKey;
  error?: string;
  info?: string;
  /** Explain the password rules before the citizen types (days of validity). */
  policyDays?: number;
  /** Deregistration's last step: the explicit confirmation button. */
  confirm?: boolean;
  /** Links to the neighbouring services. */
  links?: Array<{ href: string; label: MessageKey }>;
  /** "Paso 2 de 3: ..." in the title and above the heading. */
  step?: Step;
  /** Where to post `method=certificate`: the service may be proven with a DNIe or certificate instead. */
  certificateOption?: string;
}

export function policyBlock(ctx: PageContext, days: number): Raw {
  const { t } = ctx;
  return html`<section class="policy" aria-labelledby="policy-title"><h2 id="policy-title">${t('account.policy.title')}</h2>
<ul id="policy-rules"><li>${t('account.policy.length')}</li><li>${t('account.policy.groups')}</li><li>${t('account.policy.personal')}</li><li>${t('account.policy.history', { days })}</li></ul></section>`;
}

/** A step of an account service: a plain form, works without JavaScript, a label per input. */
export function accountStepPage(ctx: PageContext, m: AccountStepModel): string {
  const { t } = ctx;
  const title = t(m.title);
  // A refused answer is about the first field of the step (the code, the password, ...).
  const errors: FormError[] = m.error ? [{ message: m.error, field: m.fields[0]?.name }] : [];
  const inputs = m.fields.map((f) => {
    const describesPolicy = f.name.startsWith('password') && m.policyDays;
    const attrs = raw(`${f.optional ? '' : ' required'} ${INPUT[f.name]}${describesPolicy ? ' aria-details="policy-rules"' : ''}`);
    const value = f.value !== undefined && !f.name.includes('password') ? f.value : undefined;
    return inputField(ctx, { id: f.name, label: t(f.label), attrs, value, hint: f.hint ? t(f.hint) : undefined, errors });
  });
  return layout(
    ctx,
    stepTitle(ctx, title, m.step, errors.length > 0),
    html`${errorSummary(ctx, errors)}
${m.step ? stepCaption(ctx, title, m.step) : ''}
<h1>${title}</h1>
${m.intro ? html`<p>${m.intro}</p>` : ''}
${notice(m.info)}
${m.policyDays ? policyBlock(ctx, m.policyDays) : ''}
<form method="post" action="${m.action}" novalidate>
${csrfField(ctx)}
${m.flow ? html`<input type="hidden" name="flow" value="${m.flow}">` : ''}
${inputs}
${m.confirm ? html`<p class="notice">${t('account.deregister.warning')}</p>
<p><button type="submit" name="confirm" value="yes">${t('account.deregister.confirm')}</button></p>` : html`<p><button type="submit">${t(m.submit)}</button></p>`}
</form>
${m.certificateOption ? html`<form method="post" action="${m.certificateOption}" class="alternative">
${csrfField(ctx)}
<input type="hidden" name="method" value="certificate">
<p>${t('account.certificate.or')}</p>
<p><button type="submit" class="secondary">${t('account.certificate.use')}</button></p>
</form>` : ''}
${m.links?.length ? html`<ul class="links">${m.links.map((l) => html`<li><a href="${l.href}">${t(l.label)}</a></li>`)}</ul>` : ''}`,
  );
}

/** The end of a service: what happened, and where to go next. */
export function accountDonePage(ctx: PageContext, title: MessageKey, message: string, links: Array<{ href: string; label: MessageKey }> = []): string {
  const { t } = ctx;
  return layout(
    ctx,
    t(title),
    html`<h1>${t(title)}</h1>
<p class="notice" role="status">${message}</p>
${links.length ? html`<ul class="links">${links.map((l) => html`<li><a href="${l.href}">${t(l.label)}</a></li>`)}</ul>` : ''}`,
  );
}
