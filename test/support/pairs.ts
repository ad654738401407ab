import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { closeDataSource, createDataSource } from '../../src/db/data-source';
import { MemoryStore } from '../../src/store/memory';
import { RedisStore } from '../../src/store/redis';
import type { CreateStoreOptions } from '../../src/store';
import type { KeyValueStore } from '../../src/store/types';

/**
 * The two storage pairs every storage-backed suite runs against: the embedded default
 * (memory + SQLite) and production (Redis + PostgreSQL). Production services come from
 * PASARELA_TEST_REDIS_URL / PASARELA_TEST_DATABASE_URL, defaulting to the local ones.
 */
export const TEST_REDIS_URL = process.env.PASARELA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.PASARELA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type PairName = 'embedded' | 'production';

export interface StoragePair {
  name: PairName;
  /** True when two stores made by `makeStore` see the same data (two broker nodes). */
  sharedStore: boolean;
  /** Options that make `createStore` build a store of this pair (same namespace as makeStore). */
  storeOptions(): CreateStoreOptions;
  /** A new store; every store of one pair shares one namespace. Closed by `cleanup`. */
  makeStore(): Promise<KeyValueStore>;
  /**
   * A new DataSource on this pair's database, migrated. Every pair object has its own database
   * (SQLite file / PostgreSQL schema), so the first call gets a fresh one; later calls of the
   * same pair open that same database again (a second broker node).
   */
  makeDataSource(): Promise<DataSource>;
  /** Close everything made and drop the test schema, files and keys. */
  cleanup(): Promise<void>;
}

