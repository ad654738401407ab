import express, { type Request, type Response, type Router } from 'express';
import { codeTools, field, sendCode, sendPage, tooManyAttempts, type CodeMethodDeps, type CodeTools } from '../../authn/pin/channel';
import { newId } from '../../broker/transaction';
import { ActivationCodeError, type CitizenLifecycle } from '../../citizens/lifecycle';
import { maskDni, validateDniNie } from '../../citizens/nif';
import { PasswordPolicyError } from '../../citizens/password';
import type { Citizen } from '../../citizens/types';
import { PasarelaError } from '../../errors';
import { PasswordFailures } from '../../authn/permanente/lockout';
import { ACCOUNT_FLOW_PATTERN, accountCertificateBinding, accountFlowKey, HANDLE_PATTERN, handleKey, parseLoginResult } from '../../authn/certificate/handle';
import { accountDonePage, accountStepPage, type AccountField, type AccountStepModel } from '../account-views';
import { BROWSER_COOKIE } from '../context';
import type { MessageKey } from '../i18n';
import type { AuthnKit } from '../kit';
import type { PageContext } from '../views';
import { dniReason, parseDate } from '../forms';

/**
 * The citizen's own Cl@ve Permanente services (issue 7), form contract in DESIGN.md:
 *   /account/activate   dni, activation_code -> otp -> password, password_confirm
 *   /account/password   dni, current_password -> otp (advanced registrations) -> password, password_confirm
 *   /account/recover    dni, validity_date -> otp -> password, password_confirm
 *   /account/deregister dni, current_password -> otp -> confirm=yes
 * Each step posts back to its page; the progress lives in the store under a random flow id
 * (hidden `flow` field, bound to the browser id cookie), so any node can take the next step.
 * Nothing is written before the last step, which is one lifecycle transaction; the SMS codes
 * are the login's one-time codes (store, hashed, tries, resend window) keyed by the flow id.
 */

export type AccountService = 'activate' | 'password' | 'recover' | 'deregister';
type Stage = 'certificate' | 'otp' | 'password' | 'confirm';

interface Flow {
  id: string;
  service: AccountService;
  stage: Stage;
  citizenId: string;
  /** Browser id cookie of the browser that started it. */
  bid: string;
  phone?: string;
  codeId?: string;
  /** Steps of this flow (2 without the SMS step). */
  total?: number;
  /** How the citizen proved who they are, for the audit, when not the DNI + secret + SMS code. */
  proof?: 'certificate';
}

const FLOW_TTL_MS = 15 * 60_000;

export interface AccountDeps {
  lifecycle: CitizenLifecycle;
  codeDeps: CodeMethodDeps;
  /** Revoke every SSO session of a citizen (on every node): called after deregistration commits. */
  revokeSessions(citizenId: string): Promise<void>;
  /** The certificate host's public URL: recovery and deregistration may also be proven with a DNIe or qualified certificate. */
  certificateHostUrl?: string;
}

/** The services a certificate can authorise instead of the DNI + secret + SMS code. */
const BY_CERTIFICATE: ReadonlySet<AccountService> = new Set(['recover', 'deregister']);

interface ServiceSpec {
  title: MessageKey;
  intro: MessageKey;
  first: AccountField[];
  /** Whether the SMS step applies to this citizen. */
  needsOtp(c: Citizen): boolean;
  /** After the SMS code. */
  next: Stage;
  links: Array<{ href: string; label: MessageKey }>;
}

const DNI: AccountField = { name: 'dni', label: 'account.dni' };
const OTP: AccountField = { name: 'otp', label: 'otp.label' };
const NEW_PASSWORD: AccountField[] = [
  { name: 'password', label: 'account.new_password' },
  { name: 'password_confirm', label: 'account.password_confirm' },
];

