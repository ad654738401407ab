import type { MethodOption } from '../broker/policy';
import type { PostBack } from '../broker/broker';
import type { LoaLevel } from '../saml/constants';
import { html, raw, type Raw } from './html';
import type { Lang, MessageKey, Translate } from './i18n';
import { INFO_PAGES, INFO_TEXT } from './info-text';
import { errorSummary, inputField, notice, stepCaption, stepTitle, type FormError, type Step } from './forms';

export interface PageContext {
  lang: Lang;
  t: Translate;
  /** Path of the current page, for the language switch links. */
  path: string;
  csrfToken?: string;
  /** CSP nonce for the one inline script we use (auto-submit). */
  nonce?: string;
  /**
   * Where the language switch leads when `path` cannot be fetched again with GET (a page that
   * answers a POST): the same step's GET address, or the signed address of the same error page.
   */
  switchPath?: string;
  /** Replaces the language link when no GET address can show this page again (the auto-POST page). */
  switchControl?: Raw;
}

/** The language switch link: the same page (or `switchPath`) in the other language. */
export function languageHref(ctx: PageContext): string {
  const other: Lang = ctx.lang === 'es' ? 'en' : 'es';
  const url = new URL(ctx.switchPath ?? ctx.path, 'http://local');
  url.searchParams.set('lang', other);
  return url.pathname + url.search;
}

export function layout(ctx: PageContext, title: string, body: Raw): string {
  const other: Lang = ctx.lang === 'es' ? 'en' : 'es';
  // The link is built only when no control replaces it (the auto-POST page has its own button).
  const switchHref = ctx.switchControl ? '' : languageHref(ctx);
  return html`<!doctype html>
<html lang="${ctx.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Pasarela</title>
<link rel="stylesheet" href="/static/pasarela.css">
</head>
<body>
<a class="skip" href="#main">${ctx.t('app.skip')}</a>
<header><span class="brand">Pasarela</span>
<nav aria-label="Idioma / Language">${ctx.switchControl ?? html`<a href="${switchHref}" hreflang="${other}" lang="${other}">${other === 'es' ? 'Español' : 'English'}</a>`}</nav>
</header>
<main id="main">
${body}
</main>
${infoFooter(ctx.lang)}
</body>
</html>
`.value;
}

const footers = new Map<Lang, Raw>();

/** The footer every page carries: links to the information pages, in the page's language (the same for every page: built once per language). */
export function infoFooter(lang: Lang): Raw {
  let footer = footers.get(lang);
  if (footer === undefined) footers.set(lang, (footer = buildInfoFooter(lang)));
  return footer;
}

function buildInfoFooter(lang: Lang): Raw {
  const t = INFO_TEXT[lang];
  return html`<footer><nav aria-label="${t.footer}"><ul class="footer-links">${INFO_PAGES.map(
    (p) => html`<li><a href="/info/${p}?lang=${lang}">${t[p].title}</a></li>`,
  )}</ul></nav></footer>`;
}


/** The hidden `_csrf` field every citizen form carries (form contract). */
export function csrfField(ctx: PageContext): Raw {
  return ctx.csrfToken ? html`<input type="hidden" name="_csrf" value="${ctx.csrfToken}">` : raw('');
}

function loaName(t: Translate, level: LoaLevel | string): string {
  return level === 'low' || level === 'substantial' || level === 'high' ? t(`loa.${level}`) : level;
}

export interface ChooserModel {
  txnId: string;
  spName: string;
  requestedLevel: string;
  options: MethodOption[];
  /** Set when an SSO session exists at a lower LoA (step-up). */
  currentLevel?: LoaLevel;
}

export function chooserPage(ctx: PageContext, m: ChooserModel): string {
  const { t } = ctx;
  const loa = loaName(t, m.requestedLevel);
  const items = m.options.map((o) => {
    const name = t(`method.${o.method}` as MessageKey);
    const desc = t(`method.${o.method}.desc` as MessageKey);
    const reasonId = `reason-${o.method}`;
    const reason = o.reason ? t(`reason.${o.reason}` as MessageKey, { loa }) : undefined;
    const hint = o.enabled && !o.registrations.includes('basic') && !o.registrations.includes('none') ? t('hint.advanced_only') : undefined;
    return html`<li class="method${o.enabled ? '' : ' disabled'}">
<button type="submit" name="method" value="${o.method}"${o.enabled ? '' : raw(` disabled aria-describedby="${reasonId}"`)}>${name}</button>
<span class="desc">${desc}</span>
${reason ? html`<span class="reason" id="${reasonId}">${reason}</span>` : ''}
${hint ? html`<span class="hint">${hint}</span>` : ''}
</li>`;
  });
  return layout(
    ctx,
    t('chooser.title'),
    html`<h1>${t('chooser.title')}</h1>
<p>${t('chooser.intro', { sp: m.spName, loa })}</p>
${m.currentLevel ? html`<p class="notice">${t('chooser.stepup', { current: loaName(t, m.currentLevel), loa })}</p>` : ''}
<form method="post" action="/login/${m.txnId}">
${csrfField(ctx)}
<ul class="methods">${items}</ul>
</form>
<form method="post" action="/login/${m.txnId}/cancel" class="cancel">
${csrfField(ctx)}
<button type="submit" class="secondary">${t('chooser.cancel')}</button>
</form>`,
  );
}