function unique(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`;
}

function embeddedPair(): StoragePair {
  const dirs: string[] = [];
  const stores: KeyValueStore[] = [];
  const sources: DataSource[] = [];
  let dbFile: string | undefined;
  const newFile = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-db-'));
    dirs.push(dir);
    return path.join(dir, 'test.sqlite');
  };
  const open = async (sqlitePath: string): Promise<DataSource> => {
    const ds = await createDataSource({ sqlitePath });
    sources.push(ds);
    return ds;
  };
  return {
    name: 'embedded',
    sharedStore: false,
    storeOptions: () => ({}),
    async makeStore() {
      const store = new MemoryStore();
      stores.push(store);
      return store;
    },
    makeDataSource: () => open((dbFile ??= newFile())),
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await Promise.all(sources.splice(0).map((ds) => closeDataSource(ds)));
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function productionPair(): StoragePair {
  const keyPrefix = `pasarela-test:${unique()}:`;
  const schema = `pasarela_test_${unique()}`;
  const stores: KeyValueStore[] = [];
  const sources: DataSource[] = [];
  let usedRedis = false;
  let schemaUsed = false;
  const open = async (): Promise<DataSource> => {
    schemaUsed = true;
    const ds = await createDataSource({ url: TEST_DATABASE_URL, schema });
    sources.push(ds);
    return ds;
  };
  return {
    name: 'production',
    sharedStore: true,
    storeOptions: () => ({ redisUrl: TEST_REDIS_URL, keyPrefix }),
    async makeStore() {
      usedRedis = true;
      const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
      try {
        await client.connect();
      } catch (err) {
        client.disconnect();
        throw new Error(`Redis at ${TEST_REDIS_URL}: ${(err as Error).message}`);
      }
      const store = new RedisStore(client, { keyPrefix });
      stores.push(store);
      return store;
    },
    makeDataSource: () => open(),
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      try {
        if (schemaUsed) {
          // Tests may have closed their own data sources; any connection can drop the schema.
          const admin = sources.find((ds) => ds.isInitialized) ?? (await open());
          await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        }
      } finally {
        schemaUsed = false;
        await Promise.all(sources.splice(0).map((ds) => closeDataSource(ds)));
      }
      if (!usedRedis) return;
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

export function storagePairs(): StoragePair[] {
  return [embeddedPair(), productionPair()];
}

interface Service {
  name: string;
  url: string;
}

const SERVICES: Record<PairName, Service[]> = {
  embedded: [],
  production: [
    { name: 'Redis', url: TEST_REDIS_URL },
    { name: 'PostgreSQL', url: TEST_DATABASE_URL },
  ],
};

let probed: Map<string, string | null> | undefined;

/**
 * Which services answer a TCP connect (null) and which do not (the error). Synchronous
 * because jest collects describe blocks synchronously and skipping is decided there.
 */
function probeServices(): Map<string, string | null> {
  if (probed) return probed;
  const targets = SERVICES.production.map((s) => {
    const u = new URL(s.url);
    return { url: s.url, host: u.hostname, port: Number(u.port || (u.protocol.startsWith('redis') ? 6379 : 5432)) };
  });
  const script = `
    const net = require('node:net');
    const targets = ${JSON.stringify(targets)};
    Promise.all(targets.map((t) => new Promise((resolve) => {
      const s = net.connect({ host: t.host, port: t.port });
      const done = (err) => { s.destroy(); resolve([t.url, err]); };
      s.setTimeout(2000, () => done('no answer within 2 s'));
      s.once('connect', () => done(null));
      s.once('error', (e) => done(e.code || e.message));
    }))).then((r) => process.stdout.write(JSON.stringify(r)));`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
  const results = out.status === 0 ? (JSON.parse(out.stdout) as [string, string | null][]) : targets.map((t): [string, string | null] => [t.url, 'probe failed']);
  probed = new Map(results);
  return probed;
}

/** The services of a pair that are unreachable, as "PostgreSQL at postgres://... (ECONNREFUSED)". */
function missingServices(pair: StoragePair): string[] {
  if (SERVICES[pair.name].length === 0) return [];
  const status = probeServices();
  return SERVICES[pair.name].filter((s) => status.get(s.url)).map((s) => `${s.name} at ${s.url} (${status.get(s.url)})`);
}

/**
 * Run one suite body against both storage pairs. A pair whose services are down FAILS,
 * naming them; only with PASARELA_SKIP_SERVICES=1 outside CI is it skipped, with a warning.
 * The body gets the pair descriptor; cleanup runs after the suite.
 */
export function describeEachPair(title: string, fn: (pair: StoragePair) => void): void {
  const pairs = storagePairs();
  const canSkip = process.env.PASARELA_SKIP_SERVICES === '1' && process.env.CI !== 'true';
  const run: [PairName, StoragePair, string[]][] = [];
  const skip: [PairName, StoragePair][] = [];
  for (const pair of pairs) {
    const missing = missingServices(pair);
    if (missing.length > 0 && canSkip) {
      console.warn(`[pasarela tests] "${title}" [${pair.name}] SKIPPED: ${missing.join(', ')} unreachable (PASARELA_SKIP_SERVICES=1)`);
      skip.push([pair.name, pair]);
    } else {
      run.push([pair.name, pair, missing]);
    }
  }
  if (run.length > 0) {
    describe.each(run)(`${title} [%s]`, (_name, pair, missing) => {
      beforeAll(() => {
        if (missing.length > 0) {
          throw new Error(
            `the ${pair.name} storage pair needs ${missing.join(' and ')}, which cannot be reached. ` +
              (process.env.CI === 'true'
                ? 'CI=true: these tests are never skipped; start the service in the CI job.'
                : 'Start it, or set PASARELA_SKIP_SERVICES=1 to skip these tests locally.'),
          );
        }
      });
      afterAll(() => pair.cleanup());
      fn(pair);
    });
  }
  if (skip.length > 0) {
    describe.skip.each(skip)(`${title} [%s]`, (_name, pair) => fn(pair));
  }
}

/**
 * A suite that needs the production services themselves (Redis and PostgreSQL), e.g. several
 * broker processes sharing them. Same rule as describeEachPair: missing services FAIL the suite,
 * naming them; only PASARELA_SKIP_SERVICES=1 outside CI skips it, with a warning.
 */
export function describeWithProductionServices(title: string, fn: () => void): void {
  const missing = missingServices(productionPair());
  if (missing.length > 0 && process.env.PASARELA_SKIP_SERVICES === '1' && process.env.CI !== 'true') {
    console.warn(`[pasarela tests] "${title}" SKIPPED: ${missing.join(', ')} unreachable (PASARELA_SKIP_SERVICES=1)`);
    describe.skip(title, fn);
    return;
  }
  describe(title, () => {
    beforeAll(() => {
      if (missing.length > 0) throw new Error(`this suite needs ${missing.join(' and ')}, which cannot be reached. Start it, or set PASARELA_SKIP_SERVICES=1 to skip locally.`);
    });
    fn();
  });
}

/** A fresh PostgreSQL database of its own (for broker processes, which take a URL); dropped by the returned function. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { DataSource } = await import('typeorm');
  const name = `pasarela_t_${unique()}`.toLowerCase();
  const admin = await new DataSource({ type: 'postgres', url: TEST_DATABASE_URL }).initialize();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(TEST_DATABASE_URL), { pathname: `/${name}` }).toString();
  return {
    url,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}
