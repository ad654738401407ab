/**
 * Key-value store with TTL and atomic take-once / increment.
 * Embedded: in memory. Production: Redis. The same test suite runs against both.
 * Every key is namespaced by the implementation's prefix; callers use short logical keys
 * such as `txn:<id>`, `replay:<issuer>:<id>`, `sso:<id>`, `count:pwd:<citizen>`.
 */
export interface KeyValueStore {
  /** Store `value` under `key` for `ttlMs` milliseconds (replacing any value). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Store only when `key` is absent; true when this call stored it (replay caches). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | null>;
  /** Read and delete in one atomic step: of two concurrent takes, one gets the value. */
  take(key: string): Promise<string | null>;
  delete(key: string): Promise<void>;
  /** Atomically add 1 and return the new value; the TTL is set when the counter is created. */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Liveness probe for /health. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
