/**
 * npm run bench:middleware — the CPU each piece of the app's middleware adds to one request, in
 * one process, one request at a time: for every variant an express app with only that middleware
 * in front of a handler answering a page of the auto-POST page's size; the client and the bare
 * express round trip are the `none` row, every other row is `extra` over it. Rounds alternate the
 * variants so that the load of a shared machine spreads over all of them; the median is printed.
 * Figures for docs/ARCHITECTURE.md ("Where the CPU of an SSO goes"); ~20 µs is the noise here.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { createLogger, requestContext } from '../src/log';
import { createMetrics } from '../src/metrics';
import { pageSetup } from '../src/web/context';

const N = Number(process.env.BENCH_MIDDLEWARE_N ?? 1500);
const ROUNDS = Number(process.env.BENCH_MIDDLEWARE_ROUNDS ?? 7);
const page = 'x'.repeat(13_300);
const metrics = createMetrics();
const cookie = 'pasarela_bid=abcdefghijklmnopqrstuvwxyz012345; pasarela_sso=abcdefghijklmnopqrstuvwxyz0123456789AB';

/** Each as app.ts configures it. */
const variants: Record<string, (app: Express) => void> = {
  none: () => undefined,
  'pino-http': (app) =>
    app.use(
      pinoHttp({
        logger: createLogger('warn'),
        genReqId: (_req, res) => {
          const id = randomUUID();
          res.setHeader('X-Request-Id', id);
          return id;
        },
        wrapSerializers: false,
        serializers: { req: (r: { id: string; method: string; url: string }) => ({ id: r.id, method: r.method, path: r.url }), res: (r: { statusCode: number }) => ({ statusCode: r.statusCode }) },
        customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      }),
    ),
  'request context (ALS)': (app) => app.use((_req, _res, next) => requestContext.run({ id: 'abc' }, next)),
  'metrics timer': (app) =>
    app.use((req, res, next) => {
      const end = metrics.httpRequests.startTimer({ method: req.method });
      res.on('finish', () => end({ route: '/saml/sso', status: String(res.statusCode) }));
      next();
    }),
  helmet: (app) => app.use(helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false, frameguard: { action: 'deny' }, strictTransportSecurity: false })),
  'cookie-parser': (app) => app.use(cookieParser()),
  'cookie-parser + pageSetup': (app) => {
    app.use(cookieParser());
    app.use(pageSetup({ secureCookies: false, csrfSecret: 'c'.repeat(40) }));
  },
  '10 no-op layers': (app) => {
    for (let i = 0; i < 10; i++) app.use((_req, _res, next) => next());
  },
};

async function serve(mw: (app: Express) => void): Promise<{ base: string; close: () => void }> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  mw(app);
  app.get('/saml/sso', (_req, res) => {
    res.status(200).type('html').send(page);
  });
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => s.close() };
}

async function cpuPerRequest(base: string): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    await new Promise<void>((resolve, reject) => {
      const rq = httpRequest(`${base}/saml/sso?SAMLRequest=${'x'.repeat(1500)}`, { headers: { cookie, 'accept-language': 'es-ES,es;q=0.9' } }, (res) => res.resume().on('end', resolve));
      rq.on('error', reject);
      rq.end();
    });
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
}

async function main(): Promise<void> {
  const names = Object.keys(variants);
  const servers = await Promise.all(names.map((k) => serve(variants[k]!)));
  const runs: number[][] = names.map(() => []);
  for (let round = 0; round < ROUNDS; round++) for (let i = 0; i < names.length; i++) runs[i]!.push(await cpuPerRequest(servers[i]!.base));
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const none = median(runs[0]!);
  console.log(`CPU µs per request, client included, median of ${ROUNDS} rounds of ${N} (Node ${process.version}):`);
  names.forEach((k, i) => console.log(`  ${k.padEnd(28)} ${median(runs[i]!).toFixed(0).padStart(5)}   extra ${(median(runs[i]!) - none).toFixed(0).padStart(4)}`));
  for (const s of servers) s.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
