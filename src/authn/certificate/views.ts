import { html } from '../../web/html';
import { layout, type PageContext } from '../../web/views';

export interface CertificateStartModel {
  txnId: string;
  /** The certificate host URL that asks the browser for the certificate. */
  hostHref: string;
  /** Set when only the DNIe reaches the requested LoA (the requested level's name). */
  onlyDnieFor?: string;
}

/** The main-host page: what happens next, and the link to the certificate host. */
export function certificateStartPage(ctx: PageContext, m: CertificateStartModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('certificate.title'),
    html`<h1>${t('certificate.title')}</h1>
<p>${t('certificate.intro')}</p>
<p>${t('certificate.choose_auth')}</p>
<p>${t('certificate.levels')}</p>
${m.onlyDnieFor ? html`<p class="notice">${t('certificate.only_dnie', { loa: m.onlyDnieFor })}</p>` : ''}
<p><a class="button" href="${m.hostHref}" id="certificate-continue">${t('certificate.continue')}</a></p>
<p class="hint" id="certificate-tls-help">${t('certificate.tls_failed_help')}</p>
<p><a href="/login/${m.txnId}">${t('back')}</a></p>`,
  );
}

export interface CertificateProblemModel {
  /** The explanation for the citizen. */
  message: string;
  /** What exactly the check said (English, technical), shown below the explanation. */
  detail?: string;
  /** Back to the method chooser on the main host; absent when the login is gone. */
  chooserHref?: string;
  /** Start the certificate step again. */
  retryHref?: string;
  referenceId: string;
}

/** A certificate that could not be used, on either host: what was wrong and where to go next. */
export function certificateProblemPage(ctx: PageContext, m: CertificateProblemModel): string {
  const { t } = ctx;
  return layout(
    ctx,
    t('certificate.error.title'),
    html`<h1>${t('certificate.error.title')}</h1>
<p class="error" role="alert" id="certificate-error">${m.message}</p>
${m.detail ? html`<details class="developer"><summary>${t('certificate.error.detail')}</summary><p class="detail" lang="en">${m.detail}</p></details>` : ''}
${m.retryHref ? html`<p><a href="${m.retryHref}">${t('certificate.retry')}</a></p>` : ''}
${m.chooserHref ? html`<p><a href="${m.chooserHref}">${t('back')}</a></p>` : ''}
<p class="reference">${t('error.reference', { id: m.referenceId })}</p>`,
  );
}
