import { createHmac, randomUUID } from 'node:crypto';
import cookieParser from 'cookie-parser';
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
import { samlRouter } from './web/routes/saml';
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

/** Builds the express app from services that are already built (no globals), as node-oidc-provider does. */
export function createApp(s: Services): Express {
  const { config, log } = s;
  const app = express();
  app.disable('x-powered-by');
  // Every page is no-store (and an auto-POST page is never the same twice): no ETag hashing per response.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  app.use(
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
  app.use((req, _res, next) => requestContext.run({ id: String(req.id) }, next));
  app.use((req, res, next) => {
    const end = s.metrics.httpRequests.startTimer({ method: req.method });
    res.on('finish', () => end({ route: routeLabel(req.route as { path?: string } | undefined, req.originalUrl.split('?')[0]!), status: String(res.statusCode) }));
    next();
  });
  // CSP is set per page (setCsp): the auto-POST page must allow the ACS origin as form-action.
  // X-Frame-Options DENY agrees with CSP frame-ancestors 'none'; HSTS only where we serve https.
  app.use(
    helmet({
      contentSecurityPolicy: false,
      crossOriginEmbedderPolicy: false,
      frameguard: { action: 'deny' },
      strictTransportSecurity: config.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    }),
  );
  app.use(cookieParser());
  const web = { secureCookies: config.secureCookies, csrfSecret: s.secrets.csrf };
  app.use(pageSetup(web));
  const csrf = createCsrf(web);
  // Error pages sign their own address (language switch after a POST) and may carry the
  // "return to the service" form: both need per-app helpers.
  const pages: PageHelpers = {
    signer: new Signer(createHmac('sha256', s.secrets.csrf).update('pasarela page links').digest()),
    csrfToken: (req, res) => csrf.generateCsrfToken(req, res),
  };
  app.use((_req, res, next) => {
    res.locals.pages = pages;
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

  app.use(
    samlRouter({
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
    }),
  );

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
  // Never a stack trace in a browser: the page carries the reference id, the log the details.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
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
  });
  return app;
}
