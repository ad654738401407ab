import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

import { ConfigError } from '../errors';
import { configSchema, type RawConfig } from './schema';

export type { RawConfig } from './schema';

/** The validated configuration plus values derived from it. */
export interface Config extends Omit<RawConfig, 'workers'> {
  /** Broker processes ("auto" resolved to the number of cores). */
  workers: number;
  baseUrl: string;
  entityId: string;
  ssoUrls: { redirect: string; post: string };
  /** true when the public URL is https: cookies get Secure and SameSite=None. */
  secureCookies: boolean;
  /** Paths resolved against the project root. */
  root: string;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars from `over` replace. */
export function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as Json, v) : v;
  }
  return out;
}

function readJson(file: string): Json {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(parsed)) throw new Error('not a JSON object');
    return parsed;
  } catch (err) {
    throw new ConfigError(file, `a readable JSON object (${(err as Error).message})`);
  }
}

/** Environment variables that override the files (operators' usual knobs). */
function fromEnv(env: NodeJS.ProcessEnv): Json {
  const o: Json = {};
  const set = (keyPath: string, value: unknown): void => {
    const parts = keyPath.split('.');
    let cur = o;
    for (const p of parts.slice(0, -1)) cur = (cur[p] = isObject(cur[p]) ? cur[p] : {}) as Json;
    cur[parts.at(-1)!] = value;
  };
  if (env.PORT !== undefined) set('port', env.PORT);
  if (env.HOST) set('host', env.HOST);
  if (env.WORKERS) set('workers', env.WORKERS === 'auto' ? 'auto' : env.WORKERS);
  if (env.OPERATOR_PORT !== undefined) set('operator.port', env.OPERATOR_PORT);
  if (env.OPERATOR_HOST) set('operator.host', env.OPERATOR_HOST);
  if (env.CERTIFICATE_PORT !== undefined) set('certificate.port', env.CERTIFICATE_PORT);
  if (env.CERTIFICATE_PUBLIC_URL) set('certificate.publicUrl', env.CERTIFICATE_PUBLIC_URL.replace(/\/+$/, ''));
  if (env.BASE_URL) set('baseUrl', env.BASE_URL.replace(/\/+$/, ''));
  if (env.ENTITY_ID) set('entityId', env.ENTITY_ID);
  if (env.DATABASE_URL) set('database.url', env.DATABASE_URL);
  if (env.SQLITE_PATH) set('database.sqlitePath', env.SQLITE_PATH);
  if (env.REDIS_URL) set('store.redisUrl', env.REDIS_URL);
  if (env.LOG_LEVEL) set('log.level', env.LOG_LEVEL);
  if (env.KEYS_DIR) set('keys.dir', env.KEYS_DIR);
  if (env.PASARELA_PAIRWISE_SECRET) set('secrets.pairwise', env.PASARELA_PAIRWISE_SECRET);
  if (env.PASARELA_CSRF_SECRET) set('secrets.csrf', env.PASARELA_CSRF_SECRET);
  if (env.NOTIFY_URL) {
    set('notify.driver', 'http');
    set('notify.http.url', env.NOTIFY_URL);
  }
  if (env.NOTIFY_AUTH_HEADER) set('notify.http.authHeader', env.NOTIFY_AUTH_HEADER);
  if (env.DEMO !== undefined) set('demo.enabled', env.DEMO === 'true' || env.DEMO === '1');
  fromEnvDeployment(env, set);
  // Admin API and trust list (src/admin/config.ts).
  if (env.ADMIN_JWKS_URL) set('admin.jwt.jwksUrl', env.ADMIN_JWKS_URL);
  if (env.ADMIN_JWT_ISSUER) set('admin.jwt.issuer', env.ADMIN_JWT_ISSUER);
  if (env.ADMIN_JWT_AUDIENCE) set('admin.jwt.audience', env.ADMIN_JWT_AUDIENCE);
  if (env.TRUST_POLL_MS) set('admin.trustPollMs', env.TRUST_POLL_MS);
  return o;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * The rest of what a container needs without a config file (README "Configuration"; the
 * Dockerfile and docs/deploy/compose.yaml use these names, test/deploy checks they agree).
 */
function fromEnvDeployment(env: NodeJS.ProcessEnv, set: (keyPath: string, value: unknown) => void): void {
  if (env.METHODS) set('methods.enabled', list(env.METHODS));
  if (env.REDIS_KEY_PREFIX !== undefined) set('store.keyPrefix', env.REDIS_KEY_PREFIX);
  if (env.METADATA_DIR) set('trust.metadataDir', env.METADATA_DIR);
  if (env.KEYS_NEXT_SIGNING_CERT_PATH !== undefined) set('keys.nextSigningCertPath', env.KEYS_NEXT_SIGNING_CERT_PATH);
  if (env.KEYS_NEXT_ENCRYPTION_CERT_PATH !== undefined) set('keys.nextEncryptionCertPath', env.KEYS_NEXT_ENCRYPTION_CERT_PATH);
  if (env.CERTIFICATE_HOST) set('certificate.host', env.CERTIFICATE_HOST);
  if (env.CERTIFICATE_TLS_KEY_PATH) set('certificate.tls.keyPath', env.CERTIFICATE_TLS_KEY_PATH);
  if (env.CERTIFICATE_TLS_CERT_PATH) set('certificate.tls.certPath', env.CERTIFICATE_TLS_CERT_PATH);
  // "dnie:/etc/pasarela/ac-raiz-dnie.pem,qualified:/etc/pasarela/fnmt.pem"
  if (env.CERTIFICATE_ANCHORS) {
    set(
      'certificate.anchors',
      list(env.CERTIFICATE_ANCHORS).map((a) => {
        const colon = a.indexOf(':');
        return colon === -1 ? { kind: a, path: '' } : { kind: a.slice(0, colon), path: a.slice(colon + 1) };
      }),
    );
  }
  if (env.CERTIFICATE_INTERMEDIATES) set('certificate.intermediates', list(env.CERTIFICATE_INTERMEDIATES));
  // "false", "true", or the load balancers' addresses: "10.0.0.1,10.0.0.2" (express "trust proxy").
  if (env.TRUST_PROXY) set('trustProxy', env.TRUST_PROXY === 'true' ? true : env.TRUST_PROXY === 'false' ? false : list(env.TRUST_PROXY));
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Project root holding config/ (default: the current directory). */
  root?: string;
  /** Last-word overrides (tests). */
  overrides?: Json;
}

/**
 * config/default.json, then config/<NODE_ENV>.json, then the file named by PASARELA_CONFIG,
 * then environment variables, then `overrides`; validated as a whole. A wrong value throws a
 * ConfigError naming the key and what was expected.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const root = path.resolve(options.root ?? process.cwd());
  let merged = readJson(path.join(root, 'config', 'default.json'));
  const envName = env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : undefined;
  if (envName) {
    const f = path.join(root, 'config', `${envName}.json`);
    if (existsSync(f)) merged = merge(merged, readJson(f));
    merged.env = envName;
  }
  if (env.PASARELA_CONFIG) merged = merge(merged, readJson(path.resolve(root, env.PASARELA_CONFIG)));
  merged = merge(merged, fromEnv(env));
  if (options.overrides) merged = merge(merged, options.overrides);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    throw new ConfigError(key, issue.message);
  }
  return derive(parsed.data, root);
}

function derive(raw: RawConfig, root: string): Config {
  const baseUrl = (raw.baseUrl ?? `http://localhost:${raw.port}`).replace(/\/+$/, '');
  const loaNames = new Set(['low', 'substantial', 'high']);
  for (const [variant, levels] of Object.entries(raw.loaPolicy)) {
    for (const v of Object.values(levels)) {
      if (v !== null && v !== undefined && !loaNames.has(v)) throw new ConfigError(`loaPolicy.${variant}`, 'low, substantial or high');
    }
  }
  if (raw.env === 'production' && !baseUrl.startsWith('https://')) {
    throw new ConfigError('baseUrl', 'an https:// URL in production');
  }
  return {
    ...raw,
    workers: raw.workers === 'auto' ? availableParallelism() : raw.workers,
    baseUrl,
    entityId: raw.entityId ?? `${baseUrl}/metadata`,
    ssoUrls: { redirect: `${baseUrl}/saml/sso`, post: `${baseUrl}/saml/sso` },
    secureCookies: baseUrl.startsWith('https://'),
    root,
  };
}

