import type { Request, Response } from 'express';
import type { Broker, PostBack } from '../broker/broker';
import { UNAVAILABLE_STATUS, unavailableBackend } from '../faults';
import type { Metrics } from '../metrics';
import type { AcsEndpoint } from '../saml/types';
import { renderUnavailable } from './render';

/** Where a failure may be answered: set by the SSO route once the intake validated the SP and its ACS. */
export interface RespondTo {
  spEntityId: string;
  acs: AcsEndpoint;
  inResponseTo: string;
  relayState?: string;
}

const MESSAGE = 'The identity broker could not complete the authentication: a service it depends on is unavailable';

/** Mark the request as answerable at this SP's ACS (web/routes/saml.ts, after the intake). */
export function setRespondTo(res: Pick<Response, 'locals'>, to: RespondTo): void {
  res.locals.respondTo = to;
}

/**
 * A backing service failed under this request. The citizen gets a 503 page in their language
 * with Retry-After; if the SP and its ACS are known — the SSO request passed the intake, or a
 * /login/:txn transaction can still be read — the page carries a button that takes a signed
 * Responder error back to that ACS. Logged with the request id, counted in
 * pasarela_backend_errors_total. Nothing is retried here: every write is one store command or
 * one database transaction, so a failure leaves nothing half-written.
 */
export async function answerUnavailable(
  s: { broker: Broker; metrics: Pick<Metrics, 'recordBackendError'> },
  req: Request,
  res: Response,
  err: unknown,
): Promise<void> {
  const backend = unavailableBackend(err) ?? 'store';
  s.metrics.recordBackendError(backend, 'request');
  req.log.error({ event: `${backend}.unavailable`, err: err instanceof Error ? err.message : String(err) }, `${backend} unavailable: answered 503`);
  if (res.headersSent) return;
  let post: PostBack | undefined;
  try {
    const to = res.locals.respondTo as RespondTo | undefined;
    const txn = /^\/login\/([A-Za-z0-9_-]{8,128})(?:\/|$)/.exec(req.path)?.[1];
    if (to) post = await s.broker.errorPost(to, { ...UNAVAILABLE_STATUS, message: MESSAGE });
    // The transaction lives in the store: with the database down it can still be answered.
    else if (txn && backend === 'database') post = (await s.broker.fail(txn, { ...UNAVAILABLE_STATUS, message: MESSAGE })) ?? undefined;
  } catch (e) {
    req.log.warn({ event: 'unavailable.no_response', err: e instanceof Error ? e.message : String(e) }, 'no SAML error could be built for the SP');
  }
  renderUnavailable(req, res, post);
}
