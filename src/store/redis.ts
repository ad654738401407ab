import type { Cluster, Redis } from 'ioredis';
import { storeUnavailable } from '../faults';
import { checkTtl } from './memory';
import type { KeyValueStore } from './types';

/**
 * INCR, and give the key its TTL only when it has none (i.e. this call created it), so a
 * counter's window is fixed at its first increment and later increments never extend it.
 */
const INCREMENT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export interface RedisStoreOptions {
  /** Prepended to every key, e.g. `pasarela:` (several deployments can share one Redis). */
  keyPrefix?: string;
}

/**
 * The production store. Needs Redis >= 6.2 (GETDEL). Every operation is a single command or
 * script, so atomicity holds across any number of broker processes.
 */
export class RedisStore implements KeyValueStore {
  private readonly prefix: string;

  constructor(
    readonly client: Redis | Cluster,
    options: RedisStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const ttl = checkTtl(ttlMs);
    await this.run(() => this.client.set(this.k(key), value, 'PX', ttl));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = checkTtl(ttlMs);
    return (await this.run(() => this.client.set(this.k(key), value, 'PX', ttl, 'NX'))) === 'OK';
  }

  async get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.k(key)));
  }

  async take(key: string): Promise<string | null> {
    return this.run(() => this.client.getdel(this.k(key)));
  }

  async delete(key: string): Promise<void> {
    await this.run(() => this.client.del(this.k(key)));
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const ttl = checkTtl(ttlMs);
    const n = await this.run(() => this.client.eval(INCREMENT_SCRIPT, 1, this.k(key), ttl));
    if (typeof n !== 'number') throw new Error(`unexpected reply from the increment script: ${String(n)}`);
    return n;
  }

  /**
   * Every command failure (connection refused or lost, command timeout, a Redis that is loading
   * or read-only during a failover) becomes ERR_STORE_UNAVAILABLE: the web layer answers 503.
   * Each operation is one command, so a failure never leaves a half-written value behind.
   */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw storeUnavailable(err);
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      // Already disconnected: nothing left to flush.
      this.client.disconnect();
    }
  }

  private k(key: string): string {
    return this.prefix + key;
  }
}