const SPECS: Record<AccountService, ServiceSpec> = {
  activate: {
    title: 'account.activate.title',
    intro: 'account.activate.intro',
    first: [DNI, { name: 'activation_code', label: 'account.activation_code', hint: 'account.activation_code.hint' }],
    needsOtp: () => true,
    next: 'password',
    links: [{ href: '/account/recover', label: 'account.links.forgot' }],
  },
  password: {
    title: 'account.password.title',
    intro: 'account.password.intro',
    first: [DNI, { name: 'current_password', label: 'account.current_password' }],
    needsOtp: (c) => c.registrationLevel === 'advanced',
    next: 'password',
    links: [{ href: '/account/recover', label: 'account.links.forgot' }],
  },
  recover: {
    title: 'account.recover.title',
    intro: 'account.recover.intro',
    first: [DNI, { name: 'validity_date', label: 'account.validity_date', hint: 'pin.validity_date.hint' }],
    needsOtp: () => true,
    next: 'password',
    links: [{ href: '/account/activate', label: 'account.links.activate' }],
  },
  deregister: {
    title: 'account.deregister.title',
    intro: 'account.deregister.intro',
    first: [DNI, { name: 'current_password', label: 'account.current_password' }],
    needsOtp: () => true,
    next: 'confirm',
    links: [{ href: '/account/recover', label: 'account.links.forgot' }],
  },
};

const RECOVERABLE: ReadonlySet<Citizen['status']> = new Set(['active', 'locked']);