export interface PermanenteModel {
  txnId: string;
  username?: string;
  error?: string;
  /** The field the error is about (linked from the error summary); `null` for a page-level message. Default: the DNI/NIE. */
  errorField?: string | null;
  info?: string;
  /** 1 when the password alone can reach what the service asks for, 2 when an SMS code follows. */
  steps?: number;
}

/**
 * The account services a citizen at the password page may need (issue 7). The same links on
 * every answer, so they say nothing about whether a DNI/NIE is registered.
 */
export function permanenteServiceLinks(ctx: PageContext): Raw {
  return html`<ul class="links"><li><a href="/account/recover">${ctx.t('account.links.forgot')}</a></li><li><a href="/account/activate">${ctx.t('account.links.activate')}</a></li></ul>`;
}

export function permanentePage(ctx: PageContext, m: PermanenteModel): string {
  const { t } = ctx;
  const errors: FormError[] = m.error ? [{ message: m.error, field: m.errorField === null ? undefined : (m.errorField ?? 'username') }] : [];
  const step: Step | undefined = m.steps && m.steps > 1 ? { n: 1, of: m.steps, name: t('permanente.step.password') } : undefined;
  return layout(
    ctx,
    stepTitle(ctx, t('permanente.title'), step, errors.length > 0),
    html`${errorSummary(ctx, errors)}
${stepCaption(ctx, t('permanente.title'), step)}
<h1>${t('permanente.heading')}</h1>
${notice(m.info)}
<form method="post" action="/login/${m.txnId}/permanente" novalidate>
${csrfField(ctx)}
${inputField(ctx, { id: 'username', label: t('permanente.username'), value: m.username ?? '', errors, attrs: raw(' autocomplete="username" required spellcheck="false"') })}
${inputField(ctx, { id: 'password', label: t('permanente.password'), errors, attrs: raw(' type="password" autocomplete="current-password" required') })}
<p><button type="submit">${t('permanente.submit')}</button></p>
</form>
${permanenteServiceLinks(ctx)}
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}

/**
 * The auto-POST to the SP's ACS: submits itself with the nonce'd script, and by a button without
 * JavaScript. No GET address can show it again (the response is in the form), so its language
 * switch is a second submit button of the same form (`form`/`formaction`) that posts the same
 * fields back to us, with the ACS and our MAC over the post (`mac`) in its address, to be shown
 * again. One copy of the SAMLResponse in the page, not two: it is most of the page's bytes.
 */
export function autoPostPage(ctx: PageContext, post: PostBack, mac?: string): string {
  const { t } = ctx;
  const other: Lang = ctx.lang === 'es' ? 'en' : 'es';
  const again = mac ? `/post/lang?lang=${other}&acs=${encodeURIComponent(post.acs)}&mac=${encodeURIComponent(mac)}` : undefined;
  const switchControl = again
    ? html`<button type="submit" form="saml-post" formaction="${again}" class="link lang-switch" lang="${other}">${other === 'es' ? 'Español' : 'English'}</button>`
    : undefined;
  return layout(
    { ...ctx, switchControl },
    t('post.title'),
    html`<h1>${t('post.title')}</h1>
<p>${t('post.explain')}</p>
<form method="post" action="${post.acs}" id="saml-post">
<input type="hidden" name="SAMLResponse" value="${post.samlResponse}">
${post.relayState !== undefined ? html`<input type="hidden" name="RelayState" value="${post.relayState}">` : ''}
<noscript><p>${t('post.noscript')}</p></noscript>
<button type="submit">${t('post.continue')}</button>
</form>
<script nonce="${ctx.nonce ?? ''}">document.getElementById('saml-post').submit();</script>`,
  );
}

/**
 * What the citizen can do from an error page. Every error page offers at least one, so that
 * nobody is stranded: back to the chooser while the login lives, back to the service (an
 * AuthnFailed response) when it does not, or the account services and information pages.
 */
export type NextStep =
  | { kind: 'chooser'; txnId: string }
  | { kind: 'return'; txnId: string }
  | { kind: 'link'; href: string; label: string };

export interface ErrorModel {
  message: string;
  referenceId: string;
  /** Technical detail for the SP's developers (English, as in the log): shown collapsed. */
  detail?: string;
  next: NextStep[];
}

export function nextStepsBlock(ctx: PageContext, next: NextStep[]): Raw {
  const { t } = ctx;
  const items = next.map((n) => {
    if (n.kind === 'chooser') return html`<li><a href="/login/${n.txnId}">${t('back')}</a></li>`;
    if (n.kind === 'link') return html`<li><a href="${n.href}">${n.label}</a></li>`;
    return html`<li><form method="post" action="/login/${n.txnId}/cancel">${csrfField(ctx)}<button type="submit" class="secondary">${t('error.return')}</button></form></li>`;
  });
  return html`<h2>${t('error.next')}</h2><ul class="next-steps">${items}</ul>`;
}

export function errorPage(ctx: PageContext, m: ErrorModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('error.title'),
    html`<h1>${t('error.title')}</h1>
<p class="error" role="alert">${m.message}</p>
${nextStepsBlock(ctx, m.next)}
${m.detail ? html`<details class="developer"><summary>${t('error.developer')}</summary><p class="detail" lang="en">${m.detail}</p></details>` : ''}
<p class="reference">${t('error.reference', { id: m.referenceId })}</p>`,
  );
}

/**
 * A backing service is down (503): the message, the reference, and, when the SP and its ACS are
 * already known, a form (no auto-submit) that takes the signed Responder error back to it.
 */
export function unavailablePage(ctx: PageContext, referenceId: string, post?: PostBack): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('error.title'),
    html`<h1>${t('error.title')}</h1>
<p class="error" role="alert">${t('error.unavailable')}</p>
${
  post
    ? html`<form method="post" action="${post.acs}">
<input type="hidden" name="SAMLResponse" value="${post.samlResponse}">
${post.relayState !== undefined ? html`<input type="hidden" name="RelayState" value="${post.relayState}">` : ''}
<p>${t('error.unavailable.return')}</p>
<button type="submit">${t('error.unavailable.button')}</button>
</form>`
    : nextStepsBlock(ctx, [{ kind: 'link', href: ctx.switchPath ?? ctx.path, label: t('error.unavailable.retry') }])
}
<p class="reference">${t('error.reference', { id: referenceId })}</p>`,
  );
}

export const STYLESHEET = `
:root{--fg:#1b1b1b;--muted:#555;--accent:#8a1538;--bg:#fff;--line:#ccc}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;justify-content:space-between;align-items:center;padding:.75rem 1.25rem;border-bottom:3px solid var(--accent)}
.brand{font-weight:700;color:var(--accent)}main{max-width:40rem;margin:1.5rem auto;padding:0 1.25rem}
.skip{position:absolute;left:-9999px}.skip:focus{left:1rem;top:1rem}
ul.methods{list-style:none;padding:0}li.method{border:1px solid var(--line);border-radius:6px;padding:.75rem;margin:.5rem 0;display:grid;gap:.25rem}
li.method.disabled{background:#f7f7f7}button{font:inherit;padding:.5rem 1rem;border-radius:4px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-align:left}
button[disabled]{background:#eee;color:var(--muted);border-color:var(--line);cursor:not-allowed}button.secondary{background:#fff;color:var(--accent)}
.desc,.hint{color:var(--muted)}.reason{color:#6b3100}.error{color:#a00;font-weight:600}.notice{background:#f3f0e6;padding:.5rem}
label{display:block;font-weight:600}input{font:inherit;padding:.4rem;width:100%;max-width:22rem}
:focus-visible{outline:3px solid #0b0c0c;outline-offset:2px;box-shadow:0 0 0 6px #ffdd00}
a{color:#1a4f9c}a.button{display:inline-block;padding:.5rem 1rem;border-radius:4px;background:var(--accent);color:#fff;text-decoration:none;font-weight:600}
.reference,.detail{overflow-wrap:anywhere}
footer{max-width:40rem;margin:2rem auto 1rem;padding:1rem 1.25rem 0;border-top:1px solid var(--line);font-size:.9rem}
ul.footer-links{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.25rem 1.25rem}
.table-scroll{overflow-x:auto;max-width:100%}table.levels{border-collapse:collapse;width:100%}table.levels th,table.levels td{border:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
table.levels caption{text-align:left;font-weight:600;padding:.25rem 0}
.caption{color:var(--muted);margin:0}.caption .step{font-weight:600}h1{margin-top:.25rem}
.visually-hidden{position:absolute!important;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);border:0;white-space:nowrap}
.error-summary{border:4px solid #a00;padding:.75rem 1rem;margin:0 0 1.25rem}.error-summary h2{margin:0 0 .5rem;font-size:1.15rem}.error-summary ul{margin:0;padding-left:1.25rem}.error-summary a{color:#a00;font-weight:600}
.field{margin:0 0 1rem}.field-error{border-left:4px solid #a00;padding-left:.75rem}.field-error input{border:2px solid #a00}.error-message{color:#a00;font-weight:600;margin:.25rem 0}
.hint{display:block}.timer{border-left:4px solid var(--line);padding-left:.75rem}
ul.next-steps{padding-left:1.25rem}ul.next-steps form{display:inline}
details.developer{margin:1rem 0;border:1px solid var(--line);padding:.5rem}details.developer summary{cursor:pointer;font-weight:600}
button.link{background:none;border:none;color:#1a4f9c;text-decoration:underline;padding:0;font:inherit;cursor:pointer}
`;
