import express, { type Express, type Router } from 'express';
import { adminApiFor } from '../admin/api';
import helmet from 'helmet';
import { withTimeout } from '../faults';
import type { Metrics } from '../metrics';
import type { Services } from '../services';

export interface Readiness {
  ready: boolean;
  store: boolean;
  database: boolean;
}

/** What the operator endpoints report: one broker process, or (cluster.ts) every worker. */
export interface OperatorSources {
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ contentType: string; text: string }>;
  /** The admin API router, mounted at /admin/api (src/admin/api). */
  admin?: Router;
}

/** How long /readyz waits for each of the store and the database: a hung backend is a failed probe, never a hung probe. */
export const PROBE_TIMEOUT_MS = 1500;

/** Store and database answer within PROBE_TIMEOUT_MS? (The probe of /readyz.) Failures are counted in the metrics. */
export async function readiness(s: Pick<Services, 'store' | 'ds'> & { metrics?: Pick<Metrics, 'recordBackendError'> }): Promise<Readiness> {
  const [store, database] = await Promise.all([
    withTimeout(s.store.ping(), PROBE_TIMEOUT_MS, false),
    withTimeout(
      s.ds.query('SELECT 1').then(() => true),
      PROBE_TIMEOUT_MS,
      false,
    ),
  ]);
  if (!store) s.metrics?.recordBackendError('store', 'probe');
  if (!database) s.metrics?.recordBackendError('database', 'probe');
  return { ready: store && database, store, database };
}

/**
 * The operator listener (`operator.host`/`operator.port`, apart from the citizen listener):
 * liveness, readiness and metrics. None of it is reachable from the citizen-facing port, so
 * the trust-list size and process internals are not public.
 *
 * @param started while it answers false (the once-per-deployment bootstrap has not written the
 *   trust list yet), /readyz is 503 even when the stores answer: a load balancer must not send
 *   logins that would find no SP.
 */
export function createOperatorApp(s: Pick<Services, 'store' | 'ds' | 'metrics'> & Partial<Services>, started: () => boolean = () => true): Express {
  return createOperatorAppFrom({
    readiness: async () => {
      const r = await readiness(s);
      return started() ? r : { ...r, ready: false };
    },
    metrics: async () => ({ contentType: s.metrics.registry.contentType, text: await s.metrics.registry.metrics() }),
    ...(s.config && s.trust && s.broker ? { admin: adminApiFor(s as Services) } : {}),
  });
}

export function createOperatorAppFrom(sources: OperatorSources): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet({ hsts: false }));

  /** Alive: the process answers. A load balancer restarts it when this fails. */
  app.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });

  /** Ready: the store and the database answer. A load balancer stops sending logins while this fails. */
  app.get('/readyz', async (_req, res) => {
    const r = await sources.readiness();
    res.setHeader('Cache-Control', 'no-store');
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'unavailable', store: r.store, database: r.database });
  });

  app.get('/metrics', async (_req, res) => {
    const m = await sources.metrics();
    res.type(m.contentType).send(m.text);
  });

  if (sources.admin) app.use('/admin/api', sources.admin);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}
