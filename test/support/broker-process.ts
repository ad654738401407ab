import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/**
 * The real broker as a child process, started exactly as `npm start` starts it after its build
 * (`node --enable-source-maps dist/main.js`, cwd = the repository root), isolated in a temp dir:
 * its own ports (PORT, OPERATOR_PORT, certificate.port), SQLite file, keys, outbox and SP
 * metadata directory, fixed secrets (so nothing is written to the repository's var/),
 * `LOG_LEVEL=warn`. The demo stays on, so the demo
 * citizen (DNI 12345678Z, password Demo-Pasarela-2026, advanced registration) is seeded.
 *
 * SPs are registered the way operators do it: their metadata (and optional
 * `<name>.policy.json`) is written to the metadata directory before the start.
 *
 *   const broker = await startProcessBroker({ sps: [{ name: 'pysaml2', metadataXml, policy: { encryptAssertion: true } }] });
 *   try { const md = await fetchBrokerMetadata(broker); ... } finally { await broker.stop(); }
 *
 * dist/ is built once per jest run by test/support/global-setup.ts.
 */

export const REPO_ROOT = path.resolve(__dirname, '../..');
const MAIN_JS = path.join(REPO_ROOT, 'dist', 'main.js');
const BANNER = 'Pasarela is listening';

export interface SpRegistration {
  /** File name stem in the metadata directory: `<name>.xml`, `<name>.policy.json`. */
  name: string;
  metadataXml: string;
  /** SP policy overrides (README "Registering an SP"), e.g. `{ encryptAssertion: true }`. */
  policy?: Record<string, unknown>;
}

export interface ProcessBrokerOptions {
  sps?: SpRegistration[];
  /** Methods to enable (default pin + permanente: no certificate host, no development PKI). */
  methods?: string[];
  /** Extra keys for the PASARELA_CONFIG file, deep-merged over ours (which the broker merges over config/default.json). */
  config?: Record<string, unknown>;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** How long to wait for the start banner (ms). */
  startTimeoutMs?: number;
}

