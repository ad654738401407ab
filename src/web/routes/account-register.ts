import express, { type Request, type Response, type Router } from 'express';
import { handleKey, HANDLE_PATTERN, parseLoginResult, REGISTRATION_FLOW_PATTERN, registrationBinding, registrationFlowKey } from '../../authn/certificate/handle';
import { codeTools, field, sendPage, smsText, tooManyAttempts, type CodeMethodDeps } from '../../authn/pin/channel';
import { newId } from '../../broker/transaction';
import type { CitizenLifecycle } from '../../citizens/lifecycle';
import { maskDni } from '../../citizens/nif';
import { isCalendarDate } from '../../citizens/repository';
import { parseDate } from '../forms';
import { PasarelaError } from '../../errors';
import { maskPhone, NotifyRateLimitedError } from '../../notify';
import type { CertificateIdentity } from '../../pki/identity';
import { accountDonePage, accountStepPage, type AccountField } from '../account-views';
import { BROWSER_COOKIE } from '../context';
import { html } from '../html';
import type { MessageKey } from '../i18n';
import type { AuthnKit } from '../kit';
import { csrfField, layout } from '../views';

/**
 * Online registration with a DNIe or qualified certificate (issue 7): /account/register opens a
 * flow and sends the browser to the certificate host (/account/register/tls, the certificate
 * method's own validation), which hands the identity back once; the citizen adds mobile (and
 * e-mail), confirms the mobile with an SMS code, and gets an `advanced` registration whose
 * activation code goes to that mobile. Nothing is written before the last step (one lifecycle
 * transaction).
 */

interface RegistrationFlow {
  bid: string;
  stage: 'certificate' | 'details' | 'otp';
  identity?: CertificateIdentity;
  details?: { mobile: string; email: string | null; dateOfBirth: string; dniValidityDate: string };
}

const FLOW_TTL_MS = 15 * 60_000;

export interface RegisterDeps {
  lifecycle: CitizenLifecycle;
  codeDeps: CodeMethodDeps;
  /** The certificate host's public URL; absent when the certificate method is off. */
  certificateHostUrl?: string;
}

const DETAILS: AccountField[] = [
  { name: 'mobile', label: 'account.mobile', hint: 'account.mobile.hint' },
  { name: 'email', label: 'account.email', optional: true },
  { name: 'birth_date', label: 'account.birth_date', hint: 'account.birth_date.hint' },
  { name: 'validity_date', label: 'account.validity_date', hint: 'pin.validity_date.hint' },
];

