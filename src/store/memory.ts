import type { KeyValueStore } from './types';

interface Entry {
  value: string;
  /** Epoch milliseconds after which the entry no longer exists. */
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** How often expired entries are swept (they are also dropped lazily on read). Default 60 s. */
  sweepIntervalMs?: number;
  /**
   * Refuse writes that would take the store past this many bytes (UTF-16 code units of keys
   * and values, times two). Default 256 MiB. Refusal, not eviction: evicting would drop replay
   * markers and abuse counters, which must fail closed.
   */
  maxBytes?: number;
}

/**
 * The in-memory store is full: the write was refused and the web layer answers 503. Not a
 * PasarelaError: it says nothing about the request, so request checks must not turn it into
 * a SAML error of the request's.
 */
export class StoreFullError extends Error {
  readonly code = 'ERR_STORE_FULL';
  constructor(maxBytes: number) {
    super(`the in-memory store is full (${maxBytes} bytes); try again later`);
    this.name = 'StoreFullError';
  }
}

const sizeOf = (key: string, value: string): number => 2 * (key.length + value.length) + 64;

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
  private readonly maxBytes: number;
  private used = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 60_000);
    // The sweeper must never keep a CLI or a test process alive.
    this.sweeper.unref();
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.put(key, value, Date.now() + checkTtl(ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const expiresAt = Date.now() + checkTtl(ttlMs);
    if (this.live(key)) return false;
    this.put(key, value, expiresAt);
    return true;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async take(key: string): Promise<string | null> {
    const entry = this.live(key);
    if (!entry) return null;
    this.remove(key);
    return entry.value;
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const ttl = checkTtl(ttlMs);
    const entry = this.live(key);
    if (!entry) {
      this.put(key, '1', Date.now() + ttl);
      return 1;
    }
    const n = Number(entry.value);
    // Same failure as Redis INCR on a non-integer value.
    if (!Number.isSafeInteger(n)) throw new Error(`value of "${key}" is not an integer`);
    const value = String(n + 1);
    this.used += 2 * (value.length - entry.value.length);
    entry.value = value; // the expiry of an existing counter is left alone
    return n + 1;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.entries.clear();
    this.used = 0;
  }

  /** Approximate bytes held (keys and values), as counted against `maxBytes`. */
  get bytes(): number {
    return this.used;
  }

  /** Number of entries held, expired or not (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Drop every expired entry now. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.remove(key);
  }

  private put(key: string, value: string, expiresAt: number): void {
    const old = this.entries.get(key);
    const delta = sizeOf(key, value) - (old ? sizeOf(key, old.value) : 0);
    if (delta > 0 && this.used + delta > this.maxBytes) {
      this.sweep();
      if (this.used + delta > this.maxBytes) throw new StoreFullError(this.maxBytes);
    }
    this.entries.set(key, { value, expiresAt });
    this.used += delta;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.used -= sizeOf(key, entry.value);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }
}
