import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Services } from '../services';

/**
 * The operator listener (`operator.host`/`operator.port`, apart from the citizen listener):
 * liveness, readiness and metrics. None of it is reachable from the citizen-facing port, so
 * the trust-list size and process internals are not public.
 */
export function createOperatorApp(s: Pick<Services, 'store' | 'ds' | 'metrics'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(helmet({ hsts: false }));

  /** Alive: the process answers. A load balancer restarts it when this fails. */
  app.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });

  /** Ready: the store and the database answer. A load balancer stops sending logins while this fails. */
  app.get('/readyz', async (_req, res) => {
    const [store, db] = await Promise.all([
      s.store.ping().catch(() => false),
      s.ds.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    ]);
    res.setHeader('Cache-Control', 'no-store');
    res.status(store && db ? 200 : 503).json({ status: store && db ? 'ready' : 'unavailable', store, database: db });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(s.metrics.registry.contentType).send(await s.metrics.registry.metrics());
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  return app;
}