export function accountRegisterRouter(kit: AuthnKit, deps: RegisterDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const tools = codeTools(kit, deps.codeDeps);
  const rules = tools.settings.otp;
  const bidOf = (req: Request) => String((req.cookies as Record<string, string> | undefined)?.[BROWSER_COOKIE] ?? '');
  const save = (id: string, f: RegistrationFlow) => kit.store.set(registrationFlowKey(id), JSON.stringify(f), FLOW_TTL_MS);
  const load = async (req: Request, id: string): Promise<RegistrationFlow | null> => {
    if (!REGISTRATION_FLOW_PATTERN.test(id)) return null;
    const raw = await kit.store.get(registrationFlowKey(id));
    const f = raw ? (JSON.parse(raw) as RegistrationFlow) : null;
    return f && f.bid === bidOf(req) ? f : null;
  };
  const end = (id: string) => kit.store.delete(registrationFlowKey(id));
  const subjectOf = (id: string) => `register:${id}`;

  const startPage = (req: Request, res: Response, status: number, error?: string) => {
    const ctx = kit.page(req, res);
    const { t } = ctx;
    sendPage(
      res,
      status,
      layout(
        ctx,
        t('account.register.title'),
        html`<h1>${t('account.register.title')}</h1>
${error ? html`<p class="error" role="alert" id="form-error">${error}</p>` : ''}
<p>${t(deps.certificateHostUrl ? 'account.register.intro' : 'account.register.unavailable')}</p>
${deps.certificateHostUrl ? html`<p class="hint">${t('certificate.choose_auth')}</p>
<form method="post" action="/account/register">
${csrfField(ctx)}
<p><button type="submit">${t('account.register.continue')}</button></p>
</form>` : ''}`,
      ),
    );
  };
  const detailsPage = (req: Request, res: Response, id: string, f: RegistrationFlow, status: number, error?: string) => {
    const ctx = kit.page(req, res);
    // The language switch of a step shown after a POST: the same step (the flow is bound to this browser).
    ctx.switchPath = `/account/register?flow=${id}`;
    const id0 = f.identity!;
    const name = [id0.givenName, id0.firstSurname, id0.secondSurname].filter(Boolean).join(' ');
    const values: Record<string, string> = { mobile: field(req, 'mobile'), email: field(req, 'email'), birth_date: field(req, 'birth_date') || (id0.dateOfBirth ?? ''), validity_date: field(req, 'validity_date') };
    sendPage(
      res,
      status,
      accountStepPage(ctx, {
        title: 'account.register.title',
        intro: ctx.t('account.register.identity', { name, dni: id0.dni }),
        action: '/account/register',
        flow: id,
        fields: DETAILS.map((d) => ({ ...d, value: values[d.name] })),
        submit: 'account.continue',
        error,
      }),
    );
  };
  const otpPage = (req: Request, res: Response, id: string, status: number, m: { error?: string; info?: string } = {}) => {
    const ctx = kit.page(req, res);
    ctx.switchPath = `/account/register?flow=${id}`;
    sendPage(res, status, accountStepPage(ctx, { title: 'account.register.title', action: '/account/register', flow: id, fields: [{ name: 'otp', label: 'otp.label' }], submit: 'account.continue', ...m }));
  };

  router.get('/account/register', async (req, res, next) => {
    try {
      const id = req.url.includes('flow=') && typeof req.query.flow === 'string' ? req.query.flow : '';
      const f = id ? await load(req, id) : null;
      if (f?.stage === 'details' && f.identity) return detailsPage(req, res, id, f, 200);
      if (f?.stage === 'otp') return otpPage(req, res, id, 200);
      startPage(req, res, deps.certificateHostUrl ? 200 : 404);
    } catch (err) {
      next(err);
    }
  });

  router.get('/account/register/return', async (req, res) => {
    const id = typeof req.query.flow === 'string' ? req.query.flow : '';
    const handle = typeof req.query.handle === 'string' ? req.query.handle : '';
    const ctx = kit.page(req, res);
    const f = await load(req, id);
    // Only the browser that opened the flow may bring the result back (checked before taking the handle).
    if (!f || f.stage !== 'certificate') return startPage(req, res, 410, ctx.t('account.flow_expired'));
    const raw = HANDLE_PATTERN.test(handle) ? await kit.store.take(handleKey(handle)) : null;
    const result = raw ? parseLoginResult(raw) : null;
    if (!result || result.txnId !== registrationBinding(id)) return startPage(req, res, 410, ctx.t('certificate.handle_invalid'));
    const next: RegistrationFlow = { ...f, stage: 'details', identity: result.identity };
    await save(id, next);
    detailsPage(req, res, id, next, 200);
  });

  router.post('/account/register', form, kit.csrfProtection, async (req, res, nextErr) => {
    try {
      const ctx = kit.page(req, res);
      const id = field(req, 'flow');
      if (!id) {
        if (!deps.certificateHostUrl) return startPage(req, res, 404);
        const flowId = newId(24);
        await save(flowId, { bid: bidOf(req), stage: 'certificate' });
        res.setHeader('Cache-Control', 'no-store');
        return res.redirect(303, `${deps.certificateHostUrl}/account/register/tls?flow=${flowId}&lang=${ctx.lang}`);
      }
      const f = await load(req, id);
      if (!f || f.stage === 'certificate' || !f.identity) return startPage(req, res, 410, ctx.t('account.flow_expired'));
      const identity = f.identity;

      if (f.stage === 'details') {
        const show = (key: MessageKey, status = 400) => detailsPage(req, res, id, f, status, ctx.t(key));
        const mobile = field(req, 'mobile').replace(/[\s-]/g, '');
        const email = field(req, 'email').trim() || null;
        const dateOfBirth = parseDate(field(req, 'birth_date')) ?? '';
        const dniValidityDate = parseDate(field(req, 'validity_date')) ?? '';
        if (!/^\+\d{8,15}$/.test(mobile)) return show('account.register.invalid_mobile');
        if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) return show('account.register.invalid_email');
        if (!isCalendarDate(dateOfBirth) || dateOfBirth > kit.now().toISOString().slice(0, 10)) return show('account.register.invalid_birth');
        if (!isCalendarDate(dniValidityDate)) return show('pin.invalid_date');
        // The certificate holder may learn their own registration status.
        const existing = await kit.citizens.findByDni(identity.dni);
        if (existing && existing.status !== 'deregistered') return show('account.register.exists', 409);
        const issued = await tools.codes.issue(id, 'otp', rules, subjectOf(id));
        if (!issued.ok) return show('code.resend_wait', 429);
        try {
          const minutes = Math.round(rules.ttlSeconds / 60);
          await tools.notifications.send({ to: mobile, channel: 'sms', text: smsText('otp', issued.code, issued.expiresAt, minutes), code: issued.code }, subjectOf(id));
        } catch (err) {
          // Not sent: nothing kept; the citizen tries again.
          await tools.codes.discard(id, 'otp');
          if (err instanceof NotifyRateLimitedError) return show('notify.rate_limited', 429);
          kit.log.error({ event: 'notify.failed', purpose: 'register', err: err instanceof Error ? err.message : String(err) }, 'could not send the registration code');
          return show('notify.failed', 503);
        }
        await save(id, { ...f, stage: 'otp', details: { mobile, email, dateOfBirth, dniValidityDate } });
        return otpPage(req, res, id, 200, { info: ctx.t('account.otp.sent', { phone: maskPhone(mobile), minutes: Math.round(rules.ttlSeconds / 60) }) });
      }

      // stage otp
      const details = f.details!;
      const attempt = { dni: identity.dni, address: req.ip };
      const verdict = await tools.limits.check(attempt);
      if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);
      const outcome = await tools.codes.check(id, 'otp', rules, field(req, 'otp'), subjectOf(id));
      if (!outcome.ok) {
        if (outcome.reason === 'malformed') return otpPage(req, res, id, 400, { error: ctx.t('code.malformed', { length: rules.length }) });
        if (outcome.reason === 'wrong') {
          const after = await tools.limits.fail(attempt, 'otp');
          if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
          return otpPage(req, res, id, 401, { error: ctx.t('otp.wrong', { n: outcome.remaining }) });
        }
        await save(id, { ...f, stage: 'details' });
        return detailsPage(req, res, id, f, 401, ctx.t('account.otp.restart'));
      }
      try {
        const issued = await deps.lifecycle.register(
          {
            dni: identity.dni,
            givenName: identity.givenName,
            firstSurname: identity.firstSurname,
            secondSurname: identity.secondSurname,
            dateOfBirth: details.dateOfBirth,
            mobile: details.mobile,
            email: details.email,
            channel: 'certificate',
            dniValidityDate: details.dniValidityDate,
          },
          { actor: 'citizen', requestId: String(req.id), address: req.ip },
        );
        await end(id);
        kit.log.info({ event: 'account.register.done', who: maskDni(identity.dni) }, 'online registration with a certificate');
        return sendPage(
          res,
          200,
          accountDonePage(ctx, 'account.register.title', ctx.t('account.register.done', { reference: issued.reference, phone: maskPhone(details.mobile) }), [
            { href: '/account/activate', label: 'account.activate.title' },
          ]),
        );
      } catch (err) {
        if (!(err instanceof PasarelaError)) throw err;
        await save(id, { ...f, stage: 'details' });
        const key: MessageKey = err.code === 'ERR_CITIZEN_EXISTS' ? 'account.register.exists' : err.code === 'ERR_NOTIFY_FAILED' ? 'notify.failed' : 'account.save_failed';
        if (err.code === 'ERR_CITIZEN_INVALID') return detailsPage(req, res, id, f, 400, err.message);
        return detailsPage(req, res, id, f, err.code === 'ERR_NOTIFY_FAILED' ? 503 : 409, ctx.t(key));
      }
    } catch (err) {
      nextErr(err);
    }
  });
  return router;
}
