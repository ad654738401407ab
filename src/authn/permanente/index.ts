import express, { type Request, type Response, type Router } from 'express';
import { achievedLoa, variantSatisfies } from '../../broker/policy';
import { revive } from '../../broker/broker';
import type { LoginTransaction } from '../../broker/transaction';
import { validateDniNie, maskDni } from '../../citizens/nif';
import type { Citizen } from '../../citizens/types';
import type { ServiceProvider } from '../../trust/types';
import type { MessageKey } from '../../web/i18n';
import type { AuthnKit } from '../../web/kit';
import { permanentePage } from '../../web/views';
import { codeTools, field, registrationName, requestedLoaName, sendCode, sendPage, stepString, tooManyAttempts, type CodeMethodDeps } from '../pin/channel';
import { subjectFromCitizen, type Authenticator, type AuthnResult } from '../types';
import { PasswordFailures } from './lockout';
import { permanenteOtpPage } from './views';
import { clock, dniReason } from '../../web/forms';
import { PasswordPolicyError } from '../../citizens/password';
import { PasarelaError } from '../../errors';
import { accountStepPage } from '../../web/account-views';

export const SELECTED_IDP_PERMANENTE = 'SEGSOC';
/** Policy rows (config `loaPolicy`): the password alone, and password + SMS code. */
export const PASSWORD_VARIANT = 'permanente.password';
export const OTP_VARIANT = 'permanente.otp';

type Vars = Record<string, string | number>;

/**
 * Cl@ve Permanente: DNI/NIE + password; when the password alone does not reach what the service
 * asks for but password + SMS code does (per the LoA policy: advanced registrations by default),
 * a 6-digit code goes to the registered mobile and is asked for as `otp`.
 */
