import express, { type Request, type Response, type Router } from 'express';
import type { Broker } from '../../broker/broker';
import { intakeOptions } from '../../broker/intake';
import { PasarelaError } from '../../errors';
import { receiveAuthnRequest, type ReceiveOptions } from '../../saml/request';
import type { KeyValueStore } from '../../store/types';
import type { TrustRegistry } from '../../trust/types';
import { STORE_UNAVAILABLE } from '../../faults';
import type { Metrics } from '../../metrics';
import { renderError, renderPost, type WebDeps } from '../render';
import { answerUnavailable, setRespondTo } from '../unavailable';

export interface SamlRouteDeps extends WebDeps {
  broker: Broker;
  trust: Pick<TrustRegistry, 'get'>;
  store: KeyValueStore;
  ssoUrls: { redirect: string; post: string };
  clockSkewSeconds: number;
  maxRequestAgeSeconds: number;
  sessionCookieName: string;
  now?: () => Date;
  /** Counts rejections by reason code and backend failures (optional: tests build the router alone). */
  metrics?: Pick<Metrics, 'samlRejections' | 'recordBackendError'>;
}

const NO_METRICS: Pick<Metrics, 'recordBackendError'> = { recordBackendError: () => undefined };

/** /saml/sso: HTTP-Redirect (GET) and HTTP-POST. All checks live in saml/request; this only adapts HTTP. */
export function samlRouter(deps: SamlRouteDeps): Router {
  const router = express.Router();
  const receiveOptions = (): ReceiveOptions => intakeOptions(deps);

  const handle = async (req: Request, res: Response, msg: Parameters<typeof receiveAuthnRequest>[0]): Promise<void> => {
    const received = await receiveAuthnRequest(msg, receiveOptions());
    if (!received.ok) {
      const f = received.failure;
      // The replay cache (the intake's last step) could not be reached: our fault, not the SP's.
      if (f.code === STORE_UNAVAILABLE && f.respondTo) {
        setRespondTo(res, f.respondTo);
        return answerUnavailable({ broker: deps.broker, metrics: deps.metrics ?? NO_METRICS }, req, res, new PasarelaError(STORE_UNAVAILABLE, f.message));
      }
      deps.metrics?.samlRejections.inc({ code: f.code });
      req.log.info({ event: 'saml.request.rejected', code: f.code, reason: f.message, respond: !!f.respondTo }, 'AuthnRequest rejected');
      if (f.respondTo) {
        const post = await deps.broker.errorPost(f.respondTo, { status: f.status, subStatus: f.subStatus, message: f.message });
        renderPost(req, res, post);
      } else {
        renderError(req, res, 400, 'error.request', undefined, { detail: f.message });
      }
      return;
    }
    const { request, sp } = received;
    req.log.info(
      { event: 'saml.request.accepted', sp: sp.entityId, requestId: request.id, binding: request.binding, loa: request.requestedLoa },
      'AuthnRequest accepted',
    );
    // From here a backing-service failure is answered at this ACS (app.ts error handler).
    setRespondTo(res, {
      spEntityId: sp.entityId,
      acs: request.acs,
      inResponseTo: request.id,
      ...(request.relayState !== undefined ? { relayState: request.relayState } : {}),
    });
    const cookies = (req.cookies ?? {}) as Record<string, string>;
    const decision = await deps.broker.start(request, sp, cookies[deps.sessionCookieName], req.ip);
    if (decision.kind === 'respond') {
      renderPost(req, res, decision.post);
      return;
    }
    if (decision.kind === 'refuse') {
      res.setHeader('Retry-After', String(decision.retryAfterSeconds));
      renderError(req, res, 429, 'error.too_many_logins', { minutes: String(Math.ceil(decision.retryAfterSeconds / 60)) });
      return;
    }
    res.redirect(303, `/login/${decision.txn.id}`);
  };

  router.get('/saml/sso', async (req, res) => {
    const q = req.originalUrl.indexOf('?');
    await handle(req, res, { binding: 'redirect', rawQuery: q >= 0 ? req.originalUrl.slice(q + 1) : '' });
  });

  // Cl@ve 2 SPs POST a plain base64 SAMLRequest; the body cap sits above the 256 KiB XML cap.
  router.post('/saml/sso', express.urlencoded({ extended: false, limit: '600kb', parameterLimit: 10 }), async (req, res) => {
    await handle(req, res, { binding: 'post', form: (req.body ?? {}) as Record<string, unknown> });
  });

  return router;
}
