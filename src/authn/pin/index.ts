import express, { type Request, type Response, type Router } from 'express';
import { revive } from '../../broker/broker';
import { achievedLoa, variantSatisfies } from '../../broker/policy';
import type { LoginTransaction } from '../../broker/transaction';
import { maskDni, validateDniNie } from '../../citizens/nif';
import type { Citizen } from '../../citizens/types';
import type { ServiceProvider } from '../../trust/types';
import type { AuthnKit } from '../../web/kit';
import type { MessageKey } from '../../web/i18n';
import { clock, dniReason, parseDate, type FormError } from '../../web/forms';
import { subjectFromCitizen, type Authenticator } from '../types';
import {
  codeTools,
  field,
  registrationName,
  requestedLoaName,
  sendCode,
  sendPage,
  stepString,
  tooManyAttempts,
  type CodeMethodDeps,
} from './channel';
import { pinCodePage, pinIdentifyPage } from './views';

export const SELECTED_IDP_PIN = 'PIN24H';
/** The policy row of this method (config `loaPolicy`). */
export const PIN_VARIANT = 'pin.sms';

/** Registry states that may receive a Cl@ve PIN: registered, whether Permanente is activated, not yet, or its password locked (a separate credential). */
const PIN_STATUSES: ReadonlySet<Citizen['status']> = new Set(['active', 'pending', 'locked']);

/**
 * Cl@ve PIN: DNI/NIE + DNI validity date, matched against the registry, then a one-time PIN by
 * SMS to the registered mobile (10 minutes, single use, 3 tries, 60 s between sends). A wrong
 * date, an unknown DNI and a registration that cannot use PIN all get the same answer.
 */
