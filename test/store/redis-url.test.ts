import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createStore, parseRedisUrl, RedisUrlError } from '../../src/store';
import { freePort } from '../support/broker-process';
import { startOwnRedis, waitForPort, type OwnRedis } from '../support/backends';

const root = path.resolve(__dirname, '../..');

/** REDIS_URL: one server, Sentinel (redis+sentinel://…/<master>) and Redis Cluster (redis+cluster://…). */
describe('REDIS_URL forms', () => {
  test('one server: the URL goes to ioredis as it is', () => {
    expect(parseRedisUrl('rediss://user:pw@cache.example:6380/2')).toEqual({ kind: 'single', url: 'rediss://user:pw@cache.example:6380/2' });
  });

  test('Sentinel: the sentinels, the master name, the db, the master password; TLS with rediss+', () => {
    expect(parseRedisUrl('redis+sentinel://:s%40cret@s1.example:26379,s2.example,[::1]:26380/mymaster/3')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1.example', port: 26379 },
        { host: 's2.example', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      options: { password: 's@cret', db: 3 },
    });
    expect(parseRedisUrl('rediss+sentinel://app:pw@s1:26379/m')).toMatchObject({ kind: 'sentinel', options: { username: 'app', password: 'pw', tls: {} } });
  });

  test('Cluster: seed nodes, credentials for every node', () => {
    expect(parseRedisUrl('redis+cluster://:pw@n1:7000,n2:7001,n3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
        { host: 'n3', port: 6379 },
      ],
      options: { redisOptions: { password: 'pw' } },
    });
  });

  test.each([
    ['redis+sentinel://s1:26379', /master name/],
    ['redis+sentinel://s1:26379/m/x', /\/<master name>\[\/<db number>\]/],
    ['redis+cluster://n1:7000/1', /no path for a cluster/],
    ['redis+cluster://', /at least one host/],
    ['redis+cluster://n1:99999', /port 99999 out of range/],
    ['memcached://x', /a redis:\/\//],
  ])('%s is refused: %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(RedisUrlError);
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  test('the configuration accepts the three forms and refuses a bad one naming the key, without echoing the password', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis+sentinel://s1:26379,s2:26379/mymaster', 'redis+cluster://n1:7000,n2:7000']) {
      expect(loadConfig({ root, env: { REDIS_URL: url } }).store.redisUrl).toBe(url);
    }
    let message = '';
    try {
      loadConfig({ root, env: { REDIS_URL: 'redis+sentinel://:hunter2@s1:26379' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/"store.redisUrl": a redis:\/\/ URL \(the master name as the path/);
    expect(message).not.toContain('hunter2');
  });
});

/** A real Sentinel (redis-server --sentinel) in front of a Redis of the test's own. */
describe('the store through Redis Sentinel', () => {
  let master: OwnRedis;
  let sentinel: ChildProcess;
  let dir: string;
  let sentinelPort: number;

  beforeAll(async () => {
    master = await startOwnRedis(await freePort());
    sentinelPort = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), 'pasarela-sentinel-'));
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor pasarela 127.0.0.1 ${master.port} 1\n`);
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    await waitForPort(sentinelPort);
  });
  afterAll(async () => {
    sentinel?.kill('SIGTERM');
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('createStore asks the sentinel for the master and works on it', async () => {
    const store = await createStore({ redisUrl: `redis+sentinel://127.0.0.1:${sentinelPort}/pasarela`, keyPrefix: 'sentinel-test:' });
    try {
      expect(await store.setIfAbsent('k', 'v', 10_000)).toBe(true);
      expect(await store.setIfAbsent('k', 'w', 10_000)).toBe(false);
      expect(await store.take('k')).toBe('v');
      expect(await store.ping()).toBe(true);
    } finally {
      await store.close();
    }
  });

  test('a master name the sentinel does not know fails the start with a clear message', async () => {
    await expect(createStore({ redisUrl: `redis+sentinel://127.0.0.1:${sentinelPort}/nosuchmaster`, connectTimeoutMs: 1500 })).rejects.toThrow(/cannot connect to Redis at/);
  });
});
