import type { KeyValueStore } from './types';

interface Entry {
  value: string;
  /** Epoch milliseconds after which the entry no longer exists. */
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** How often expired entries are swept (they are also dropped lazily on read). Default 60 s. */
  sweepIntervalMs?: number;
}

/** Rejects TTLs that Redis would reject too, so both stores behave the same. */
export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`store TTL must be a positive number of milliseconds, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/**
 * The embedded store: one process, one Map. Every method does its work synchronously before
 * its promise resolves, so take and increment are atomic with respect to other callers.
 */
export class MemoryStore implements KeyValueStore {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MemoryStoreOptions = {}) {
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    // The sweeper must never keep a CLI or a test process alive.
    this.sweeper.unref();
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: Date.now() + checkTtl(ttlMs) });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const expiresAt = Date.now() + checkTtl(ttlMs);
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt });
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async take(key: string): Promise<string | null> {
    const entry = this.live(key);
    if (!entry) return null;
    this.entries.delete(key);
    return entry.value;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const ttl = checkTtl(ttlMs);
    const entry = this.live(key);
    if (!entry) {
      this.entries.set(key, { value: '1', expiresAt: Date.now() + ttl });
      return 1;
    }
    const n = Number(entry.value);
    // Same failure as Redis INCR on a non-integer value.
    if (!Number.isSafeInteger(n)) throw new Error(`value of "${key}" is not an integer`);
    entry.value = String(n + 1); // the expiry of an existing counter is left alone
    return n + 1;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  /** Number of entries held, expired or not (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Drop every expired entry now. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
