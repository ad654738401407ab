import { createHmac, randomUUID } from 'node:crypto';
import cookieParser from 'cookie-parser';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { AuditLog } from './audit/log';
import type { Services } from './services';
import { createCsrf, pageSetup } from './web/context';
import { createKit } from './web/kit';
import { renderError, renderErrorLink, renderPostAgain, Signer, type PageHelpers } from './web/render';
import { answerUnavailable } from './web/unavailable';
import { unavailableBackend } from './faults';
import { requestContext } from './log';
import { infoRouter } from './web/info';
import { loginRouter } from './web/routes/login';
import { accountRouter } from './web/routes/account';
import { accountRegisterRouter } from './web/routes/account-register';
import { certificateHostUrl } from './authn/certificate';
import type { MethodId } from './saml/types';
import { metadataRouter } from './web/routes/metadata';
import { samlRouter, ssoEndpoint } from './web/routes/saml';
import { answerHandedOff, ssoFastPath, type PlainMiddleware } from './web/sso-fast';
import { STYLESHEET } from './web/views';

function withoutQuery(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?[query omitted]`;
}

/** A bounded label set: a few fixed prefixes (their paths carry ids), else the matched route pattern. */
function routeLabel(route: { path?: string } | undefined, path: string): string {
  for (const p of ['/login/', '/account/', '/demo', '/static/', '/dev-pki/']) if (path.startsWith(p)) return `${p}*`;
  return typeof route?.path === 'string' ? route.path : 'other';
}

/**
 * The broker's public web app: a node:http request listener. /saml/sso takes the fast path
 * (web/sso-fast.ts) in front of the express app, which serves everything else; `express` is that
 * app. `fastPath: false` serves /saml/sso by express too (the equivalence test compares them).
 */
export type BrokerApp = ((req: IncomingMessage, res: ServerResponse) => void) & { express: Express };

/** express with the settings the app and the SSO hand-off share. */
function baseExpress(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Every page is no-store (and an auto-POST page is never the same twice): no ETag hashing per response.
  app.set('etag', false);
  app.set('trust proxy', s.config.trustProxy);
  return app;
}

/** Builds the app from services that are already built (no globals), as node-oidc-provider does. */
export function createApp(s: Services, opts: { fastPath?: boolean } = {}): BrokerApp {
  const { config, log } = s;
  const app = baseExpress(s);
  // The middleware every page runs, in order; the SSO fast path runs the same instances.
  const chain: PlainMiddleware[] = [];
  const use = (m: PlainMiddleware): void => {
    chain.push(m);
    app.use(m);
  };
  use(
    pinoHttp({
      logger: log,
      genReqId: (_req, res) => {
        const id = randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Query strings carry SAML messages (a redirect's Location holds a whole SAMLRequest): paths only, no headers.
      // Unwrapped: pino's standard wrapper copies req.query, which makes express parse the whole query string.
      wrapSerializers: false,
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: withoutQuery(req.url) }),
        res: (res: { statusCode: number; getHeader(name: string): unknown }) => {
          const location = res.getHeader('location');
          return { statusCode: res.statusCode, ...(typeof location === 'string' ? { location: withoutQuery(location) } : {}) };
        },
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    }),
  );
  // Lines logged while serving the request carry its id (log.ts requestContext), whichever logger writes them.
  use((req, _res, next) => requestContext.run({ id: String(req.id) }, next));
  use((req, res, next) => {
    const end = s.metrics.httpRequests.startTimer({ method: req.method });
    const r = req as Partial<Request>;
    res.on('finish', () => end({ route: routeLabel(r.route as { path?: string } | undefined, r.originalUrl!.split('?')[0]!), status: String(res.statusCode) }));
    next();
  });
  // CSP is set per page (setCsp): the auto-POST page must allow the ACS origin as form-action.
  // X-Frame-Options DENY agrees with CSP frame-ancestors 'none'; HSTS only where we serve https.
  use(
    helmet({
      contentSecurityPolicy: false,
      crossOriginEmbedderPolicy: false,
      frameguard: { action: 'deny' },
      strictTransportSecurity: config.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    }),
  );
  use(cookieParser() as PlainMiddleware);
  const web = { secureCookies: config.secureCookies, csrfSecret: s.secrets.csrf };
  use(pageSetup(web) as PlainMiddleware);
  const csrf = createCsrf(web);
  // Error pages sign their own address (language switch after a POST) and may carry the
  // "return to the service" form: both need per-app helpers.
  const pages: PageHelpers = {
    signer: new Signer(createHmac('sha256', s.secrets.csrf).update('pasarela page links').digest()),
    csrfToken: (req, res) => csrf.generateCsrfToken(req, res),
  };
  use((_req, res, next) => {
    (res as Response).locals.pages = pages;
    next();
  });
  app.get('/error/:token', renderErrorLink);
  app.post('/post/lang', express.urlencoded({ extended: false, limit: '512kb', parameterLimit: 8 }), renderPostAgain);

  app.get('/static/pasarela.css', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('css').send(STYLESHEET);
  });

  app.use(
    metadataRouter({
      entityId: config.entityId,
      ssoUrls: config.ssoUrls,
      keys: s.keys,
      supportedLoas: config.saml.supportedLoas,
      validityHours: config.saml.metadataValidityHours,
      algorithm: config.trust.defaultPolicy.signatureAlgorithm,
      now: s.now,
    }),
  );

  const samlDeps = {
    broker: s.broker,
    trust: s.trust,
    store: s.store,
    ssoUrls: config.ssoUrls,
    clockSkewSeconds: config.saml.clockSkewSeconds,
    maxRequestAgeSeconds: config.saml.maxRequestAgeSeconds,
    sessionCookieName: config.session.cookieName,
    secureCookies: config.secureCookies,
    now: s.now,
    metrics: s.metrics,
  };
  const sso = ssoEndpoint(samlDeps);
  // Middleware that /saml/sso must run belongs in the chain above (`use`), never between it and
  // this router: the fast path runs the chain, then the route's own code, and nothing else.
  app.use(samlRouter(samlDeps, sso));

  const loginAudit = new AuditLog(s.ds);
  const kit = createKit({
    broker: s.broker,
    citizens: s.citizens,
    store: s.store,
    loaPolicy: config.loaPolicy,
    log,
    now: s.now,
    secureCookies: config.secureCookies,
    sessionCookieName: config.session.cookieName,
    sessionTtlSeconds: config.session.ttlSeconds,
    csrf,
    audit: (event) => s.ds.transaction((m) => loginAudit.record(event, m)),
  });
  app.use(loginRouter(kit, s.authenticators, config.session.cookieName));
  // The citizen's own Cl@ve Permanente services under /account (issue 7).
  app.use(
    accountRouter(kit, {
      lifecycle: s.lifecycle,
      codeDeps: { notifier: s.notifier, otp: config.otp, notifyRate: config.notify.rate },
      revokeSessions: (citizenId) => s.broker.sessions.revokeSubject(citizenId, s.now()),
      certificateHostUrl: config.methods.enabled.includes('certificate') ? certificateHostUrl(s.certificate) : undefined,
    }),
  );
  app.use(
    accountRegisterRouter(kit, {
      lifecycle: s.lifecycle,
      codeDeps: { notifier: s.notifier, otp: config.otp, notifyRate: config.notify.rate },
      certificateHostUrl: config.methods.enabled.includes('certificate') ? certificateHostUrl(s.certificate) : undefined,
    }),
  );
  app.use(infoRouter({ loaPolicy: config.loaPolicy, methods: config.methods.enabled as MethodId[] }));

  if (s.devPki) {
    const crls = s.devPki.crls;
    // The development PKI's CRLs, named in its certificates' CRL distribution points.
    app.get('/dev-pki/:name.crl', (req, res) => {
      const file = Object.hasOwn(crls, req.params.name) ? crls[req.params.name] : undefined;
      if (!file) return renderError(req, res, 404, 'error.notfound');
      res.type('application/pkix-crl').sendFile(file);
    });
  }

  if (s.demo) {
    app.use(s.demo.router);
    app.get('/', (_req, res) => res.redirect(302, '/demo'));
  }

  app.use((req, res) => renderError(req, res, 404, 'error.notfound'));
  const onError = errorHandler(s, csrf);
  app.use(onError);

  // The SSO hand-off: answers what the fast path decided but does not write itself (web/sso-fast.ts).
  const handOff = baseExpress(s);
  handOff.use(answerHandedOff(sso));
  handOff.use(onError);
  const fast = opts.fastPath === false ? undefined : ssoFastPath({ chain, endpoint: sso, trustProxy: app.get('trust proxy fn') as (a: string, i: number) => boolean, handOff });
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (!fast?.(req, res)) void app(req, res);
  };
  return Object.assign(listener, { express: app });
}

/** Never a stack trace in a browser: the page carries the reference id, the log the details. */
function errorHandler(s: Services, csrf: ReturnType<typeof createCsrf>) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {

    const e = err as { code?: string; type?: string; status?: number; message?: string };
    if (e.code === 'EBADCSRFTOKEN' || e === csrf.invalidCsrfTokenError) {
      req.log.info({ event: 'csrf.rejected' }, 'CSRF token rejected');
      const txn = /^\/login\/([A-Za-z0-9_-]{16,64})/.exec(req.originalUrl)?.[1];
      return renderError(req, res, 403, 'error.csrf', undefined, txn ? { next: [{ kind: 'chooser', txnId: txn }] } : {});
    }
    if (e.type === 'entity.too.large') return renderError(req, res, 413, 'error.request', undefined, { detail: 'The message body is too large.' });
    if (e.type === 'entity.parse.failed' || e.type === 'parameters.too.many') {
      return renderError(req, res, 400, 'error.request', undefined, { detail: 'The form body could not be read.' });
    }
    // Redis or PostgreSQL unreachable: 503 (and the SP's signed Responder error when its ACS is known).
    if (unavailableBackend(err)) return answerUnavailable(s, req, res, err);
    if (e.code === 'ERR_STORE_FULL') {
      req.log.error({ event: 'store.full', err: e.message }, 'in-memory store full: write refused');
      if (res.headersSent) return;
      res.setHeader('Retry-After', '60');
      return renderError(req, res, 503, 'error.busy');
    }
    req.log.error({ err }, 'unhandled error');
    if (res.headersSent) return;
    renderError(req, res, 500, 'error.internal');
  };
}
