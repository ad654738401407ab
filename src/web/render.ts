import type { Request, Response } from 'express';
import type { PostBack } from '../broker/broker';
import type { MessageKey } from './i18n';
import { pageContext, setCsp } from './context';
import { autoPostPage, errorPage } from './views';

export interface WebDeps {
  secureCookies: boolean;
}

/** The auto-POST page to an ACS (already validated against the SP's metadata by the caller). */
export function renderPost(req: Request, res: Response, post: PostBack): void {
  setCsp(res, new URL(post.acs).origin);
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
