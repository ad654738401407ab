import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { serialize as serializeCookie, type CookieSerializeOptions } from 'cookie';
import { randomIdBytes } from '../random';
import type { NextFunction, Request, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { pickLang, translator } from './i18n';
import type { PageContext } from './views';

export const BROWSER_COOKIE = 'pasarela_bid';
export const LANG_COOKIE = 'pasarela_lang';

export interface WebSettings {
  secureCookies: boolean;
  csrfSecret: string;
}

/** Cookie attributes: HttpOnly always; Secure under https. */
export function cookieBase(secure: boolean) {
  return { httpOnly: true, secure, path: '/' } as const;
}

/**
 * The SSO cookie must come back on the SP's cross-site auto-POST to /saml/sso, which needs
 * SameSite=None, which browsers only accept with Secure. Plain-http development falls back to
 * Lax (the demo SP is same-site there).
 */
export function ssoCookieOptions(secure: boolean, maxAgeMs: number) {
  return { ...cookieBase(secure), sameSite: secure ? ('none' as const) : ('lax' as const), maxAge: maxAgeMs };
}

export function createCsrf(settings: WebSettings) {
  return doubleCsrf({
    getSecret: () => settings.csrfSecret,
    // Anonymous citizens have no session yet: a random per-browser id binds the token to the browser.
    getSessionIdentifier: (req) => String((req.cookies as Record<string, string> | undefined)?.[BROWSER_COOKIE] ?? ''),
    cookieName: settings.secureCookies ? '__Host-pasarela.csrf' : 'pasarela_csrf',
    cookieOptions: { sameSite: 'lax', secure: settings.secureCookies, path: '/', httpOnly: true },
    getCsrfTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
  });
}

/**
 * Whether this request carries the browser's SameSite=Lax cookies, had it any: then a missing
 * browser id means the browser has none, and one may be set. A cross-site POST (an SP's
 * HTTP-POST binding), a cross-site subresource or frame has them withheld: setting one there
 * would replace the id the browser has, and break every CSRF token and flow bound to it (a login
 * open in another tab). Per the Fetch metadata the browser sends (Sec-Fetch-*); without it (older
 * browsers, plain http off localhost), GET and HEAD only.
 */
export function carriesLaxCookies(req: Pick<IncomingMessage, 'method' | 'headers'>): boolean {
  const safe = req.method === 'GET' || req.method === 'HEAD';
  const site = req.headers['sec-fetch-site'];
  if (site === undefined) return safe;
  if (site === 'same-origin' || site === 'same-site' || site === 'none') return true;
  // Cross-site: only a top-level navigation by GET sends Lax cookies.
  return safe && req.headers['sec-fetch-mode'] === 'navigate' && (req.headers['sec-fetch-dest'] ?? 'document') === 'document';
}

/**
 * What the page middleware needs of a request and a response: plain node:http objects (the SSO
 * fast path, web/sso-fast.ts) or express's, which extend them. cookie-parser has run (`cookies`);
 * `locals` is express's res.locals, or the fast path's own.
 */
export type PageRequest = IncomingMessage & { cookies?: Record<string, string>; originalUrl?: string };
export type PageResponse = ServerResponse & { locals: Record<string, unknown> };

/**
 * Append a Set-Cookie exactly as express's `res.cookie` does (cookie.serialize; `maxAge` in ms
 * becomes Expires and Max-Age in seconds; Path=/ by default), on a plain node:http response too.
 */
export function appendCookie(res: ServerResponse, name: string, value: string, options: CookieSerializeOptions & { maxAge?: number }): void {
  const opts: CookieSerializeOptions = { ...options };
  if (options.maxAge !== undefined) {
    opts.expires = new Date(Date.now() + options.maxAge);
    opts.maxAge = Math.floor(options.maxAge / 1000);
  }
  if (opts.path === undefined) opts.path = '/';
  const cookie = serializeCookie(name, value, opts);
  const prev = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', prev === undefined ? cookie : Array.isArray(prev) ? [...prev, cookie] : [String(prev), cookie]);
}

/** Per-request: browser id cookie, CSP nonce, language. Plain node:http objects suffice (PageRequest). */
export function pageSetup(settings: WebSettings) {
  return (req: PageRequest, res: PageResponse, next: NextFunction): void => {
    const cookies = req.cookies ?? {};
    if (!cookies[BROWSER_COOKIE] || !/^[A-Za-z0-9_-]{22,64}$/.test(cookies[BROWSER_COOKIE])) {
      // This request gets an id either way; the browser keeps it only where it cannot be replacing one.
      const id = randomBytes(18).toString('base64url');
      cookies[BROWSER_COOKIE] = id;
      req.cookies = cookies;
      if (carriesLaxCookies(req)) appendCookie(res, BROWSER_COOKIE, id, { ...cookieBase(settings.secureCookies), sameSite: 'lax' });
    }
    // The query is parsed (as express's default query parser does) only when it can hold lang: a
    // Redirect SAMLRequest is kilobytes of query string.
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const langParam = q >= 0 && url.includes('lang=', q) ? parseQuery(url.slice(q + 1)).lang : undefined;
    const queryLang = typeof langParam === 'string' ? langParam : undefined;
    const lang = pickLang(queryLang, cookies[LANG_COOKIE], req.headers['accept-language']);
    if (queryLang === lang && cookies[LANG_COOKIE] !== lang) {
      appendCookie(res, LANG_COOKIE, lang, { ...cookieBase(settings.secureCookies), sameSite: 'lax', maxAge: 365 * 86_400_000 });
    }
    res.locals.lang = lang;
    res.locals.nonce = randomIdBytes(16).toString('base64');
    res.setHeader('Content-Language', lang);
    next();
  };
}

/**
 * A step shown in answer to a POST (a wrong PIN, a resend) has no GET address of its own: its
 * language switch goes to the method's GET page, which shows the login's current step again.
 */
function getPathOf(req: Pick<Request, 'method' | 'originalUrl'>): string | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const path = req.originalUrl.split('?')[0]!;
  const login = /^\/login\/([A-Za-z0-9_-]{16,64})(\/[a-z]+)?/.exec(path);
  if (login) return `/login/${login[1]}${login[2] ?? ''}`;
  const account = /^\/account\/[a-z-]+/.exec(path);
  return account ? account[0] : undefined;
}

export function pageContext(req: Pick<Request, 'method' | 'originalUrl'>, res: Pick<Response, 'locals'>, csrfToken?: string): PageContext {
  const lang = res.locals.lang as PageContext['lang'];
  return { lang, t: translator(lang), path: req.originalUrl, switchPath: getPathOf(req), csrfToken, nonce: res.locals.nonce as string };
}

/**
 * Our pages load nothing from elsewhere; the only script is the nonce'd auto-submit, and the
 * only cross-origin form target is the ACS of the SP being answered.
 */
export function setCsp(res: Pick<PageResponse, 'locals' | 'setHeader'>, formActionOrigin?: string): void {
  const nonce = res.locals.nonce as string;
  const formAction = formActionOrigin ? `'self' ${formActionOrigin}` : `'self'`;
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'self'; img-src 'self'; script-src 'nonce-${nonce}'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
  );
}
