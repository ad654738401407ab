import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { Config } from './config';
import { ConfigError } from './errors';
import type { Logger } from './log';
import { createOperatorAppFrom, type Readiness } from './operator/app';
import { adminApiFor, trustAdminFor } from './admin/api';
import { scheduleRefresh } from './trust/schedule';
import { banner, listen } from './startup';
import { bootstrapServices, buildServices } from './services';

/** Messages between the primary and its workers. */
export type WorkerMessage =
  | { type: 'pasarela:listening' }
  | { type: 'pasarela:readyz?'; id: string }
  /** After the primary's bootstrap wrote the trust list: read it again. */
  | { type: 'pasarela:trust-reload' }
  | { type: 'pasarela:trust-reloaded' }
  | ({ type: 'pasarela:readyz'; id: string } & Readiness);

const READY_TIMEOUT_MS = 2000;
/** A worker that dies this soon after its start is not restarted in a loop: the cluster stops. */
const MIN_WORKER_LIFE_MS = 10_000;

/**
 * The cluster primary (`workers` > 1). It does the once-per-deployment work a worker must not
 * race on (migrations, development keys and PKI; once every worker and the operator listener
 * are up, the metadata directory import, the demo SP and citizen, after which the workers
 * reload the trust list), and forks the workers, which share the public ports (node:cluster distributes
 * connections round-robin) and state through Redis and PostgreSQL. It serves the operator
 * listener: /readyz asks every worker, /metrics sums theirs (prom-client's AggregatorRegistry)
 * and adds the primary's own process metrics, so the CPU of every broker process is counted.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  if (!config.store.redisUrl || !config.database.url) {
    throw new ConfigError('workers', 'REDIS_URL and DATABASE_URL when more than one worker runs (the in-memory store and SQLite belong to one process)');
  }
  // Keys, migrations and the development PKI now; the trust-list and demo writes wait until the
  // workers and the operator listener are up, so a start that fails writes nothing.
  const prepared = await buildServices(config, log, { bootstrap: false });
  const facts = { demo: prepared.demo, devPki: prepared.devPki, certificate: prepared.certificate };
  // Kept open for the admin API (trust list, self-check) and the metadata refresh schedule on the operator listener.
  const stopRefresh = scheduleRefresh(trustAdminFor(prepared), config.admin.refreshIntervalMinutes, log);

  const pending = new Map<string, (r: Readiness) => void>();
  const started = new Map<number, number>();
  let stopping = false;
  const fork = (): Worker => {
    // One worker per core signs on its own event loop (setRsaSigning('inline')): no pool threads to compete.
    const w = cluster.fork({ UV_THREADPOOL_SIZE: '1' });
    started.set(w.id, Date.now());
    w.on('message', (m: WorkerMessage) => {
      if (m?.type === 'pasarela:readyz') pending.get(`${w.id}:${m.id}`)?.({ ready: m.ready, store: m.store, database: m.database });
    });
    return w;
  };
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    const lived = Date.now() - (started.get(w.id) ?? 0);
    log.error({ event: 'cluster.worker_exit', worker: w.id, code, signal, livedMs: lived }, 'a broker worker exited');
    if (lived < MIN_WORKER_LIFE_MS) {
      log.fatal({ event: 'cluster.crash_loop' }, 'a worker died right after starting; stopping the cluster');
      process.exit(1);
    }
    fork();
  });

  const listening = new Promise<void>((resolve) => {
    let n = 0;
    cluster.on('message', (_w, m: WorkerMessage) => {
      if (m?.type === 'pasarela:listening' && ++n === config.workers) resolve();
    });
  });
  for (let i = 0; i < config.workers; i++) fork();
  await listening;

  const askWorker = (w: Worker): Promise<Readiness> =>
    new Promise((resolve) => {
      const id = randomUUID();
      const key = `${w.id}:${id}`;
      const timer = setTimeout(() => {
        pending.delete(key);
        resolve({ ready: false, store: false, database: false });
      }, READY_TIMEOUT_MS);
      pending.set(key, (r) => {
        clearTimeout(timer);
        pending.delete(key);
        resolve(r);
      });
      w.send({ type: 'pasarela:readyz?', id } satisfies WorkerMessage);
    });
  const aggregator = new AggregatorRegistry();
  let trustLoaded = false;
  const own = new Registry();
  collectDefaultMetrics({ register: own, prefix: 'pasarela_primary_' });
  const operator = await listen(
    createServer(
      createOperatorAppFrom({
        async readiness() {
          const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
          const all = await Promise.all(workers.map(askWorker));
          const store = all.length > 0 && all.every((r) => r.store);
          const database = all.length > 0 && all.every((r) => r.database);
          // Not ready before every worker has read the trust list the bootstrap wrote: until then a
          // worker answers every SP "not a registered service provider".
          return { ready: trustLoaded && store && database, store, database };
        },
        async metrics() {
          const workers = await aggregator.clusterMetrics();
          return { contentType: aggregator.contentType, text: `${workers}\n${await own.metrics()}` };
        },
        admin: adminApiFor(prepared),
      }),
    ),
    config.operator.port,
    config.operator.host,
  );
  await bootstrapServices(prepared);
  // The primary's services stay open: the admin API and the refresh schedule use them (closed at shutdown).
  await reloadWorkersTrust(log);
  trustLoaded = true;
  const certificateHost = config.methods.enabled.includes('certificate')
    ? { url: `https://${config.certificate.host}:${config.certificate.port}` }
    : undefined;
  console.log(banner(config, facts, operator, certificateHost, config.workers));

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down the cluster: workers finish the requests in flight');
    operator.close();
    stopRefresh();
    void prepared.close().catch(() => undefined);
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    const check = setInterval(() => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    }, 100);
    check.unref();
    setTimeout(() => process.exit(1), 12_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** Every worker reads the trust list again (after the bootstrap); resolves when all answered, or after 5 s. */
function reloadWorkersTrust(log: Logger): Promise<void> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  return new Promise((resolve) => {
    let left = workers.length;
    if (left === 0) return resolve();
    const timer = setTimeout(() => {
      log.warn({ event: 'cluster.trust_reload_timeout', left }, 'not every worker confirmed the trust-list reload');
      resolve();
    }, 5000);
    for (const w of workers) {
      const onMessage = (m: WorkerMessage) => {
        if (m?.type !== 'pasarela:trust-reloaded') return;
        w.off('message', onMessage);
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      w.on('message', onMessage);
      w.send({ type: 'pasarela:trust-reload' } satisfies WorkerMessage);
    }
  });
}
