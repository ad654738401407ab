import type { Request, Response } from 'express';
import type { PostBack } from '../broker/broker';
import type { MessageKey } from './i18n';
import { pageContext, setCsp } from './context';
import { autoPostPage, errorPage, unavailablePage } from './views';

export interface WebDeps {
  secureCookies: boolean;
}

/** ACS URL -> origin (the CSP form-action); ACS URLs come from SP metadata, so the map stays small. */
const origins = new Map<string, string>();
function originOf(url: string): string {
  let o = origins.get(url);
  if (o === undefined) {
    o = new URL(url).origin;
    if (origins.size > 10_000) origins.clear();
    origins.set(url, o);
  }
  return o;
}

/** The auto-POST page to an ACS (already validated against the SP's metadata by the caller). */
export function renderPost(req: Request, res: Response, post: PostBack): void {
  setCsp(res, originOf(post.acs));
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).type('html').send(autoPostPage(pageContext(req, res), post));
}

/** An error page: what went wrong, and the reference id that also appears in the log. */
export function renderError(req: Request, res: Response, status: number, key: MessageKey, vars?: Record<string, string>): void {
  const ctx = pageContext(req, res);
  setCsp(res);
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('html').send(errorPage(ctx, ctx.t(key, vars), String(req.id)));
}

/** 503: a backing service is down. With `post`, a button returns the signed Responder error to the (validated) ACS. */
export function renderUnavailable(req: Request, res: Response, post?: PostBack, retryAfterSeconds = 30): void {
  const ctx = pageContext(req, res);
  setCsp(res, post ? originOf(post.acs) : undefined);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(503).type('html').send(unavailablePage(ctx, String(req.id), post));
}