export function createPermanente(deps: CodeMethodDeps): Authenticator {
  return {
    id: 'permanente',
    router(kit: AuthnKit): Router {
      const router = express.Router({ mergeParams: true });
      const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
      const tools = codeTools(kit, deps);
      const rules = tools.settings.otp;
      const failures = new PasswordFailures(kit.store);

      /** One step when the password alone can reach the request for some registration, else two (the SMS code follows). */
      const stepsFor = (txn: LoginTransaction, sp: ServiceProvider | undefined) =>
        variantSatisfies(kit.loaPolicy, PASSWORD_VARIANT, 'advanced', revive(txn).requestedLoa, sp?.policy.minLoa) !== null ? 1 : 2;
      const passwordPage = (req: Request, res: Response, txn: LoginTransaction, status: number, m: { username?: string; error?: string; errorField?: string | null; info?: string } = {}) => {
        sendPage(res, status, permanentePage(kit.page(req, res), { txnId: txn.id, steps: stepsFor(txn, kit.broker.trustedSp(txn.spEntityId)), ...m }));
      };
      const otpPage = (req: Request, res: Response, txn: LoginTransaction, status: number, m: { error?: MessageKey; info?: MessageKey; vars?: Vars } = {}) => {
        const ctx = kit.page(req, res);
        const vars = { phone: stepString(txn.step, 'phone') ?? '', minutes: Math.round(rules.ttlSeconds / 60), length: rules.length, ...m.vars };
        const expiresAt = stepString(txn.step, 'expiresAt');
        sendPage(
          res,
          status,
          permanenteOtpPage(ctx, {
            txnId: txn.id,
            length: rules.length,
            error: m.error ? ctx.t(m.error, vars) : undefined,
            info: m.info ? ctx.t(m.info, vars) : undefined,
            timer: expiresAt ? ctx.t('otp.timer', { time: clock(ctx.lang, new Date(expiresAt)) }) : undefined,
          }),
        );
      };
      /** Does this variant, with this citizen's registration, satisfy the request (and the SP's floor)? */
      const reaches = (variant: string, txn: LoginTransaction, sp: ServiceProvider, citizen: Citizen) =>
        variantSatisfies(kit.loaPolicy, variant, citizen.registrationLevel, revive(txn).requestedLoa, sp.policy.minLoa) !== null;
      const finish = async (req: Request, res: Response, txn: LoginTransaction, citizen: Citizen, variant: string) => {
        const level = achievedLoa(kit.loaPolicy, variant, citizen.registrationLevel)!;
        const result: AuthnResult = {
          method: 'permanente',
          variant,
          subject: subjectFromCitizen(citizen),
          achievedLoa: level,
          authnInstant: kit.now(),
          selectedIdP: SELECTED_IDP_PERMANENTE,
        };
        await kit.finish(req, res, txn.id, result);
      };
      const clearStep = (txn: LoginTransaction) => kit.broker.transactions.save({ ...txn, step: undefined }, kit.now());

      router.get('/', async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'permanente');
        if (!loaded) return;
        const { txn } = loaded;
        if (stepString(txn.step, 'stage') === 'otp') return otpPage(req, res, txn, 200, { info: 'otp.sent' });
        if (stepString(txn.step, 'stage') === 'expired') return expiredPage(req, res, txn, 200);
        passwordPage(req, res, txn, 200);
      });

      router.post('/', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'permanente');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const username = field(req, 'username');
        const password = field(req, 'password');
        const ctx = kit.page(req, res);
        const show = (status: number, error: string) => passwordPage(req, res, txn, status, { username, error });
        if (!username || !password) return show(400, ctx.t('field.required'));
        const dni = validateDniNie(username);
        if (!dni.ok) return show(400, ctx.t('permanente.invalid_dni', { reason: dniReason(ctx, dni.code) }));

        const attempt = { dni: dni.value, address: req.ip };
        const verdict = await tools.limits.check(attempt);
        if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);

        const outcome = await kit.citizens.verifyPassword(dni.value, password, { requestId: String(req.id), address: req.ip, login: { method: 'permanente', sp: sp.entityId } });
        if (!outcome.ok) {
          kit.log.info({ event: 'auth.permanente.failed', reason: outcome.reason, who: maskDni(dni.value), txn: txn.id }, 'password rejected');
          // Unknown, not activated, locked or a wrong password: the same words and counts for each, so the page does not tell who is registered.
          const verdict = await failures.verdict(dni.value, outcome);
          const after = await tools.limits.fail(attempt, 'password');
          if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
          if (verdict.kind === 'locked') return show(401, ctx.t('permanente.locked'));
          const left = verdict.remaining === 1 ? ctx.t('permanente.remaining_one') : ctx.t('permanente.remaining', { n: verdict.remaining });
          return show(401, `${ctx.t('permanente.bad')} ${left}`);
        }
        const citizen = outcome.citizen;
        await failures.succeeded(dni.value);
        const lifecycle = deps.lifecycle;
        if (lifecycle?.passwordExpired(citizen)) {
          // Only the right password learns that it expired: straight into the change, then on with this login.
          await lifecycle.recordExpired(citizen.id, { requestId: String(req.id) });
          const next: LoginTransaction = { ...txn, step: { stage: 'expired', citizenId: citizen.id } };
          await kit.broker.transactions.save(next, kit.now());
          return expiredPage(req, res, next, 200);
        }
        await afterPassword(req, res, txn, sp, citizen);
      });

      /** The password is right (and current): finish, or send the SMS code when the request needs it. */
      const afterPassword = async (req: Request, res: Response, txn: LoginTransaction, sp: ServiceProvider, citizen: Citizen) => {
        const ctx = kit.page(req, res);
        const show = (status: number, error: string) => passwordPage(req, res, txn, status, { username: citizen.dni, error });
        if (reaches(PASSWORD_VARIANT, txn, sp, citizen)) {
          await tools.limits.succeed(citizen.dni);
          return finish(req, res, txn, citizen, PASSWORD_VARIANT);
        }
        if (!reaches(OTP_VARIANT, txn, sp, citizen)) {
          // e.g. a basic registration asked for substantial: say why and how to get further; nothing goes to the SP.
          const loa = requestedLoaName(ctx.t, revive(txn).requestedLoa);
          return passwordPage(req, res, txn, 403, { username: citizen.dni, errorField: null, error: ctx.t('permanente.insufficient', { level: registrationName(ctx.t, citizen.registrationLevel), loa }) });
        }
        const sent = await sendCode(tools, kit, txn.id, 'otp', citizen);
        if (!sent.ok) return show(sent.status, ctx.t(sent.key, sent.vars));
        const next: LoginTransaction = { ...txn, step: { stage: 'otp', citizenId: citizen.id, phone: sent.phone, expiresAt: sent.expiresAt.toISOString() } };
        await kit.broker.transactions.save(next, kit.now());
        otpPage(req, res, next, 200, { info: 'otp.sent' });
      };

      const expiredPage = (req: Request, res: Response, txn: LoginTransaction, status: number, error?: string) => {
        const ctx = kit.page(req, res);
        const days = deps.lifecycle?.config.passwordValidityDays ?? 365;
        sendPage(
          res,
          status,
          accountStepPage(ctx, {
            title: 'account.expired.title',
            intro: ctx.t('account.expired.intro', { days }),
            action: `/login/${txn.id}/permanente/expired`,
            fields: [
              { name: 'password', label: 'account.new_password' },
              { name: 'password_confirm', label: 'account.password_confirm' },
            ],
            submit: 'account.save',
            policyDays: days,
            error,
          }),
        );
      };

      router.post('/expired', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'permanente');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const id = stepString(txn.step, 'citizenId');
        const lifecycle = deps.lifecycle;
        if (stepString(txn.step, 'stage') !== 'expired' || !id || !lifecycle) {
          await clearStep(txn);
          return res.redirect(303, `/login/${txn.id}/permanente`);
        }
        const ctx = kit.page(req, res);
        const password = field(req, 'password');
        const confirm = field(req, 'password_confirm');
        if (!password || !confirm) return expiredPage(req, res, txn, 400, ctx.t('field.required'));
        let citizen: Citizen;
        try {
          citizen = await lifecycle.changePassword(id, password, confirm, { requestId: String(req.id), reason: 'expired', address: req.ip });
        } catch (err) {
          if (err instanceof PasswordPolicyError) {
            return expiredPage(req, res, txn, 400, ctx.t('account.policy.rejected', { rules: err.reasons.map((r) => ctx.t(`policy.${r}`)).join('; ') }));
          }
          if (err instanceof PasarelaError && (err.code === 'ERR_CITIZEN_INACTIVE' || err.code === 'ERR_CITIZEN_NOT_FOUND')) {
            await clearStep(txn);
            return passwordPage(req, res, txn, 409, { error: ctx.t('account.changed_meanwhile') });
          }
          throw err;
        }
        const cleared: LoginTransaction = { ...txn, step: undefined };
        await kit.broker.transactions.save(cleared, kit.now());
        await afterPassword(req, res, cleared, sp, citizen);
      });

      // "Need more time?" on the code step: back to the password, which sends a new code.
      router.post('/restart', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'permanente');
        if (!loaded) return;
        await clearStep(loaded.txn);
        res.redirect(303, `/login/${loaded.txn.id}/permanente`);
      });

      router.post('/otp', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'permanente');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const id = stepString(txn.step, 'citizenId');
        const citizen = stepString(txn.step, 'stage') === 'otp' && id ? await kit.citizens.findById(id) : null;
        if (!citizen || citizen.status !== 'active') {
          await clearStep(txn);
          return res.redirect(303, `/login/${txn.id}/permanente`);
        }
        const attempt = { dni: citizen.dni, address: req.ip };
        const verdict = await tools.limits.check(attempt);
        if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);

        const outcome = await tools.codes.check(txn.id, 'otp', rules, field(req, 'otp'), citizen.id);
        if (!outcome.ok) {
          kit.log.info({ event: 'auth.otp.failed', reason: outcome.reason, who: maskDni(citizen.dni), txn: txn.id }, 'SMS code rejected');
          if (outcome.reason === 'malformed') return otpPage(req, res, txn, 400, { error: 'code.malformed' });
          const ctx = kit.page(req, res);
          if (outcome.reason === 'expired' || outcome.reason === 'missing') {
            // A new code comes with the password again: the code step never outlives the password step.
            await clearStep(txn);
            return passwordPage(req, res, txn, 401, { username: citizen.dni, error: ctx.t('otp.expired') });
          }
          const after = await tools.limits.fail(attempt, 'otp');
          if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
          if (outcome.reason === 'exhausted') {
            await clearStep(txn);
            return passwordPage(req, res, txn, 401, { username: citizen.dni, error: ctx.t('otp.exhausted') });
          }
          return otpPage(req, res, txn, 401, { error: 'otp.wrong', vars: { n: outcome.remaining } });
        }
        await tools.limits.succeed(citizen.dni);
        if (!reaches(OTP_VARIANT, txn, sp, citizen)) {
          const ctx = kit.page(req, res);
          const loa = requestedLoaName(ctx.t, revive(txn).requestedLoa);
          return passwordPage(req, res, txn, 403, { errorField: null, error: ctx.t('permanente.insufficient', { level: registrationName(ctx.t, citizen.registrationLevel), loa }) });
        }
        await finish(req, res, txn, citizen, OTP_VARIANT);
      });
      return router;
    },
  };
}
