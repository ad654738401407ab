/**
 * `REDIS_URL=redis+sentinel://…` (README, store/redis-url.ts) against a real Sentinel: a primary,
 * a replica and one Sentinel of our own (redis-server in its three roles). The primary is killed
 * as in a crash; while the Sentinel promotes the replica every store call fails as
 * ERR_STORE_UNAVAILABLE (the web layer's 503, never another error), and the store then works on
 * the new primary by itself, with what was replicated before the crash still there.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createStore } from '../../src/store';
import type { KeyValueStore } from '../../src/store/types';
import { startOwnRedis, type OwnRedis } from '../support/backends';
import { freePort } from '../support/ports';

const MASTER = 'pasarela-test';

describe('the store on Redis Sentinel: a primary that dies is replaced without a restart', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-sentinel-'));
  let primary: OwnRedis;
  let replica: OwnRedis;
  let sentinel: OwnRedis;
  let store: KeyValueStore;

  beforeAll(async () => {
    // Fails (never skips) where redis-server is missing: the machine's Redis comes from the same package.
    execFileSync('redis-server', ['--version']);
    primary = await startOwnRedis(await freePort());
    replica = await startOwnRedis(await freePort(), ['--replicaof', '127.0.0.1', String(primary.port)]);
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, [`sentinel monitor ${MASTER} 127.0.0.1 ${primary.port} 1`, `sentinel down-after-milliseconds ${MASTER} 1000`, `sentinel failover-timeout ${MASTER} 5000`, ''].join('\n'));
    sentinel = await startOwnRedis(await freePort(), [conf, '--sentinel']);
    // The replica is online (initial sync done) and the Sentinel knows it, before anything is asked of them.
    const onPrimary = new Redis({ port: primary.port });
    const onSentinel = new Redis({ port: sentinel.port });
    try {
      for (let i = 0; ; i++) {
        const info = await onPrimary.info('replication');
        const known = (await onSentinel.call('SENTINEL', 'REPLICAS', MASTER)) as string[][];
        if (/slave0:.*state=online/.test(info) && known.length === 1) break;
        if (i > 150) throw new Error(`replication never came up:\n${info}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      onPrimary.disconnect();
      onSentinel.disconnect();
    }
    store = await createStore({ redisUrl: `redis+sentinel://127.0.0.1:${sentinel.port}/${MASTER}`, keyPrefix: 'sentinel-test:', commandTimeoutMs: 500 });
  }, 30_000);

  afterAll(async () => {
    await store?.close();
    for (const r of [sentinel, replica, primary]) await r?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('kill -9 of the primary: calls fail as store-unavailable meanwhile, then work on the promoted replica', async () => {
    await store.set('before', 'kept', 60_000);
    // Replicated before the crash (WAIT: one replica acknowledged), so a promotion keeps it.
    const direct = new Redis({ port: primary.port });
    try {
      expect(await direct.wait(1, 2000)).toBe(1);
    } finally {
      direct.disconnect();
    }
    expect(await store.get('before')).toBe('kept');

    await primary.kill();
    const errors = new Set<string>();
    let recovered = false;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        if (await store.setIfAbsent(`after:${Date.now()}`, '1', 60_000)) {
          recovered = true;
          break;
        }
      } catch (err) {
        errors.add((err as { code?: string }).code ?? String(err));
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(recovered).toBe(true);
    // There was an outage (the Sentinel waits 1 s before it calls the primary down)...
    expect(errors.size).toBeGreaterThan(0);
    // ...and every failure on the way was the one the web layer answers with its 503 page.
    expect([...errors].filter((c) => c !== 'ERR_STORE_UNAVAILABLE')).toEqual([]);
    expect(await store.get('before')).toBe('kept');
    // The store now writes to the promoted replica.
    const promoted = new Redis({ port: replica.port });
    try {
      expect(((await promoted.role()) as unknown[])[0]).toBe('master');
    } finally {
      promoted.disconnect();
    }
  }, 30_000);
});
