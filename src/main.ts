import 'reflect-metadata';
import { createServer } from 'node:http';
import { createApp } from './app';
import { loadConfig } from './config';
import { ConfigError } from './errors';
import { createLogger } from './log';
import { buildServices, DEMO_CITIZEN } from './services';

/** Process entry: config -> stores -> app -> listen. */
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

  const lines = [
    '',
    `  Pasarela is listening on ${config.baseUrl}  (entityID ${config.entityId})`,
    `  Metadata:  ${config.baseUrl}/metadata`,
  ];
  if (services.demo) {
    lines.push(`  Demo SP:   ${config.baseUrl}/demo`);
    if (config.demo.seedCitizen) {
      lines.push(`  Demo citizen: DNI ${DEMO_CITIZEN.dni}`);
      lines.push(`    Cl@ve Permanente password: ${DEMO_CITIZEN.password}`);
      lines.push(`    Cl@ve PIN: DNI validity date ${DEMO_CITIZEN.dniValidityDate}`);
    }
    if (config.notify.driver === 'outbox') lines.push(`  PINs and SMS codes (development outbox): ${config.notify.outboxPath}`);
  }
  lines.push('');
  console.log(lines.join('\n'));

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.close(() => {
      void services.close().finally(() => process.exit(0));
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