export function accountRouter(kit: AuthnKit, deps: AccountDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const tools: CodeTools = codeTools(kit, deps.codeDeps);
  const failures = new PasswordFailures(kit.store);
  const { lifecycle } = deps;
  const days = lifecycle.config.passwordValidityDays;

  const flowKey = accountFlowKey;
  const bidOf = (req: Request) => String((req.cookies as Record<string, string> | undefined)?.[BROWSER_COOKIE] ?? '');
  const saveFlow = (f: Flow) => kit.store.set(flowKey(f.id), JSON.stringify(f), FLOW_TTL_MS);
  const loadFlow = (req: Request, service: AccountService): Promise<Flow | null> => loadFlowById(req, service, field(req, 'flow'));
  const loadFlowById = async (req: Request, service: AccountService, id: string): Promise<Flow | null> => {
    if (!ACCOUNT_FLOW_PATTERN.test(id)) return null;
    const raw = await kit.store.get(flowKey(id));
    const f = raw ? (JSON.parse(raw) as Flow) : null;
    return f && f.service === service && f.bid === bidOf(req) ? f : null;
  };
  const endFlow = (f: Flow) => kit.store.delete(flowKey(f.id));
  const audit = (req: Request) => ({ actor: 'citizen', requestId: String(req.id), address: req.ip });

  function page(req: Request, res: Response, service: AccountService, status: number, m: Partial<AccountStepModel> & { stage?: Stage; flow?: string; total?: number }): void {
    const ctx = kit.page(req, res);
    // A step shown after a POST switches language to the same step (the flow is bound to this browser).
    if (m.flow) ctx.switchPath = `/account/${service}?flow=${m.flow}`;
    const spec = SPECS[service];
    const { stage, total, ...rest } = m;
    // Three steps (who, SMS code, the change); a basic registration changing its password has no SMS step.
    const of = total ?? (service === 'password' && !stage ? undefined : 3);
    const n = !stage ? 1 : stage === 'otp' ? 2 : (of ?? 3);
    const stepName = ctx.t(!stage ? 'account.step.identify' : stage === 'otp' ? 'account.step.otp' : stage === 'confirm' ? 'account.step.confirm' : 'account.step.password');
    const step = of ? { n, of, name: stepName } : undefined;
    const fields = stage === 'otp' ? [OTP] : stage === 'password' ? NEW_PASSWORD : stage === 'confirm' ? [] : (m.fields ?? spec.first);
    const model: AccountStepModel = {
      title: spec.title,
      intro: stage ? undefined : ctx.t(spec.intro),
      action: `/account/${service}`,
      submit: stage === 'password' ? 'account.save' : 'account.continue',
      // The rules are explained before the password is typed: on the first page of activation, and on every password step.
      policyDays: stage === 'password' || (service === 'activate' && !stage) ? days : undefined,
      confirm: stage === 'confirm',
      links: stage ? undefined : spec.links,
      certificateOption: !stage && deps.certificateHostUrl && BY_CERTIFICATE.has(service) ? `/account/${service}` : undefined,
      step,
      ...rest,
      fields,
    };
    sendPage(res, status, accountStepPage(ctx, model));
  }
  const restart = (req: Request, res: Response, service: AccountService, status: number, key: MessageKey) =>
    page(req, res, service, status, { error: kit.page(req, res).t(key) });
  const policyMessage = (ctx: PageContext, err: PasswordPolicyError) =>
    ctx.t('account.policy.rejected', { rules: err.reasons.map((r) => ctx.t(`policy.${r}`)).join('; ') });

  /** First step accepted: send the SMS code, or go straight to the next stage. */
  async function advance(req: Request, res: Response, service: AccountService, citizen: Citizen, codeId?: string): Promise<void> {
    const spec = SPECS[service];
    const flow: Flow = { id: newId(24), service, stage: spec.next, citizenId: citizen.id, bid: bidOf(req), codeId, total: spec.needsOtp(citizen) ? 3 : 2 };
    const ctx = kit.page(req, res);
    if (spec.needsOtp(citizen)) {
      const sent = await sendCode(tools, kit, flow.id, 'otp', citizen);
      // Not sent (provider down, rate limit): nothing was written; the citizen tries again from the start.
      if (!sent.ok) return page(req, res, service, sent.status, { error: ctx.t(sent.key, sent.vars) });
      flow.stage = 'otp';
      flow.phone = sent.phone;
    }
    await saveFlow(flow);
    const info = flow.stage === 'otp' ? ctx.t('account.otp.sent', { phone: flow.phone ?? '', minutes: Math.round(tools.settings.otp.ttlSeconds / 60) }) : undefined;
    page(req, res, service, 200, { stage: flow.stage, flow: flow.id, info, total: flow.total });
  }

  /** Step one of each service: who is it. Unknown and refused DNIs get the same words as a wrong secret. */
  async function start(req: Request, res: Response, service: AccountService): Promise<void> {
    const ctx = kit.page(req, res);
    const dniInput = field(req, 'dni').trim();
    const again = SPECS[service].first.map((f) => ({ ...f, value: field(req, f.name) }));
    const show = (status: number, error: string) => page(req, res, service, status, { fields: again, error });
    const secret = SPECS[service].first[1]!.name;
    if (!dniInput || !field(req, secret)) return show(400, ctx.t('field.required'));
    const dni = validateDniNie(dniInput);
    if (!dni.ok) return show(400, ctx.t('permanente.invalid_dni', { reason: dniReason(ctx, dni.code) }));
    const attempt = { dni: dni.value, address: req.ip };
    const verdict = await tools.limits.check(attempt);
    if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);
    const failed = async (what: 'password' | 'identification', status: number, key: MessageKey) => {
      kit.log.info({ event: `account.${service}.refused`, reason: key, who: maskDni(dni.value) }, 'account service step refused');
      const after = await tools.limits.fail(attempt, what);
      if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
      show(status, ctx.t(key));
    };

    if (service === 'activate') {
      const checked = await lifecycle.checkActivationCode(dni.value, field(req, 'activation_code'), audit(req));
      if (!checked.ok) {
        if (checked.reason === 'malformed') return show(400, ctx.t('account.code.malformed'));
        return failed('identification', 401, `account.code.${checked.reason}`);
      }
      return advance(req, res, service, checked.citizen, checked.codeId);
    }
    if (service === 'recover') {
      const validityDate = parseDate(field(req, 'validity_date'));
      if (!validityDate) return show(400, ctx.t('pin.invalid_date'));
      const citizen = await kit.citizens.findByDni(dni.value);
      if (!citizen || !RECOVERABLE.has(citizen.status) || citizen.dniValidityDate !== validityDate) return failed('identification', 401, 'account.no_match');
      return advance(req, res, service, citizen);
    }
    // password, deregister: the current password, counted and locked exactly as at login.
    const outcome = await kit.citizens.verifyPassword(dni.value, field(req, 'current_password'), { ...audit(req), login: { method: `account.${service}` } });
    if (!outcome.ok) {
      // The login's shadow counter: "locked" after as many wrong tries for every DNI alike, so the page never tells who is registered.
      const verdict = await failures.verdict(dni.value, outcome);
      return failed('password', 401, verdict.kind === 'locked' ? 'account.locked' : 'account.bad_credentials');
    }
    await failures.succeeded(dni.value);
    await tools.limits.succeed(dni.value);
    return advance(req, res, service, outcome.citizen);
  }

  async function otpStep(req: Request, res: Response, flow: Flow): Promise<void> {
    const citizen = await kit.citizens.findById(flow.citizenId);
    if (!citizen || citizen.status === 'deregistered') {
      await endFlow(flow);
      return restart(req, res, flow.service, 410, 'account.changed_meanwhile');
    }
    const attempt = { dni: citizen.dni, address: req.ip };
    const verdict = await tools.limits.check(attempt);
    if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);
    const ctx = kit.page(req, res);
    const outcome = await tools.codes.check(flow.id, 'otp', tools.settings.otp, field(req, 'otp'), citizen.id);
    if (!outcome.ok) {
      if (outcome.reason === 'malformed') return page(req, res, flow.service, 400, { stage: 'otp', flow: flow.id, error: ctx.t('code.malformed', { length: tools.settings.otp.length }) });
      if (outcome.reason === 'wrong') {
        const after = await tools.limits.fail(attempt, 'otp');
        if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
        return page(req, res, flow.service, 401, { stage: 'otp', flow: flow.id, error: ctx.t('otp.wrong', { n: outcome.remaining }) });
      }
      await endFlow(flow);
      return restart(req, res, flow.service, 401, 'account.otp.restart');
    }
    await tools.limits.succeed(citizen.dni);
    const next: Flow = { ...flow, stage: SPECS[flow.service].next };
    await saveFlow(next);
    page(req, res, flow.service, 200, { stage: next.stage, flow: next.id, total: next.total });
  }

  async function finalStep(req: Request, res: Response, flow: Flow): Promise<void> {
    const ctx = kit.page(req, res);
    const ctxAudit = audit(req);
    try {
      if (flow.service === 'deregister') {
        if (field(req, 'confirm') !== 'yes') return page(req, res, 'deregister', 400, { stage: 'confirm', flow: flow.id });
        await lifecycle.deregister(flow.citizenId, { ...ctxAudit, ...(flow.proof ? { proof: flow.proof } : {}) });
        await endFlow(flow);
        await deps.revokeSessions(flow.citizenId);
        return sendPage(res, 200, accountDonePage(ctx, 'account.deregister.title', ctx.t('account.deregistered')));
      }
      const password = field(req, 'password');
      const confirm = field(req, 'password_confirm');
      if (!password || !confirm) return page(req, res, flow.service, 400, { stage: 'password', flow: flow.id, total: flow.total, error: ctx.t('field.required') });
      if (flow.service === 'activate') await lifecycle.activate(flow.citizenId, flow.codeId!, password, confirm, ctxAudit);
      else if (flow.service === 'recover') await lifecycle.recover(flow.citizenId, password, confirm, { ...ctxAudit, ...(flow.proof ? { proof: flow.proof } : {}) });
      else await lifecycle.changePassword(flow.citizenId, password, confirm, ctxAudit);
      await endFlow(flow);
      const done: Record<Exclude<AccountService, 'deregister'>, MessageKey> = { activate: 'account.activated', recover: 'account.recovered', password: 'account.changed' };
      sendPage(res, 200, accountDonePage(ctx, SPECS[flow.service].title, ctx.t(done[flow.service]), [{ href: '/account/password', label: 'account.links.change' }]));
    } catch (err) {
      if (err instanceof PasswordPolicyError) return page(req, res, flow.service, 400, { stage: 'password', flow: flow.id, total: flow.total, error: policyMessage(ctx, err) });
      if (err instanceof ActivationCodeError) {
        await endFlow(flow);
        return restart(req, res, flow.service, 409, `account.code.${err.reason === 'malformed' ? 'wrong' : err.reason}`);
      }
      if (err instanceof PasarelaError && (err.code === 'ERR_CITIZEN_INACTIVE' || err.code === 'ERR_CITIZEN_NOT_FOUND')) {
        await endFlow(flow);
        return restart(req, res, flow.service, 409, 'account.changed_meanwhile');
      }
      // The transaction did not commit (database down, commit refused): nothing changed and the
      // flow is kept, so the same step can be sent again; never a 500 page.
      req.log.error({ event: `account.${flow.service}.failed`, err: err instanceof Error ? err.message : String(err) }, 'account change not saved');
      const stage = flow.stage;
      return page(req, res, flow.service, 503, { stage, flow: flow.id, total: flow.total, error: ctx.t('account.save_failed') });
    }
  }

  // Back from the certificate host: the certificate's DNI/NIE names the citizen; the next step is
  // the new password (recovery) or the confirmation (deregistration). The holder learns only
  // their own registration status.
  router.get('/account/certificate/return', async (req, res, next) => {
    try {
      const id = typeof req.query.flow === 'string' ? req.query.flow : '';
      const handle = typeof req.query.handle === 'string' ? req.query.handle : '';
      const raw = ACCOUNT_FLOW_PATTERN.test(id) ? await kit.store.get(flowKey(id)) : null;
      const flow = raw ? (JSON.parse(raw) as Flow) : null;
      if (!flow || flow.bid !== bidOf(req) || flow.stage !== 'certificate') return restart(req, res, flow?.service ?? 'recover', 410, 'account.flow_expired');
      const taken = HANDLE_PATTERN.test(handle) ? await kit.store.take(handleKey(handle)) : null;
      const result = taken ? parseLoginResult(taken) : null;
      if (!result || result.txnId !== accountCertificateBinding(flow.id)) return restart(req, res, flow.service, 410, 'certificate.handle_invalid');
      const citizen = await kit.citizens.findByDni(result.identity.dni);
      const usable = citizen && (flow.service === 'recover' ? RECOVERABLE.has(citizen.status) : citizen.status !== 'deregistered');
      if (!usable) {
        await endFlow(flow);
        return restart(req, res, flow.service, 404, 'account.certificate.no_registration');
      }
      kit.log.info({ event: `account.${flow.service}.certificate`, who: maskDni(citizen.dni), kind: result.kind }, 'account service proven with a certificate');
      const nextFlow: Flow = { ...flow, citizenId: citizen.id, stage: flow.service === 'recover' ? 'password' : 'confirm', total: 2 };
      await saveFlow(nextFlow);
      page(req, res, flow.service, 200, { stage: nextFlow.stage, flow: nextFlow.id, total: 2 });
    } catch (err) {
      next(err);
    }
  });

  for (const service of Object.keys(SPECS) as AccountService[]) {
    // GET ?flow=<id> (the language switch of a step shown after a POST): the same step again.
    router.get(`/account/${service}`, async (req, res, next) => {
      try {
        const id = req.url.includes('flow=') && typeof req.query.flow === 'string' ? req.query.flow : '';
        const flow = id ? await loadFlowById(req, service, id) : null;
        if (flow && flow.stage !== 'certificate') return page(req, res, service, 200, { stage: flow.stage, flow: flow.id, total: flow.total });
        page(req, res, service, 200, {});
      } catch (err) {
        next(err);
      }
    });
    router.post(`/account/${service}`, form, kit.csrfProtection, async (req, res, next) => {
      try {
        if (!field(req, 'flow') && field(req, 'method') === 'certificate' && deps.certificateHostUrl && BY_CERTIFICATE.has(service)) {
          const flow: Flow = { id: newId(24), service, stage: 'certificate', citizenId: '', bid: bidOf(req), proof: 'certificate' };
          await saveFlow(flow);
          res.setHeader('Cache-Control', 'no-store');
          return res.redirect(303, `${deps.certificateHostUrl}/account/certificate/tls?flow=${flow.id}&lang=${kit.page(req, res).lang}`);
        }
        if (!field(req, 'flow')) return await start(req, res, service);
        const flow = await loadFlow(req, service);
        if (!flow || flow.stage === 'certificate') return restart(req, res, service, 410, 'account.flow_expired');
        if (flow.stage === 'otp') return await otpStep(req, res, flow);
        return await finalStep(req, res, flow);
      } catch (err) {
        next(err);
      }
    });
  }
  return router;
}
