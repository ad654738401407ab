import 'reflect-metadata';
import { createServer } from 'node:http';
import path from 'node:path';
import { certificateHostUrl, startCertificateHost, type CertificateHost } from './authn/certificate';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { createOperatorApp } from './operator/app';
import { loadConfig } from './config';
import { ConfigError } from './errors';
import { createLogger } from './log';
import { buildServices, DEMO_CITIZEN } from './services';

/** Start the broker: config -> stores -> app -> listen (loaded by main.ts). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`pasarela: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  if (config.env !== 'production' && !config.secureCookies) {
    log.warn({ baseUrl: config.baseUrl }, 'serving over plain http: development only (cookies are not Secure)');
  }
  const services = await buildServices(config, log);
  const app = createApp(services);
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const operator = createServer(createOperatorApp(services));
  await new Promise<void>((resolve, reject) => {
    operator.once('error', reject);
    operator.listen(config.operator.port, config.operator.host, resolve);
  });
  const op = operator.address() as AddressInfo;
  const operatorUrl = `http://${op.family === 'IPv6' ? `[${op.address}]` : op.address}:${op.port}`;

  let certificateHost: CertificateHost | undefined;
  if (config.methods.enabled.includes('certificate')) {
    certificateHost = await startCertificateHost({
      settings: services.certificate,
      baseUrl: config.baseUrl,
      broker: services.broker,
      store: services.store,
      log,
      now: services.now,
      env: config.env,
      keysDir: path.resolve(config.root, config.keys.dir),
      root: config.root,
    });
  }

  const lines = [
    '',
    `  Pasarela is listening on ${config.baseUrl}  (entityID ${config.entityId})`,
    `  Metadata:  ${config.baseUrl}/metadata`,
  ];
  lines.push(`  Metrics:   ${operatorUrl}/metrics`, `  Ready:     ${operatorUrl}/readyz  (alive: ${operatorUrl}/healthz)`);
  if (certificateHost) {
    lines.push(`  Certificate host (DNIe / certificates): ${certificateHostUrl(services.certificate)}  (listening on ${certificateHost.url})`);
  }
  if (services.demo) {
    lines.push(`  Demo SP:   ${config.baseUrl}/demo`);
    if (config.demo.seedCitizen) {
      lines.push(`  Demo citizen: DNI ${DEMO_CITIZEN.dni}`);
      lines.push(`    Cl@ve Permanente password: ${DEMO_CITIZEN.password}`);
      lines.push(`    Cl@ve PIN: DNI validity date ${DEMO_CITIZEN.dniValidityDate}`);
    }
    if (services.devPki) {
      lines.push(`    DNIe / certificate: import ${path.relative(config.root, services.devPki.p12.dnie)} (high) or ${path.relative(config.root, services.devPki.p12.qualified)} (substantial) into the browser, password "${services.devPki.p12Password}"`);
    }
    if (config.notify.driver === 'outbox') lines.push(`  PINs and SMS codes (development outbox): ${config.notify.outboxPath}`);
  }
  lines.push('');
  console.log(lines.join('\n'));

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    operator.close();
    server.close(() => {
      void (certificateHost?.close() ?? Promise.resolve())
        .then(() => services.close())
        .finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`pasarela: ${err.message}`);
    process.exit(2);
  }
  console.error('pasarela: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
