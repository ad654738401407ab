import { createStore, MemoryStore } from '../../src/store';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let seq = 0;
/** A key no other test of this file touches. */
const key = (name: string) => `${name}:${++seq}`;

describeEachPair('KeyValueStore contract', (pair) => {
  let store: KeyValueStore;

  beforeAll(async () => {
    store = await pair.makeStore();
  });

  test('get of a missing key is null; set then get returns the value; set replaces', async () => {
    const k = key('basic');
    expect(await store.get(k)).toBeNull();
    await store.set(k, 'one', 10_000);
    expect(await store.get(k)).toBe('one');
    await store.set(k, 'two', 10_000);
    expect(await store.get(k)).toBe('two');
  });

  test('values expire after their TTL', async () => {
    const k = key('ttl');
    await store.set(k, 'short-lived', 100);
    expect(await store.get(k)).toBe('short-lived');
    await sleep(250);
    expect(await store.get(k)).toBeNull();
    expect(await store.take(k)).toBeNull();
  });

  test('set replaces the TTL too', async () => {
    const k = key('ttl-replace');
    await store.set(k, 'a', 100);
    await store.set(k, 'b', 10_000);
    await sleep(250);
    expect(await store.get(k)).toBe('b');
  });

  test('a non-positive TTL is refused', async () => {
    await expect(store.set(key('bad-ttl'), 'x', 0)).rejects.toThrow(/TTL/);
    await expect(store.setIfAbsent(key('bad-ttl'), 'x', -5)).rejects.toThrow(/TTL/);
    await expect(store.increment(key('bad-ttl'), Number.NaN)).rejects.toThrow(/TTL/);
  });

  test('setIfAbsent: of 20 concurrent calls exactly one stores, and its value stays', async () => {
    const k = key('replay');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.setIfAbsent(k, `v${i}`, 10_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.get(k)).toBe(`v${results.indexOf(true)}`);
    expect(await store.setIfAbsent(k, 'later', 10_000)).toBe(false);
  });

  test('setIfAbsent succeeds again once the previous value expired', async () => {
    const k = key('replay-expiry');
    expect(await store.setIfAbsent(k, 'first', 100)).toBe(true);
    await sleep(250);
    expect(await store.setIfAbsent(k, 'second', 10_000)).toBe(true);
    expect(await store.get(k)).toBe('second');
  });

  test('take: of 20 concurrent takes exactly one gets the value, and it is gone after', async () => {
    const k = key('take');
    await store.set(k, 'once', 10_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.take(k)));
    expect(results.filter((r) => r !== null)).toEqual(['once']);
    expect(await store.get(k)).toBeNull();
  });

  test('increment starts at 1 and counts every concurrent call exactly once', async () => {
    const k = key('count');
    expect(await store.increment(k, 10_000)).toBe(1);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.increment(k, 10_000)));
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(await store.get(k)).toBe('21');
  });

  test('increment sets the TTL when it creates the counter and never extends it', async () => {
    const k = key('window');
    expect(await store.increment(k, 300)).toBe(1);
    await sleep(200);
    // Were the TTL renewed here, the counter would live until ~500 ms.
    expect(await store.increment(k, 300)).toBe(2);
    await sleep(200);
    expect(await store.get(k)).toBeNull();
    expect(await store.increment(k, 300)).toBe(1);
  });

  test('delete removes a key; deleting a missing key is fine', async () => {
    const k = key('delete');
    await store.set(k, 'x', 10_000);
    await store.delete(k);
    expect(await store.get(k)).toBeNull();
    await expect(store.delete(key('never-set'))).resolves.toBeUndefined();
  });

  test('ping answers true', async () => {
    expect(await store.ping()).toBe(true);
  });

  test(`two stores of the pair ${pair.sharedStore ? 'share' : 'do not share'} their data`, async () => {
    const other = await pair.makeStore();
    const k = key('nodes');
    await store.set(k, 'from node A', 10_000);
    // Production: a login started on one node finishes on another.
    expect(await other.take(k)).toBe(pair.sharedStore ? 'from node A' : null);
  });

  test('createStore builds a working store of this pair', async () => {
    const created = await createStore(pair.storeOptions());
    try {
      expect(created.constructor.name).toBe(pair.name === 'embedded' ? 'MemoryStore' : 'RedisStore');
      const k = key('created');
      await created.set(k, 'v', 10_000);
      expect(await created.take(k)).toBe('v');
      expect(await created.ping()).toBe(true);
    } finally {
      await created.close();
    }
  });
});

describe('createStore', () => {
  test('without a Redis URL it is the in-memory store', async () => {
    const store = await createStore({});
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  test('an unreachable Redis fails fast with a message naming it, and the password redacted', async () => {
    const started = Date.now();
    // Port 1 is never a Redis server.
    await expect(createStore({ redisUrl: 'redis://user:s3cret@127.0.0.1:1', connectTimeoutMs: 800 })).rejects.toThrow(
      /cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1 within 800 ms/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('the Redis error does not leak the password', async () => {
    const err = await createStore({ redisUrl: 'redis://user:s3cret@127.0.0.1:1', connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(String((err as Error).message)).not.toContain('s3cret');
  });
});

describe('MemoryStore sweeping', () => {
  test('sweep drops expired entries that nobody read', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 60_000 });
    await store.set('a', '1', 50);
    await store.set('b', '2', 10_000);
    expect(store.size).toBe(2);
    store.sweep(Date.now() + 100);
    expect(store.size).toBe(1);
    expect(await store.get('b')).toBe('2');
    await store.close();
  });

  test('the periodic sweep runs by itself', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 30 });
    await store.set('a', '1', 20);
    await sleep(120);
    expect(store.size).toBe(0);
    await store.close();
  });
});
