import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Broker, StartDecision } from '../../broker/broker';
import { intakeOptions } from '../../broker/intake';
import { PasarelaError } from '../../errors';
import { receiveAuthnRequest, type InboundAuthnRequestMessage, type ReceiveOptions } from '../../saml/request';
import type { SamlRequestFailure } from '../../saml/types';
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

/**
 * What /saml/sso decided about one request, before anything is written to the response. Taking
 * the request's ID in the replay cache and starting a login are done by then; answering is not.
 */
export type SsoOutcome =
  /** The replay cache (the intake's last step) could not be reached: our fault, not the SP's. */
  | { kind: 'unavailable'; message: string }
  | { kind: 'rejected'; failure: SamlRequestFailure }
  | { kind: 'decided'; decision: StartDecision };

/** The request as the SSO endpoint reads it: plain node:http (web/sso-fast.ts) or express's. */
export type SsoRequest = IncomingMessage & { log: Logger; cookies?: Record<string, string> };
export type SsoResponse = ServerResponse & { locals: Record<string, unknown> };

/** The message of one request to /saml/sso, from its address (Redirect) or its parsed form body (POST). */
export function ssoMessage(req: IncomingMessage & { body?: unknown; originalUrl?: string }): InboundAuthnRequestMessage {
  if (req.method === 'POST') return { binding: 'post', form: (req.body ?? {}) as Record<string, unknown> };
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return { binding: 'redirect', rawQuery: q >= 0 ? url.slice(q + 1) : '' };
}

/**
 * /saml/sso in two halves, so that the express route and the node:http fast path (web/sso-fast.ts)
 * run the same code: `decide` does the intake and Broker.start (logging what it decided, and
 * marking the response answerable at the SP's ACS from then on), `answer` writes the page for
 * any outcome. `decide` may throw a backing-service error: the app's error handler answers it.
 */
export function ssoEndpoint(deps: SamlRouteDeps) {
  const receiveOptions = (): ReceiveOptions => intakeOptions(deps);
  // Cl@ve 2 SPs POST a plain base64 SAMLRequest; the body cap sits above the 256 KiB XML cap.
  const bodyParser: RequestHandler = express.urlencoded({ extended: false, limit: '600kb', parameterLimit: 10 });

  async function decide(req: SsoRequest, res: SsoResponse, msg: InboundAuthnRequestMessage, clientAddress: string | undefined): Promise<SsoOutcome> {
    const received = await receiveAuthnRequest(msg, receiveOptions());
    if (!received.ok) {
      const f = received.failure;
      if (f.code === STORE_UNAVAILABLE && f.respondTo) {
        setRespondTo(res, f.respondTo);
        return { kind: 'unavailable', message: f.message };
      }
      deps.metrics?.samlRejections.inc({ code: f.code });
      req.log.info({ event: 'saml.request.rejected', code: f.code, reason: f.message, respond: !!f.respondTo }, 'AuthnRequest rejected');
      return { kind: 'rejected', failure: f };
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
    const cookies = req.cookies ?? {};
    return { kind: 'decided', decision: await deps.broker.start(request, sp, cookies[deps.sessionCookieName], clientAddress) };
  }

  async function answer(req: Request, res: Response, outcome: SsoOutcome): Promise<void> {
    if (outcome.kind === 'unavailable') {
      return answerUnavailable({ broker: deps.broker, metrics: deps.metrics ?? NO_METRICS }, req, res, new PasarelaError(STORE_UNAVAILABLE, outcome.message));
    }
    if (outcome.kind === 'rejected') {
      const f = outcome.failure;
      if (f.respondTo) renderPost(req, res, await deps.broker.errorPost(f.respondTo, { status: f.status, subStatus: f.subStatus, message: f.message }));
      else renderError(req, res, 400, 'error.request', undefined, { detail: f.message });
      return;
    }
    const decision = outcome.decision;
    if (decision.kind === 'respond') return renderPost(req, res, decision.post);
    if (decision.kind === 'refuse') {
      res.setHeader('Retry-After', String(decision.retryAfterSeconds));
      return renderError(req, res, 429, 'error.too_many_logins', { minutes: String(Math.ceil(decision.retryAfterSeconds / 60)) });
    }
    res.redirect(303, `/login/${decision.txn.id}`);
  }

  return { decide, answer, bodyParser };
}

export type SsoEndpoint = ReturnType<typeof ssoEndpoint>;

/** /saml/sso: HTTP-Redirect (GET) and HTTP-POST. All checks live in saml/request; this only adapts HTTP. */
export function samlRouter(deps: SamlRouteDeps, endpoint: SsoEndpoint = ssoEndpoint(deps)): Router {
  const router = express.Router();
  const handle = async (req: Request, res: Response): Promise<void> => {
    await endpoint.answer(req, res, await endpoint.decide(req, res, ssoMessage(req), req.ip));
  };
  router.get('/saml/sso', handle);
  router.post('/saml/sso', endpoint.bodyParser, handle);
  return router;
}
