import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AuditEvent } from '../audit/log';
import type { AuthnResult } from '../authn/types';
import { maskDni } from '../citizens/nif';
import type { Broker } from '../broker/broker';
import type { LoaPolicy } from '../broker/policy';
import type { LoginTransaction } from '../broker/transaction';
import type { CitizenRepository } from '../citizens/repository';
import type { KeyValueStore } from '../store/types';
import type { ServiceProvider } from '../trust/types';
import { pageContext, ssoCookieOptions } from './context';
import { renderError, renderPost } from './render';
import type { PageContext } from './views';

/** What every authenticator gets from the web layer: transactions, CSRF, pages, and `finish`. */
export interface AuthnKit {
  broker: Broker;
  citizens: CitizenRepository;
  store: KeyValueStore;
  loaPolicy: LoaPolicy;
  log: Logger;
  now: () => Date;
  /** Load the transaction named in the URL and check the citizen chose this method; renders the error page and returns null otherwise. */
  loadTxn(req: Request, res: Response, method: string): Promise<{ txn: LoginTransaction; sp: ServiceProvider } | null>;
  /** Page context with a fresh CSRF token for forms. */
  page(req: Request, res: Response): PageContext;
  /**
   * A refused login answer is an audit event (method, reason, SP, address; the citizen when the
   * DNI is registered). Written for unknown DNIs too, so the answer costs the same either way.
   */
  auditFailure(req: Request, f: { method: string; reason: string; sp: string; citizenId?: string; dni?: string }): Promise<void>;
  /** CSRF check middleware for POSTs. */
  csrfProtection: (req: Request, res: Response, next: (err?: unknown) => void) => void;
  /** Authentication succeeded: respond to the SP and set the SSO cookie. */
  finish(req: Request, res: Response, txnId: string, result: AuthnResult): Promise<void>;
}

export interface KitDeps {
  broker: Broker;
  citizens: CitizenRepository;
  store: KeyValueStore;
  loaPolicy: LoaPolicy;
  log: Logger;
  now: () => Date;
  secureCookies: boolean;
  sessionCookieName: string;
  sessionTtlSeconds: number;
  csrf: {
    generateCsrfToken: (req: Request, res: Response) => string;
    doubleCsrfProtection: AuthnKit['csrfProtection'];
  };
  /** When set, every completed login is an audit event (method, LoA, SP; issue 7), in its own transaction. */
  audit?: (event: AuditEvent) => Promise<void>;
}

export function createKit(deps: KitDeps): AuthnKit {
  /**
   * The login is not alive any more. Expired within its grace period: the citizen can still go
   * back to the service (an AuthnFailed response); completed or long gone: the information page.
   */
  const renderGone = async (req: Request, res: Response, txnId: string): Promise<void> => {
    const expired = await deps.broker.loadExpired(txnId);
    if (expired) return renderError(req, res, 410, 'error.login_expired', undefined, { next: [{ kind: 'return', txnId: expired.txn.id }] });
    renderError(req, res, 410, 'error.expired');
  };
  return {
    broker: deps.broker,
    citizens: deps.citizens,
    store: deps.store,
    loaPolicy: deps.loaPolicy,
    log: deps.log,
    now: deps.now,
    csrfProtection: deps.csrf.doubleCsrfProtection,
    page: (req, res) => pageContext(req, res, deps.csrf.generateCsrfToken(req, res)),
    async auditFailure(req, f) {
      if (!deps.audit) return;
      await deps.audit({
        type: 'auth.login.failed',
        actor: 'citizen',
        citizenId: f.citizenId,
        requestId: String(req.id),
        detail: { method: f.method, reason: f.reason, sp: f.sp, address: req.ip, ...(f.dni ? { who: maskDni(f.dni) } : {}) },
      });
    },
    async loadTxn(req, res, method) {
      const txnId = String(req.params.txn ?? '');
      const loaded = await deps.broker.load(txnId);
      if (!loaded) {
        await renderGone(req, res, txnId);
        return null;
      }
      if (method !== 'chooser' && loaded.txn.method !== method) {
        // The login lives but is on another method (an old tab, the browser's Back button): the chooser.
        res.redirect(303, `/login/${loaded.txn.id}`);
        return null;
      }
      return loaded;
    },
    async finish(req, res, txnId, result) {
      const cookies = (req.cookies ?? {}) as Record<string, string>;
      const done = await deps.broker.complete(txnId, result, cookies[deps.sessionCookieName]);
      if (!done) {
        await renderGone(req, res, txnId);
        return;
      }
      if (done.session && deps.audit) {
        const { subject } = result;
        await deps.audit({
          type: 'auth.login.succeeded',
          actor: 'citizen',
          citizenId: subject.citizenId,
          requestId: String(req.id),
          detail: { method: result.method, variant: result.variant, loa: result.achievedLoa, sp: done.spEntityId, selectedIdP: result.selectedIdP, address: req.ip, ...(subject.citizenId ? {} : { who: maskDni(subject.dni) }) },
        });
      }
      if (done.session) {
        res.cookie(deps.sessionCookieName, done.session.id, ssoCookieOptions(deps.secureCookies, deps.sessionTtlSeconds * 1000));
      }
      renderPost(req, res, done.post);
    },
  };
}
