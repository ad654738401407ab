import 'reflect-metadata';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../config';
import { createDataSource } from '../../db/data-source';
import { createLogger } from '../../log';
import { TrustAdmin } from '../../trust/admin';
import { DbTrustRegistry } from '../../trust/registry';

/** What a CLI command works with: the configuration, the database, the trust-list service. */
export interface CliContext {
  config: Config;
  log: Logger;
  ds: DataSource;
  registry: DbTrustRegistry;
  trustAdmin: TrustAdmin;
  /** Audit actor: `cli:<user>`. */
  actor: string;
}

export async function withCliContext<T>(fn: (c: CliContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const ds = await createDataSource({ url: config.database.url, sqlitePath: path.resolve(config.root, config.database.sqlitePath) });
  try {
    const registry = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
    await registry.reload();
    const trustAdmin = new TrustAdmin({
      ds,
      registry,
      defaults: config.trust.defaultPolicy,
      env: config.env,
      log,
      fetch: config.admin.fetch,
      aggregateMaxBytes: config.admin.aggregateMaxBytes,
    });
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // no passwd entry (containers): keep "unknown"
    }
    return await fn({ config, log, ds, registry, trustAdmin, actor: `cli:${user}` });
  } finally {
    await ds.destroy();
  }
}
