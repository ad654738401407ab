import 'reflect-metadata';
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import { startCertificateHost, type CertificateHost } from './authn/certificate';
import { AuditLog } from './audit/log';
import { createApp } from './app';
import { runPrimary, type WorkerMessage } from './cluster';
import { banner, listen } from './startup';
import { loadConfig, type Config } from './config';
import { ConfigError } from './errors';
import { createLogger, type Logger } from './log';
import { createOperatorApp, readiness } from './operator/app';
import { trustAdminFor } from './admin/api';
import { scheduleRefresh } from './trust/schedule';
import { setRsaSigning } from './saml/algorithms';
import { bootstrapServices, buildServices, publishMetadataAges, type Services } from './services';

/**
 * Start the broker (loaded by main.ts): config -> stores -> app -> listen. One process by
 * default; with `workers` > 1 (WORKERS), the primary (cluster.ts) prepares keys, migrations and
 * the trust list once, serves the operator listener, and forks workers that share the public
 * ports (node:cluster), each a full broker on the shared Redis and PostgreSQL.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.log.level);
  if (cluster.isPrimary && config.workers > 1) return runPrimary(config, log);
  const worker = cluster.isWorker;
  if (!worker && config.env !== 'production' && !config.secureCookies) {
    log.warn({ baseUrl: config.baseUrl }, 'serving over plain http: development only (cookies are not Secure)');
  }
  // Cluster workers sign on their event loop; RSA_SIGNING=inline|pool overrides (profiling, odd hosts).
  const rsaSigning = process.env.RSA_SIGNING;
  setRsaSigning(rsaSigning === 'inline' || rsaSigning === 'pool' ? rsaSigning : worker ? 'inline' : 'pool');
  // The once-per-deployment writes (demo SP, metadata directory, demo citizen) wait until every
  // listener is bound: a start that fails writes nothing. Workers never do them (the primary did).
  const services = await buildServices(config, log, { bootstrap: false });
  const server = await listen(createServer(createApp(services)), config.port, config.host);
  server.keepAliveTimeout = 65_000;
  let operator: Server | undefined;
  // /readyz stays 503 until the bootstrap below has written the trust list (metadata directory, demo SP).
  let bootstrapped = false;
  let stopRefresh = (): void => undefined;
  if (worker) {
    // The primary serves /metrics and /readyz for the whole cluster: answer its questions.
    AggregatorRegistry.setRegistries([services.metrics.registry]);
    new AggregatorRegistry(); // installs the worker side of prom-client's metrics requests
    process.on('message', (m: WorkerMessage) => {
      if (m?.type === 'pasarela:readyz?') void readiness(services).then((r) => process.send?.({ type: 'pasarela:readyz', id: m.id, ...r }));
      if (m?.type === 'pasarela:trust-reload') {
        void services.trust
          .reload()
          .then(() => publishMetadataAges(services))
          .catch((err: unknown) => log.error({ err }, 'trust-list reload failed'))
          .finally(() => process.send?.({ type: 'pasarela:trust-reloaded' }));
      }
    });
  } else {
    operator = await listen(createServer(createOperatorApp(services, () => bootstrapped)), config.operator.port, config.operator.host);
    stopRefresh = scheduleRefresh(trustAdminFor(services), config.admin.refreshIntervalMinutes, log);
  }
  const certificateHost = await startCertificate(config, services, log);
  if (!worker) await bootstrapServices(services);
  bootstrapped = true;
  if (worker) process.send?.({ type: 'pasarela:listening' });
  else console.log(banner(config, services, operator!, certificateHost));

  let draining = false;
  // While draining, every answer closes its connection (keep-alive clients reconnect elsewhere).
  server.on('request', (_req, res: import('node:http').ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
  });
  const shutdown = (signal: string) => {
    if (draining) return;
    draining = true;
    log.info({ signal }, 'shutting down: finishing the requests in flight');
    operator?.close();
    stopRefresh();
    server.close(() => {
      void (certificateHost?.close() ?? Promise.resolve())
        .then(() => services.close())
        .finally(() => process.exit(0));
    });
    // Connections whose request is answered become idle: close them as they do, so close() can complete.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function startCertificate(config: Config, services: Services, log: Logger): Promise<CertificateHost | undefined> {
  if (!config.methods.enabled.includes('certificate')) return undefined;
  const audit = new AuditLog(services.ds);
  return startCertificateHost({
    settings: services.certificate,
    baseUrl: config.baseUrl,
    broker: services.broker,
    store: services.store,
    log,
    now: services.now,
    env: config.env,
    keysDir: path.resolve(config.root, config.keys.dir),
    root: config.root,
    audit: (event) => services.ds.transaction((m) => audit.record(event, m)),
    metrics: services.metrics,
  });
}

/** Run the broker (single process, cluster primary or worker); exits with a message on a bad start. */
export function start(): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`pasarela: ${err.message}`);
      process.exit(2);
    }
    console.error('pasarela: failed to start:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
