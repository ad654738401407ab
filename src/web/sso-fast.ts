import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import proxyaddr from 'proxy-addr';
import { postPage } from './render';
import { ssoMessage, type SsoEndpoint, type SsoOutcome, type SsoRequest, type SsoResponse } from './routes/saml';

/** Connect-style middleware that needs nothing of express (pino-http, helmet, cookie-parser, pageSetup...). */
export type PlainMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface SsoFastPathParts {
  /** The middleware the express app runs before its /saml/sso route, the same instances in the same order. */
  chain: PlainMiddleware[];
  endpoint: SsoEndpoint;
  /** express's compiled 'trust proxy fn', so that the client address is req.ip's. */
  trustProxy: (addr: string, i: number) => boolean;
  /** An express app that answers a handed-off request: it calls `answerHandedOff`, then the app's error handler. */
  handOff: (req: IncomingMessage, res: ServerResponse) => void;
}

/** What the fast path decided, for the express app that answers it (never decided twice: the replay cache took the ID). */
type HandedOff = { outcome: SsoOutcome } | { error: unknown };
const HANDED_OFF = Symbol('pasarela.sso.handedOff');
type WithHandOff = IncomingMessage & { [HANDED_OFF]?: HandedOff };

/** The label the request metrics give the route (app.ts routeLabel reads req.route.path, as express sets it). */
const SSO_ROUTE = Object.freeze({ path: '/saml/sso' });

/**
 * /saml/sso on plain node:http, ahead of express: the SSO round trip of a citizen with a session
 * is the broker's hot path (issue 9), and express's routing, its request and response prototypes
 * and `res.send` were a measurable share of it.
 *
 * It is the express route, not a second implementation:
 * - the same middleware instances run first, in the app's order (request log and id, request
 *   context, metrics timer, security headers, cookies, page setup, page helpers), on the plain
 *   objects, after the same preparation express makes (`originalUrl`, `res.locals`, `req.route`);
 * - the same body parser instance reads a POST;
 * - the same `decide` (intake, replay cache, Broker.start) runs, with the client address express
 *   would compute (proxy-addr with the app's trust-proxy setting);
 * - only an auto-POST page (`postPage`, as renderPost) is written here. Every other outcome — a
 *   rejection, a login to start, a refusal, a body that cannot be read, a backing service down —
 *   goes to `handOff`, an express app that answers it with the express route's own `answer` and
 *   the app's error handler. It takes the outcome already decided: the replay cache has used the
 *   request's ID by then, so deciding again would refuse it as a replay.
 *
 * It takes only what it can answer byte for byte like express: GET and POST on exactly
 * /saml/sso, without conditional-request headers (express's `send` may answer those 304).
 * Everything else (HEAD, /SAML/SSO, a trailing slash, If-None-Match) goes to express untouched.
 * test/flow/sso-fast.test.ts holds the two paths to the same status, headers, body shape, log
 * lines and metrics.
 */
export function ssoFastPath(parts: SsoFastPathParts): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { chain, endpoint, trustProxy, handOff } = parts;
  const toExpress = (req: IncomingMessage, res: ServerResponse, h: HandedOff): void => {
    (req as WithHandOff)[HANDED_OFF] = h;
    handOff(req, res);
  };

  const run = (req: IncomingMessage, res: ServerResponse): void => {
    const r = req as SsoRequest & { originalUrl?: string; route?: unknown; body?: unknown };
    const s = res as SsoResponse;
    const decide = (): void => {
      endpoint
        .decide(r, s, ssoMessage(r), proxyaddr(req, trustProxy))
        .then((outcome) => {
          if (outcome.kind !== 'decided' || outcome.decision.kind !== 'respond') return toExpress(req, res, { outcome });
          // Built before anything is written: if it throws, the error handler still has a clean response.
          const html = postPage(r as Required<typeof r>, s, outcome.decision.post);
          res.statusCode = 200;
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
          res.setHeader('Content-Length', Buffer.byteLength(html));
          res.end(html);
        })
        .catch((error: unknown) => toExpress(req, res, { error }));
    };
    let i = 0;
    // As express's router does: a middleware that throws passes its error on.
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null) return toExpress(req, res, { error: err });
      const m = chain[i++];
      try {
        if (m) m(req, res, next);
        else if (req.method === 'POST') endpoint.bodyParser(r as unknown as Request, s as unknown as Response, (e?: unknown) => (e ? toExpress(req, res, { error: e }) : decide()));
        else decide();
      } catch (error) {
        toExpress(req, res, { error });
      }
    };
    // What express's app.handle and router give every request before its middleware runs.
    r.originalUrl = req.url;
    s.locals = Object.create(null) as Record<string, unknown>;
    r.route = SSO_ROUTE;
    next();
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') return false;
    const url = req.url ?? '';
    if (!(url.startsWith('/saml/sso') && (url.length === 9 || url.charCodeAt(9) === 63 /* ? */))) return false;
    if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) return false;
    run(req, res);
    return true;
  };
}

/** The handed-off request's answer, in the express app: the route's own `answer`, or the error to the app's error handler. */
export function answerHandedOff(endpoint: SsoEndpoint) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = (req as WithHandOff)[HANDED_OFF];
    if (!h) return next(new Error('a request reached the SSO hand-off without an outcome'));
    if ('error' in h) return next(h.error);
    endpoint.answer(req, res, h.outcome).catch(next);
  };
}
