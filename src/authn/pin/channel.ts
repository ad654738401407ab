import type { Request, Response } from 'express';
import type { Citizen } from '../../citizens/types';
import { PasarelaError } from '../../errors';
import { NotificationService, NotifyRateLimitedError, maskPhone, type Notifier } from '../../notify';
import type { NotifyRateConfig } from '../../notify/config';
import type { RequestedLoa } from '../../broker/policy';
import { uriLevel } from '../../saml/loa';
import { setCsp } from '../../web/context';
import type { MessageKey, Translate } from '../../web/i18n';
import type { AuthnKit } from '../../web/kit';
import { renderError } from '../../web/render';
import { AbuseLimits } from '../limits';
import { OneTimeCodes, type CodePurpose } from './codes';
import type { OtpConfig } from './config';

/** What the methods that send one-time codes need beyond the kit (built in services.ts). */
export interface CodeMethodDeps {
  notifier: Notifier;
  otp: OtpConfig;
  notifyRate: NotifyRateConfig;
  /** Cl@ve Permanente: password expiry and the change it leads to at login (issue 7). */
  lifecycle?: import('../../citizens/lifecycle').CitizenLifecycle;
}

/** The per-app tools of a code-sending method, on the kit's store and clock. */
export interface CodeTools {
  codes: OneTimeCodes;
  notifications: NotificationService;
  limits: AbuseLimits;
  settings: OtpConfig;
}

export function codeTools(kit: AuthnKit, deps: CodeMethodDeps): CodeTools {
  return {
    codes: new OneTimeCodes(kit.store, kit.now),
    notifications: new NotificationService(deps.notifier, kit.store, deps.notifyRate, kit.log),
    limits: new AbuseLimits(kit.store, deps.otp.abuse, kit.log),
    settings: deps.otp,
  };
}

export type SendOutcome =
  | { ok: true; expiresAt: Date; phone: string }
  | { ok: false; status: number; key: MessageKey; vars?: Record<string, string | number> };

const CLOCK = new Intl.DateTimeFormat('es-ES', { timeZone: 'Europe/Madrid', hour: '2-digit', minute: '2-digit' });

/** The SMS texts, in Spanish as Cl@ve's are. */
export function smsText(purpose: CodePurpose, code: string, expiresAt: Date, minutes: number): string {
  return purpose === 'pin'
    ? `Cl@ve PIN: ${code}. Válido hasta las ${CLOCK.format(expiresAt)} (${minutes} min), un solo uso. No lo comparta con nadie.`
    : `Cl@ve Permanente: su código de verificación es ${code}. Válido ${minutes} min. No lo comparta con nadie.`;
}

/**
 * Issue a code for this transaction and send it to the citizen's registered mobile. Refused
 * within the resend window, over the channel's rate limits, or when the provider fails; in the
 * last two cases the code is discarded so the citizen can try again.
 */
export async function sendCode(tools: CodeTools, kit: AuthnKit, txnId: string, purpose: CodePurpose, citizen: Citizen): Promise<SendOutcome> {
  const rules = tools.settings[purpose];
  const issued = await tools.codes.issue(txnId, purpose, rules, citizen.id);
  if (!issued.ok) return { ok: false, status: 429, key: 'code.resend_wait', vars: { seconds: issued.retryAfterSeconds } };
  const minutes = Math.round(rules.ttlSeconds / 60);
  try {
    await tools.notifications.send(
      { to: citizen.mobile, channel: 'sms', text: smsText(purpose, issued.code, issued.expiresAt, minutes), code: issued.code },
      citizen.id,
    );
  } catch (err) {
    await tools.codes.discard(txnId, purpose);
    if (err instanceof NotifyRateLimitedError) return { ok: false, status: 429, key: 'notify.rate_limited' };
    kit.log.error(
      { event: 'notify.failed', purpose, txn: txnId, code: err instanceof PasarelaError ? err.code : undefined, err: err instanceof Error ? err.message : String(err) },
      'could not send the one-time code',
    );
    return { ok: false, status: 503, key: 'notify.failed' };
  }
  kit.log.info({ event: `auth.${purpose}.sent`, txn: txnId, citizen: citizen.id }, 'one-time code sent');
  return { ok: true, expiresAt: issued.expiresAt, phone: maskPhone(citizen.mobile) };
}

/** A method page: CSP, no caching. */
export function sendPage(res: Response, status: number, body: string): void {
  setCsp(res);
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('html').send(body);
}

/** Over an abuse limit: HTTP 429 and a page that says to come back later, nothing about registration. */
export function tooManyAttempts(req: Request, res: Response, retryAfterSeconds: number): void {
  res.setHeader('Retry-After', String(retryAfterSeconds));
  // Another method may still work; or the citizen goes back to the service.
  const txnId = String(req.params.txn ?? '');
  renderError(req, res, 429, 'limits.too_many', { minutes: String(Math.ceil(retryAfterSeconds / 60)) }, {
    // In a login: another method, or back to the service. On an account page: the information page.
    next: txnId ? [{ kind: 'chooser', txnId }, { kind: 'return', txnId }] : undefined,
  });
}

/** The requested LoA as the citizen reads it (`sustancial`, `substantial / high`). */
export function requestedLoaName(t: Translate, requested: RequestedLoa): string {
  return requested.classRefs
    .map((u) => {
      const level = uriLevel(u);
      return level ? t(`loa.${level}`) : u;
    })
    .join(' / ');
}

export function registrationName(t: Translate, level: Citizen['registrationLevel']): string {
  return t(`registration.${level}`);
}

/** Method progress kept in the transaction (`txn.step`). */
export function stepString(step: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = step?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function field(req: Request, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}
