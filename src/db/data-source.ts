import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DataSource, type EntityManager } from 'typeorm';
import { PasarelaError } from '../errors';
import { ENTITIES } from './entities';
import { Initial1700000000000 } from './migrations/1700000000000-Initial';
import { Lifecycle1700000000001 } from './migrations/1700000000001-Lifecycle';
import { Operator1700000000002 } from './migrations/1700000000002-Operator';

/** Every migration, oldest first. Add new classes at the end. */
export const MIGRATIONS = [Initial1700000000000, Lifecycle1700000000001, Operator1700000000002];

export interface DataSourceOptions {
  /** `postgres://` or `postgresql://` URL: PostgreSQL. Otherwise SQLite at `sqlitePath`. */
  url?: string;
  /** SQLite file (its directory is created) or `:memory:`. Default `var/pasarela.sqlite`. */
  sqlitePath?: string;
  /** PostgreSQL schema to use, created when missing (lets tests isolate themselves). */
  schema?: string;
  logging?: boolean;
}

/** Arbitrary constant: one advisory lock per database serialises migrations of starting nodes. */
const MIGRATION_LOCK_KEY = 727_001_700;

/**
 * A ready DataSource with every migration applied. Migrations run here rather than through
 * `migrationsRun` so that on PostgreSQL they run under an advisory lock: N broker processes
 * starting at once against a fresh database must not race to create the same tables.
 */
export async function createDataSource(opts: DataSourceOptions): Promise<DataSource> {
  if (opts.url && /^postgres(ql)?:\/\//.test(opts.url)) return createPostgres(opts.url, opts);
  if (opts.url) throw new PasarelaError('ERR_CONFIG', `database URL must start with postgres:// or postgresql://, got ${redact(opts.url)}`);
  return createSqlite(opts.sqlitePath ?? 'var/pasarela.sqlite', opts);
}

export async function closeDataSource(ds: DataSource): Promise<void> {
  if (ds.isInitialized) await ds.destroy();
}

async function createPostgres(url: string, opts: DataSourceOptions): Promise<DataSource> {
  const schema = opts.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new PasarelaError('ERR_CONFIG', `database schema "${schema}": lower-case letters, digits and _ only`);
  }
  const ds = new DataSource({
    type: 'postgres',
    url,
    schema,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: opts.logging ?? false,
    connectTimeoutMS: 5000,
    // Unqualified raw SQL (and the migration's Table API) lands in the same schema.
    // query_timeout: a query on a connection that stopped answering fails (503) instead of hanging the request.
    extra: { ...(schema ? { options: `-c search_path=${schema}` } : {}), query_timeout: 15_000 },
  });
  try {
    await ds.initialize();
  } catch (err) {
    throw new PasarelaError('ERR_DB_UNAVAILABLE', `cannot connect to PostgreSQL at ${redact(url)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      if (schema) await qr.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await ds.runMigrations({ transaction: 'all' });
    } finally {
      await qr.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await qr.release();
    }
  } catch (err) {
    await ds.destroy().catch(() => undefined);
    throw err;
  }
  return ds;
}

async function createSqlite(sqlitePath: string, opts: DataSourceOptions): Promise<DataSource> {
  const inMemory = sqlitePath === ':memory:';
  if (!inMemory) mkdirSync(path.dirname(path.resolve(sqlitePath)), { recursive: true });
  const ds = new DataSource({
    type: 'better-sqlite3',
    database: sqlitePath,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: opts.logging ?? false,
    // WAL: readers (the CLI, a second process) do not block the broker's writes.
    enableWAL: !inMemory,
    // typeorm turns foreign keys on itself; doing it here too keeps the intent visible.
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('foreign_keys = ON');
    },
  });
  await ds.initialize();
  serializeTransactions(ds);
  try {
    await ds.runMigrations({ transaction: 'all' });
  } catch (err) {
    await ds.destroy().catch(() => undefined);
    throw err;
  }
  return ds;
}

/**
 * typeorm's SQLite driver has one connection; a second `ds.transaction()` started while one is
 * open becomes a SAVEPOINT inside it, so one caller's rollback can undo another's committed
 * work. Queue top-level transactions instead; a transaction opened from inside another one
 * (same async context) still nests as a savepoint. Writes made outside any transaction while
 * one is open still share it (single connection): on SQLite, write through `ds.transaction`.
 */
function serializeTransactions(ds: DataSource): void {
  const manager = ds.manager;
  const original = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  // Mutable so that work the callback leaves behind (timers, stray promises) is not taken for
  // "inside" once the transaction has ended.
  const inside = new AsyncLocalStorage<{ open: boolean }>();
  let tail: Promise<unknown> = Promise.resolve();
  const queued = (...args: unknown[]): Promise<unknown> => {
    if (inside.getStore()?.open) return original(...args);
    const run = tail.then(() => {
      const ctx = { open: true };
      return inside.run(ctx, () => original(...args)).finally(() => {
        ctx.open = false;
      });
    });
    tail = run.catch(() => undefined);
    return run;
  };
  Object.assign(manager, { transaction: queued as EntityManager['transaction'] });
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
