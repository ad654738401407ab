import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { PostBack } from '../broker/broker';
import type { MessageKey } from './i18n';
import { isMessageKey } from './i18n';
import { pageContext, setCsp, type PageResponse } from './context';
import { autoPostPage, errorPage, unavailablePage, type ErrorModel, type NextStep, type PageContext } from './views';

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

/**
 * Per-app page helpers the error pages need, put in `res.locals.pages` by `pagesLocals`: the
 * HMAC key that signs error-page addresses (so an error shown after a POST can be shown again
 * in the other language with a GET), and the CSRF token for the "return to the service" form.
 */
export interface PageHelpers {
  signer: Signer;
  csrfToken(req: Request, res: Response): string;
}

export class Signer {
  constructor(private readonly key: Buffer) {}
  sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 32);
  }
  verify(payload: string, mac: string): boolean {
    const want = Buffer.from(this.sign(payload));
    const got = Buffer.from(mac);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

function helpers(res: Pick<Response, 'locals'>): PageHelpers | undefined {
  return res.locals.pages as PageHelpers | undefined;
}

/** The auto-POST page to an ACS (already validated against the SP's metadata by the caller). */
export function renderPost(req: Request, res: Response, post: PostBack): void {
  res.status(200).type('html').send(postPage(req, res, post));
}

/**
 * The auto-POST page's HTML, with its headers (CSP allowing the ACS origin as form-action,
 * no-store) set on `res`: for renderPost, and for the SSO fast path, which writes it itself on a
 * plain node:http response (web/sso-fast.ts).
 */
export function postPage(req: Pick<Request, 'method' | 'originalUrl'>, res: Pick<PageResponse, 'locals' | 'setHeader'>, post: PostBack): string {
  setCsp(res, originOf(post.acs));
  res.setHeader('Cache-Control', 'no-store');
  const ctx = pageContext(req, res);
  const h = helpers(res);
  // With the signed language-switch button the page never links its own address: don't make the
  // layout parse and re-serialize it (on HTTP-Redirect it is kilobytes of SAMLRequest query).
  if (h) ctx.path = pathOnly(ctx.path);
  return autoPostPage(ctx, post, h ? h.signer.sign(postMacInput(post)) : undefined);
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** What the language switch of an auto-POST page signs: the post it shows again. */
export function postMacInput(post: PostBack): string {
  return `post\0${post.acs}\0${post.samlResponse}\0${post.relayState ?? '\u0001'}`;
}

export interface ErrorOptions {
  /** Technical detail for the SP's developers (English): collapsed under the message, and in the log. */
  detail?: string;
  /** What the citizen can do next; by default the information page about signing in. */
  next?: NextStep[];
}

interface ErrorToken {
  s: number;
  k: MessageKey;
  v?: Record<string, string>;
  d?: string;
  n?: NextStep[];
  r: string;
  t: number;
}

/** Signed error addresses live this long: enough to switch language, not a permanent link. */
const ERROR_LINK_MS = 3_600_000;

function defaultNext(ctx: PageContext): NextStep[] {
  return [{ kind: 'link', href: '/info/about', label: ctx.t('error.next.info') }];
}

/** Both ways to an error page end here: the form token a "return to the service" step needs, CSP, no caching. */
function sendErrorPage(req: Request, res: Response, ctx: PageContext, status: number, m: ErrorModel): void {
  const h = helpers(res);
  if (h && m.next.some((n) => n.kind === 'return')) ctx.csrfToken = h.csrfToken(req, res);
  setCsp(res);
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('html').send(errorPage(ctx, m));
}

/**
 * An error page: what went wrong in the citizen's language, what to do next, the technical
 * detail collapsed for developers, and the reference id that also appears in the log.
 */
export function renderError(req: Request, res: Response, status: number, key: MessageKey, vars?: Record<string, string>, opts: ErrorOptions = {}): void {
  const ctx = pageContext(req, res);
  const next = opts.next ?? defaultNext(ctx);
  const h = helpers(res);
  const referenceId = String(req.id);
  if (h && req.method !== 'GET' && req.method !== 'HEAD') {
    // A page answering a POST cannot be fetched again: the language switch gets a signed GET address.
    const token: ErrorToken = { s: status, k: key, v: vars, d: opts.detail, n: opts.next, r: referenceId, t: Date.now() };
    const payload = Buffer.from(JSON.stringify(token)).toString('base64url');
    ctx.switchPath = `/error/${payload}.${h.signer.sign(`error\0${payload}`)}`;
  }
  if (opts.detail) req.log?.info({ event: 'page.error', key, detail: opts.detail }, 'error page shown');
  sendErrorPage(req, res, ctx, status, { message: ctx.t(key, vars), referenceId, detail: opts.detail, next });
}

/** GET /error/<token>: the same error page again (after a language switch). */
export function renderErrorLink(req: Request, res: Response): void {
  const h = helpers(res);
  const [payload = '', mac = ''] = String(req.params.token ?? '').split('.');
  let token: ErrorToken | undefined;
  if (h && payload.length < 8192 && h.signer.verify(`error\0${payload}`, mac)) {
    try {
      token = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ErrorToken;
    } catch {
      token = undefined;
    }
  }
  if (!token || !isMessageKey(token.k) || Date.now() - token.t > ERROR_LINK_MS) return renderError(req, res, 404, 'error.notfound');
  const ctx = pageContext(req, res);
  sendErrorPage(req, res, ctx, token.s, { message: ctx.t(token.k, token.v), referenceId: token.r, detail: token.d, next: token.n ?? defaultNext(ctx) });
}

/** POST /post/lang: an auto-POST page shown again in the other language, only if we signed it. */
export function renderPostAgain(req: Request, res: Response): void {
  const h = helpers(res);
  // The page's own form posts its fields (SAMLResponse, RelayState); the button's address adds the ACS and the MAC.
  const body = (req.body ?? {}) as Record<string, unknown>;
  const str = (from: Record<string, unknown>, k: string) => (typeof from[k] === 'string' ? (from[k] as string) : undefined);
  const query = req.query as Record<string, unknown>;
  const acs = str(query, 'acs');
  const samlResponse = str(body, 'SAMLResponse');
  const post: PostBack | undefined = acs && samlResponse ? { acs, samlResponse, relayState: str(body, 'RelayState') } : undefined;
  if (!h || !post || !h.signer.verify(postMacInput(post), str(query, 'mac') ?? '')) return renderError(req, res, 404, 'error.notfound');
  renderPost(req, res, post);
}

/** 503: a backing service is down. With `post`, a button returns the signed Responder error to the (validated) ACS. */
export function renderUnavailable(req: Request, res: Response, post?: PostBack, retryAfterSeconds = 30): void {
  const ctx = pageContext(req, res);
  setCsp(res, post ? originOf(post.acs) : undefined);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(503).type('html').send(unavailablePage(ctx, String(req.id), post));
}