export interface ProcessBroker {
  baseUrl: string;
  port: number;
  /** The certificate host's port (reserved even when the certificate method is off). */
  certificatePort: number;
  /** The operator listener (/healthz, /readyz, /metrics). */
  operatorPort: number;
  operatorUrl: string;
  entityId: string;
  ssoUrl: string;
  metadataUrl: string;
  /** The temp dir holding everything below. */
  dir: string;
  keysDir: string;
  metadataDir: string;
  outboxPath: string;
  sqlitePath: string;
  configPath: string;
  /** The certificate SPs use to check the signature of /metadata. */
  metadataSigningCertPath: string;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the current process's exit code (-1 when killed by a signal). */
  exited(): Promise<number | null>;
  /**
   * Stop the process and start it again on the same ports, files and keys (an operator's
   * restart), with these extra environment variables and config keys (merged over the first
   * start's). Resolves once the new process printed its banner.
   */
  restart(changes?: { env?: Record<string, string>; config?: Record<string, unknown> }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The certificate that signs our /metadata, in a broker's keys directory. The ONE place that
 * knows its file name.
 */
export function metadataSigningCertPath(keysDir: string): string {
  return path.join(keysDir, 'metadata-signing.crt');
}

export { freePort };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Plain objects merge; arrays and scalars from `over` replace (as the broker merges its config files). */
function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

/** Environment variables of ours that must not leak from the test runner into the broker. */
const SCRUBBED_ENV = [
  'NODE_ENV',
  'PORT',
  'HOST',
  'BASE_URL',
  'ENTITY_ID',
  'DATABASE_URL',
  'SQLITE_PATH',
  'REDIS_URL',
  'LOG_LEVEL',
  'KEYS_DIR',
  'PASARELA_CONFIG',
  'PASARELA_PAIRWISE_SECRET',
  'PASARELA_CSRF_SECRET',
  'NOTIFY_URL',
  'NOTIFY_AUTH_HEADER',
  'DEMO',
  'UV_THREADPOOL_SIZE',
  'OPERATOR_PORT',
  'OPERATOR_HOST',
];

export async function startProcessBroker(opts: ProcessBrokerOptions = {}): Promise<ProcessBroker> {
  if (!existsSync(MAIN_JS)) {
    throw new Error(`${MAIN_JS} is missing: run \`npx tsc -p tsconfig.build.json\` (jest's globalSetup does it)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-proc-'));
  const keysDir = path.join(dir, 'keys');
  const metadataDir = path.join(dir, 'metadata-sps');
  const outboxPath = path.join(dir, 'outbox.jsonl');
  const sqlitePath = path.join(dir, 'pasarela.sqlite');
  const configPath = path.join(dir, 'pasarela.json');
  mkdirSync(metadataDir);
  for (const sp of opts.sps ?? []) {
    if (!/^[A-Za-z0-9_.-]+$/.test(sp.name)) throw new Error(`SP name ${sp.name} is not a plain file name`);
    writeFileSync(path.join(metadataDir, `${sp.name}.xml`), sp.metadataXml);
    if (sp.policy) writeFileSync(path.join(metadataDir, `${sp.name}.policy.json`), JSON.stringify(sp.policy, null, 2));
  }

  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [port, certificatePort, operatorPort] = [...ports] as [number, number, number];
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of SCRUBBED_ENV) delete env[k];
  Object.assign(env, {
    PORT: String(port),
    OPERATOR_PORT: String(operatorPort),
    BASE_URL: baseUrl,
    SQLITE_PATH: sqlitePath,
    KEYS_DIR: keysDir,
    PASARELA_CONFIG: configPath,
    PASARELA_PAIRWISE_SECRET: 'interop-pairwise-secret-0123456789abcdef',
    PASARELA_CSRF_SECRET: 'interop-csrf-secret-0123456789abcdef-xyz',
    LOG_LEVEL: 'warn',
    ...(opts.env ?? {}),
  });

  let configOverrides: Record<string, unknown> = opts.config ?? {};
  const writeConfig = () =>
    writeFileSync(
      configPath,
      JSON.stringify(
        deepMerge(
          {
            methods: { enabled: opts.methods ?? ['pin', 'permanente'] },
            certificate: { port: certificatePort },
            notify: { outboxPath },
            trust: { metadataDir },
          },
          configOverrides,
        ),
        null,
        2,
      ),
    );
  writeConfig();
  let child!: ChildProcess;
  let out = '';
  let err = '';
  let exited!: Promise<number | null>;
  // Never outlive the test process (a crashed or killed jest worker).
  const orphanGuard = (): void => {
    child.kill('SIGKILL');
  };
  const kill = async (): Promise<void> => {
    process.off('exit', orphanGuard);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const stop = async (): Promise<void> => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const launch = async (): Promise<void> => {
    child = spawn(process.execPath, ['--enable-source-maps', MAIN_JS], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    out = '';
    err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const me = child;
    exited = new Promise<number | null>((resolve) => me.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    process.once('exit', orphanGuard);
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    const started = await new Promise<'up' | 'exit' | 'timeout'>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), timeoutMs);
      const onData = () => {
        if (out.includes(BANNER)) {
          clearTimeout(timer);
          me.stdout!.off('data', onData);
          resolve('up');
        }
      };
      me.stdout!.on('data', onData);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(out.includes(BANNER) ? 'up' : 'exit');
      });
    });
    if (started !== 'up') {
      const why = started === 'exit' ? `exited with ${me.exitCode ?? me.signalCode}` : `printed no "${BANNER}" within ${timeoutMs} ms`;
      const captured = `stderr:\n${err || '(empty)'}\nstdout:\n${out || '(empty)'}`;
      await stop();
      throw new Error(`the broker (node dist/main.js) ${why}\n${captured}`);
    }
  };
  await launch();
  const restart = async (changes: { env?: Record<string, string>; config?: Record<string, unknown> } = {}): Promise<void> => {
    await kill();
    Object.assign(env, changes.env ?? {});
    if (changes.config) {
      configOverrides = deepMerge(configOverrides, changes.config);
      writeConfig();
    }
    await launch();
  };

  return {
    baseUrl,
    port,
    certificatePort,
    operatorPort,
    operatorUrl: `http://127.0.0.1:${operatorPort}`,
    entityId: `${baseUrl}/metadata`,
    ssoUrl: `${baseUrl}/saml/sso`,
    metadataUrl: `${baseUrl}/metadata`,
    dir,
    keysDir,
    metadataDir,
    outboxPath,
    sqlitePath,
    configPath,
    metadataSigningCertPath: metadataSigningCertPath(keysDir),
    get pid() {
      return child.pid!;
    },
    stdout: () => out,
    stderr: () => err,
    exited: () => exited,
    restart,
    stop,
  };
}

/** GET the broker's /metadata (status 200, XML body). */
export async function fetchBrokerMetadata(broker: Pick<ProcessBroker, 'metadataUrl'>): Promise<string> {
  const res = await fetch(broker.metadataUrl);
  if (res.status !== 200) throw new Error(`GET ${broker.metadataUrl} answered ${res.status}`);
  return res.text();
}
