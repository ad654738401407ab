import { Redis } from 'ioredis';
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
    readonly client: Redis,
    options: RedisStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? '';
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(this.k(key), value, 'PX', checkTtl(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(this.k(key), value, 'PX', checkTtl(ttlMs), 'NX')) === 'OK';
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(this.k(key));
  }

  async take(key: string): Promise<string | null> {
    return this.client.getdel(this.k(key));
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.k(key));
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const n = await this.client.eval(INCREMENT_SCRIPT, 1, this.k(key), checkTtl(ttlMs));
    if (typeof n !== 'number') throw new Error(`unexpected reply from the increment script: ${String(n)}`);
    return n;
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
