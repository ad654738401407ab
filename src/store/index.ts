import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { PasarelaError } from '../errors';
import { MemoryStore } from './memory';
import { RedisStore } from './redis';
import { parseRedisUrl } from './redis-url';
import type { KeyValueStore } from './types';

export { MemoryStore, StoreFullError } from './memory';
export { RedisStore } from './redis';
export type { KeyValueStore } from './types';
export { parseRedisUrl, RedisUrlError, type RedisTarget } from './redis-url';

export interface CreateStoreOptions {
  /** `redis://` or `rediss://` URL; without it the store lives in this process's memory. */
  redisUrl?: string;
  keyPrefix?: string;
  /** How long to wait for Redis at start before giving up. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Connection errors after start (Redis restarts, failovers); commands fail meanwhile. */
  onError?: (err: Error) => void;
  /** Redis commands fail after this long without an answer. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** In-memory store only: the byte cap (see MemoryStore). */
  memoryMaxBytes?: number;
}

/** `redis://user:secret@host` -> `redis://user:***@host`, for error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Sentinel and Cluster URLs carry host lists that URL cannot parse.
    return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, '$1***@');
  }
}

/** Redis when a URL is configured, memory otherwise. Resolves only once Redis answers. */
export async function createStore(opts: CreateStoreOptions): Promise<KeyValueStore> {
  if (!opts.redisUrl) return new MemoryStore({ maxBytes: opts.memoryMaxBytes });
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // A command waits for at most one reconnection, then fails: never hang a login forever.
    maxRetriesPerRequest: 1,
    // A Redis that accepts the connection but does not answer (overloaded, paused) fails the command too.
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // After a failed start the socket is already gone; don't keep the process alive 2 s for it.
    disconnectTimeout: 500,
  };
  const target = parseRedisUrl(opts.redisUrl);
  const client: Redis | Cluster =
    target.kind === 'single'
      ? new Redis(target.url, common)
      : target.kind === 'sentinel'
        ? new Redis({ ...common, ...target.options, sentinels: target.sentinels, name: target.name })
        : new Cluster(target.nodes, {
            lazyConnect: true,
            clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
            redisOptions: { ...common, ...target.options.redisOptions, lazyConnect: false },
          });
  let lastError: Error | undefined;
  const onStartError = (err: Error) => {
    lastError = err;
  };
  client.on('error', onStartError);
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  // connect() rejects on the first failed attempt, but the retry strategy keeps trying until
  // the timeout below, so a Redis that is still starting is waited for.
  client.connect().catch(onStartError);
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
  } catch {
    client.disconnect();
    throw new PasarelaError(
      'ERR_STORE_UNAVAILABLE',
      `cannot connect to Redis at ${redactUrl(opts.redisUrl)} within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`,
    );
  } finally {
    clearTimeout(timer);
    client.off('error', onStartError);
  }
  // ioredis prints unhandled 'error' events; route them to the caller (or drop them: failed
  // commands still reject, so nothing is silent for the code that uses the store).
  client.on('error', opts.onError ?? (() => undefined));
  return new RedisStore(client, { keyPrefix: opts.keyPrefix });
}
