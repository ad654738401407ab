import type { ClusterOptions, RedisOptions } from 'ioredis';

/**
 * REDIS_URL forms (ioredis speaks all three; only the first is a URL it parses itself):
 *
 *   redis://[user:password@]host[:port][/db]           one server ("rediss://" for TLS)
 *   redis+sentinel://[user:password@]h1:26379,h2:26379/<master name>[/db]
 *                                                      Sentinel: the nodes are the sentinels,
 *                                                      the password is the master's
 *   redis+cluster://[user:password@]h1:6379,h2:6379    Redis Cluster: seed nodes
 *
 * "rediss+sentinel://" and "rediss+cluster://" connect to the data nodes over TLS.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: { host: string; port: number }[]; name: string; options: RedisOptions }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; options: ClusterOptions };

export const REDIS_URL_PATTERN = /^(rediss?|rediss?\+sentinel|rediss?\+cluster):\/\//;

export class RedisUrlError extends Error {}

function hosts(list: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((h) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(h.trim());
    if (!m) throw new RedisUrlError(`"${h}" is not host[:port]`);
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) throw new RedisUrlError(`port ${port} out of range`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/** Parse a REDIS_URL; throws RedisUrlError saying what is wrong (never echoing the password). */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = REDIS_URL_PATTERN.exec(url)?.[1];
  if (!scheme) throw new RedisUrlError('a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL');
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'single', url };
  const tls = scheme.startsWith('rediss');
  // host lists are not URL hosts: take the URL apart by hand.
  const rest = url.slice(scheme.length + 3);
  const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? rest.length : rest.indexOf('/'));
  const auth = at === -1 ? '' : rest.slice(0, at);
  const afterAuth = at === -1 ? rest : rest.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hostList = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = (slash === -1 ? '' : afterAuth.slice(slash + 1)).split('?')[0]!;
  if (!hostList) throw new RedisUrlError('at least one host');
  const colon = auth.indexOf(':');
  const username = auth ? decodeURIComponent(colon === -1 ? '' : auth.slice(0, colon)) : '';
  const password = auth ? decodeURIComponent(colon === -1 ? auth : auth.slice(colon + 1)) : '';
  const credentials: RedisOptions = { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls: {} } : {}) };
  const segments = path.split('/').filter(Boolean);
  if (scheme.endsWith('+sentinel')) {
    const [name, db, ...extra] = segments;
    if (!name) throw new RedisUrlError('the master name as the path, e.g. redis+sentinel://s1:26379,s2:26379/mymaster');
    if (extra.length > 0 || (db !== undefined && !/^\d{1,2}$/.test(db))) throw new RedisUrlError('the path /<master name>[/<db number>]');
    return {
      kind: 'sentinel',
      sentinels: hosts(hostList, 26379),
      name: decodeURIComponent(name),
      options: { ...credentials, ...(db !== undefined ? { db: Number(db) } : {}) },
    };
  }
  if (segments.length > 0) throw new RedisUrlError('no path for a cluster (Redis Cluster has only database 0)');
  return { kind: 'cluster', nodes: hosts(hostList, 6379), options: { redisOptions: credentials } };
}
