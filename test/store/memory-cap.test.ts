import { TransactionStore } from '../../src/broker/transaction';
import type { AuthnRequest } from '../../src/saml/types';
import { MemoryStore, StoreFullError } from '../../src/store/memory';

describe('MemoryStore byte cap', () => {
  test('counts keys and values, refuses a write past the cap, and frees what is deleted, taken or expired', async () => {
    const store = new MemoryStore({ maxBytes: 10_000 });
    await store.set('a', 'x'.repeat(1000), 60_000);
    const one = store.bytes;
    expect(one).toBeGreaterThanOrEqual(2 * 1001);
    await store.set('a', 'x'.repeat(1000), 60_000); // replacing does not count twice
    expect(store.bytes).toBe(one);
    await expect(store.set('b', 'y'.repeat(5000), 60_000)).rejects.toBeInstanceOf(StoreFullError);
    await expect(store.setIfAbsent('b', 'y'.repeat(5000), 60_000)).rejects.toMatchObject({ code: 'ERR_STORE_FULL' });
    expect(await store.get('b')).toBeNull();
    await store.delete('a');
    expect(store.bytes).toBe(0);
    await store.set('b', 'y'.repeat(4000), 60_000);
    expect(await store.take('b')).toHaveLength(4000);
    expect(store.bytes).toBe(0);
    await store.set('c', 'z'.repeat(4000), 1);
    await new Promise((r) => setTimeout(r, 5));
    // The expired entry is swept to make room rather than refusing.
    await store.set('d', 'w'.repeat(4000), 60_000);
    expect(await store.get('d')).toHaveLength(4000);
    await store.close();
  });

  test('counters grow the count as their value grows', async () => {
    const store = new MemoryStore({ maxBytes: 10_000 });
    await store.increment('n', 60_000);
    const before = store.bytes;
    for (let i = 0; i < 9; i++) await store.increment('n', 60_000);
    expect(await store.get('n')).toBe('10');
    expect(store.bytes).toBe(before + 2);
    await store.close();
  });
});

describe('login transactions: a short life until a method is picked', () => {
  /** Records the TTL of every write, to see what the transaction store asks for. */
  class RecordingStore extends MemoryStore {
    ttls: number[] = [];
    override async set(key: string, value: string, ttlMs: number): Promise<void> {
      this.ttls.push(ttlMs);
      return super.set(key, value, ttlMs);
    }
  }

  test('created with the pending TTL; the full TTL (from the start) once the citizen picked a method', async () => {
    const store = new RecordingStore();
    const txns = new TransactionStore(store, 1_800_000, 600_000);
    const t0 = new Date('2026-01-01T10:00:00Z');
    const txn = await txns.create({ issuer: 'https://sp', issueInstant: t0 } as unknown as AuthnRequest, t0);
    expect(store.ttls).toEqual([600_000]);
    await txns.save(txn, new Date(t0.getTime() + 60_000)); // a save without a method keeps the short life
    expect(store.ttls[1]).toBe(540_000);
    await txns.save({ ...txn, method: 'permanente' }, new Date(t0.getTime() + 120_000));
    expect(store.ttls[2]).toBe(1_680_000);
    // Past the pending life without a method: nothing is written back.
    await txns.save(txn, new Date(t0.getTime() + 700_000));
    expect(store.ttls).toHaveLength(3);
    await store.close();
  });
});