export function createPin(deps: CodeMethodDeps): Authenticator {
  return {
    id: 'pin',
    router(kit: AuthnKit): Router {
      const router = express.Router({ mergeParams: true });
      const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
      const tools = codeTools(kit, deps);
      const rules = tools.settings.pin;

      type Problem = { key: MessageKey; field?: string; vars?: Record<string, string | number>; dniCode?: 'empty' | 'format' | 'check_letter' };
      const identifyPage = (req: Request, res: Response, txn: LoginTransaction, status: number, m: { dni?: string; validityDate?: string; problems?: Problem[] } = {}) => {
        const ctx = kit.page(req, res);
        const errors: FormError[] = (m.problems ?? []).map((p) => ({ message: ctx.t(p.key, p.dniCode ? { ...p.vars, reason: dniReason(ctx, p.dniCode) } : p.vars), field: p.field }));
        sendPage(res, status, pinIdentifyPage(ctx, { txnId: txn.id, dni: m.dni, validityDate: m.validityDate, errors }));
      };
      const codePage = (req: Request, res: Response, txn: LoginTransaction, status: number, m: { error?: MessageKey; info?: MessageKey; vars?: Record<string, string | number> } = {}) => {
        const ctx = kit.page(req, res);
        const minutes = Math.round(rules.ttlSeconds / 60);
        const vars = { phone: stepString(txn.step, 'phone') ?? '', minutes, length: rules.length, ...m.vars };
        const expiresAt = stepString(txn.step, 'expiresAt');
        sendPage(
          res,
          status,
          pinCodePage(ctx, {
            txnId: txn.id,
            resendSeconds: rules.resendSeconds,
            length: rules.length,
            errors: m.error ? [{ message: ctx.t(m.error, vars), field: 'pin' }] : [],
            info: m.info ? ctx.t(m.info, vars) : undefined,
            timer: expiresAt ? ctx.t('pin.timer', { time: clock(ctx.lang, new Date(expiresAt)), minutes }) : undefined,
          }),
        );
      };
      /** Can a PIN, with this citizen's registration, satisfy the request? */
      const reachable = (txn: LoginTransaction, sp: ServiceProvider, citizen: Citizen) =>
        variantSatisfies(kit.loaPolicy, PIN_VARIANT, citizen.registrationLevel, revive(txn).requestedLoa, sp.policy.minLoa) !== null;
      const insufficient = (req: Request, res: Response, txn: LoginTransaction, citizen: Citizen) => {
        const ctx = kit.page(req, res);
        const error = ctx.t('pin.insufficient', { level: registrationName(ctx.t, citizen.registrationLevel), loa: requestedLoaName(ctx.t, revive(txn).requestedLoa) });
        sendPage(res, 403, pinIdentifyPage(ctx, { txnId: txn.id, errors: [{ message: error }] }));
      };
      /** The citizen of the code step, if still allowed to use PIN. */
      const stepCitizen = async (txn: LoginTransaction): Promise<Citizen | null> => {
        const id = stepString(txn.step, 'citizenId');
        const citizen = stepString(txn.step, 'stage') === 'code' && id ? await kit.citizens.findById(id) : null;
        return citizen && PIN_STATUSES.has(citizen.status) ? citizen : null;
      };

      router.get('/', async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'pin');
        if (!loaded) return;
        const { txn } = loaded;
        if (stepString(txn.step, 'stage') === 'code') return codePage(req, res, txn, 200, { info: 'pin.sent' });
        identifyPage(req, res, txn, 200);
      });

      router.post('/', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'pin');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const dniInput = field(req, 'dni').trim();
        const validityDate = field(req, 'validity_date').trim();
        const again = { dni: dniInput, validityDate };
        const problems: Problem[] = [];
        if (!dniInput) problems.push({ key: 'pin.dni.required', field: 'dni' });
        if (!validityDate) problems.push({ key: 'pin.validity_date.required', field: 'validity_date' });
        if (problems.length) return identifyPage(req, res, txn, 400, { ...again, problems });
        const dni = validateDniNie(dniInput);
        const isoDate = parseDate(validityDate);
        if (!dni.ok) problems.push({ key: 'pin.invalid_dni', field: 'dni', dniCode: dni.code });
        if (!isoDate) problems.push({ key: 'pin.invalid_date', field: 'validity_date' });
        if (!dni.ok || !isoDate) return identifyPage(req, res, txn, 400, { ...again, problems });

        const attempt = { dni: dni.value, address: req.ip };
        const verdict = await tools.limits.check(attempt);
        if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);

        const citizen = await kit.citizens.findByDni(dni.value);
        if (!citizen || !PIN_STATUSES.has(citizen.status) || citizen.dniValidityDate !== isoDate) {
          // Unknown DNI, wrong date, deregistered or locked: one answer, counted as a failure.
          kit.log.info({ event: 'auth.pin.no_match', who: maskDni(dni.value), txn: txn.id }, 'Cl@ve PIN identification did not match');
          await kit.auditFailure(req, { method: 'pin', reason: 'no_match', sp: sp.entityId, citizenId: citizen?.id, dni: dni.value });
          const after = await tools.limits.fail(attempt, 'identification');
          if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
          return identifyPage(req, res, txn, 401, { ...again, problems: [{ key: 'pin.no_match', field: 'dni' }] });
        }
        if (!reachable(txn, sp, citizen)) return insufficient(req, res, txn, citizen);

        const sent = await sendCode(tools, kit, txn.id, 'pin', citizen);
        if (!sent.ok) return identifyPage(req, res, txn, sent.status, { ...again, problems: [{ key: sent.key, vars: sent.vars }] });
        const next: LoginTransaction = { ...txn, step: { stage: 'code', citizenId: citizen.id, phone: sent.phone, expiresAt: sent.expiresAt.toISOString() } };
        await kit.broker.transactions.save(next, kit.now());
        codePage(req, res, next, 200, { info: 'pin.sent' });
      });

      router.post('/resend', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'pin');
        if (!loaded) return;
        const { txn } = loaded;
        const citizen = await stepCitizen(txn);
        if (!citizen) return res.redirect(303, `/login/${txn.id}/pin`);
        const sent = await sendCode(tools, kit, txn.id, 'pin', citizen);
        if (!sent.ok) return codePage(req, res, txn, sent.status, { error: sent.key, vars: sent.vars });
        const renewed: LoginTransaction = { ...txn, step: { ...txn.step, expiresAt: sent.expiresAt.toISOString() } };
        await kit.broker.transactions.save(renewed, kit.now());
        codePage(req, res, renewed, 200, { info: 'pin.resent' });
      });

      router.post('/verify', form, kit.csrfProtection, async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'pin');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const citizen = await stepCitizen(txn);
        if (!citizen) {
          await kit.broker.transactions.save({ ...txn, step: undefined }, kit.now());
          return res.redirect(303, `/login/${txn.id}/pin`);
        }
        const attempt = { dni: citizen.dni, address: req.ip };
        const verdict = await tools.limits.check(attempt);
        if (verdict.blocked) return tooManyAttempts(req, res, verdict.retryAfterSeconds);

        const outcome = await tools.codes.check(txn.id, 'pin', rules, field(req, 'pin'), citizen.id);
        if (!outcome.ok) {
          kit.log.info({ event: 'auth.pin.failed', reason: outcome.reason, who: maskDni(citizen.dni), txn: txn.id }, 'PIN rejected');
          if (outcome.reason === 'malformed') return codePage(req, res, txn, 400, { error: 'code.malformed' });
          if (outcome.reason === 'expired' || outcome.reason === 'missing') return codePage(req, res, txn, 401, { error: 'pin.expired' });
          await kit.auditFailure(req, { method: 'pin', reason: outcome.reason, sp: sp.entityId, citizenId: citizen.id });
          const after = await tools.limits.fail(attempt, 'pin');
          if (after.blocked) return tooManyAttempts(req, res, after.retryAfterSeconds);
          if (outcome.reason === 'exhausted') return codePage(req, res, txn, 401, { error: 'pin.exhausted' });
          return codePage(req, res, txn, 401, { error: 'pin.wrong', vars: { n: outcome.remaining } });
        }
        await tools.limits.succeed(citizen.dni);
        const level = achievedLoa(kit.loaPolicy, PIN_VARIANT, citizen.registrationLevel);
        if (!level || !reachable(txn, sp, citizen)) return insufficient(req, res, txn, citizen);
        await kit.finish(req, res, txn.id, {
          method: 'pin',
          variant: PIN_VARIANT,
          subject: subjectFromCitizen(citizen),
          achievedLoa: level,
          authnInstant: kit.now(),
          selectedIdP: SELECTED_IDP_PIN,
        });
      });
      return router;
    },
  };
}
