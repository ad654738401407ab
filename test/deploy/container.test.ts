import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { makeDevTlsPair } from '../../src/pki/tls-dev';
import { freePort, REPO_ROOT } from '../support/broker-process';
import { describeWithProductionServices, freshPostgresDatabase, TEST_REDIS_URL } from '../support/pairs';

/**
 * Issue 10 "Container". No Docker engine runs here, so:
 *  1. the Dockerfile, the README's `docker run` line, docs/deploy/compose.yaml and nginx.conf
 *     are read and must agree with each other and with the configuration loader;
 *  2. the built dist/ is run the way the image's CMD runs it (same argv, WORKDIR layout, the
 *     image's ENV plus the README's -e variables, keys at ./certs), as an unprivileged user, and
 *     must answer /healthz, /readyz and serve the SAML metadata.
 */
const read = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8');

interface Dockerfile {
  stages: { from: string; lines: string[] }[];
  env: Record<string, string>;
  expose: number[];
  user: string;
  cmd: string[];
  healthcheck: string;
}

function parseDockerfile(text: string): Dockerfile {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Dockerfile['stages'] = [];
  for (const l of logical) {
    if (/^FROM\s/i.test(l)) stages.push({ from: l.split(/\s+/)[1]!, lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  const final = stages.at(-1)!.lines;
  const env: Record<string, string> = {};
  for (const l of final.filter((x) => x.startsWith('ENV '))) for (const m of l.slice(4).matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  const expose = final.filter((x) => x.startsWith('EXPOSE ')).flatMap((x) => x.slice(7).trim().split(/\s+/).map(Number));
  const user = final.filter((x) => x.startsWith('USER ')).at(-1)?.slice(5).trim() ?? 'root';
  const cmdLine = final.filter((x) => x.startsWith('CMD ')).at(-1)!;
  return { stages, env, expose, user, cmd: JSON.parse(cmdLine.slice(4)) as string[], healthcheck: final.find((x) => x.startsWith('HEALTHCHECK ')) ?? '' };
}

/** Shell words of one command line (single and double quotes; no expansions needed here). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

interface DockerRun {
  env: Record<string, string>;
  ports: { host: string; container: number }[];
  volumes: { host: string; container: string }[];
  image: string;
}

/** The README's `docker run` command (the first one in a ```sh block), continuation lines joined. */
function readmeDockerRun(readme: string): DockerRun {
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('docker run'));
  if (!block) throw new Error('README has no ```sh block with `docker run`');
  const joined = block.replace(/\\\n/g, ' ');
  const line = joined.split('\n').find((l) => l.trim().startsWith('docker run'))!;
  const words = shellWords(line).slice(2);
  const run: DockerRun = { env: {}, ports: [], volumes: [], image: '' };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-e') {
      const kv = words[++i]!;
      run.env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    } else if (w === '-p') {
      const parts = words[++i]!.split(':');
      run.ports.push({ host: parts.slice(0, -1).join(':'), container: Number(parts.at(-1)) });
    } else if (w === '-v') {
      const [host, container] = words[++i]!.split(':');
      run.volumes.push({ host: host!, container: container! });
    } else if (w === '--name') i++;
    else if (!w.startsWith('-')) run.image = w;
  }
  return run;
}

/** Environment variable names of the broker service in compose.yaml (the x-broker anchor). */
function composeBrokerEnv(compose: string): Record<string, string> {
  const block = /x-broker: &broker\n([\s\S]*?)\n\S/.exec(compose)![1]!;
  const envBlock = /\n {2}environment:\n((?: {4}.*\n?)+)/.exec(block)![1]!;
  const env: Record<string, string> = {};
  for (const m of envBlock.matchAll(/^ {4}([A-Z_]+): (.*)$/gm)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return env;
}

/** Every environment variable the configuration loader reads (src/config/index.ts). */
function configEnvNames(): Set<string> {
  return new Set([...read('src/config/index.ts').matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
}

describe('Dockerfile, README, compose example and nginx agree', () => {
  const df = parseDockerfile(read('Dockerfile'));
  const readme = read('README.md');
  const run = readmeDockerRun(readme);
  const compose = read('docs/deploy/compose.yaml');
  const nginx = read('docs/deploy/nginx.conf');
  const known = configEnvNames();

  test('multi-stage on a supported Node LTS, non-root, production dependencies only, HEALTHCHECK on the operator /healthz', () => {
    expect(df.stages.length).toBeGreaterThanOrEqual(2);
    for (const s of df.stages) expect(s.from).toMatch(/^node:(22|24)-bookworm-slim$/);
    const build = df.stages[0]!.lines.join('\n');
    expect(build).toMatch(/npm ci/);
    expect(build).toMatch(/npm prune --omit=dev/);
    const final = df.stages.at(-1)!.lines.join('\n');
    expect(final).toMatch(/COPY --from=build \/app\/node_modules/);
    expect(final).not.toMatch(/COPY (src|test|bench)\b/);
    expect(df.user).not.toMatch(/^(root|0)(:|$)/);
    expect(df.healthcheck).toContain('/healthz');
    expect(df.healthcheck).toContain('process.env.OPERATOR_PORT');
    expect(df.cmd).toEqual(['node', '--enable-source-maps', 'dist/main.js']);
    // The image's CMD is the one `npm start` runs after its build.
    expect(JSON.parse(read('package.json')).scripts.start).toBe(df.cmd.join(' '));
  });

  test('every port the image listens on is exposed; the README publishes the same ones', () => {
    const listened = [Number(df.env.PORT), Number(df.env.CERTIFICATE_PORT), Number(df.env.OPERATOR_PORT)];
    expect([...df.expose].sort()).toEqual([...listened].sort());
    expect(run.ports.map((p) => p.container).sort()).toEqual([...listened].sort());
    // The operator listener is published on the loopback only.
    expect(run.ports.find((p) => p.container === Number(df.env.OPERATOR_PORT))?.host).toMatch(/^127\.0\.0\.1:/);
    expect(df.env.OPERATOR_HOST).toBe('0.0.0.0');
    // nginx sends HTTP to PORT and passes the certificate host's TLS through to CERTIFICATE_PORT, and publishes no operator port.
    expect(nginx).toMatch(new RegExp(`server broker1:${df.env.PORT}\\b`));
    expect(nginx).toMatch(new RegExp(`server broker2:${df.env.CERTIFICATE_PORT};`));
    expect(nginx).not.toContain(`:${df.env.OPERATOR_PORT}`);
  });

  test('every variable in the Dockerfile, the README line and compose.yaml is one the configuration reads, and the README table lists them all', () => {
    const names = new Set([...Object.keys(df.env), ...Object.keys(run.env), ...Object.keys(composeBrokerEnv(compose))]);
    for (const n of names) expect(known.has(n) ? n : `${n} is not read by src/config/index.ts`).toBe(n);
    const table = /### Configuration\n([\s\S]*?)\n### /.exec(readme)![1]!;
    for (const n of [...known].filter((k) => k !== 'NODE_ENV')) expect(table.includes(`\`${n}\``) ? n : `${n} missing from the README table`).toBe(n);
    expect(table).toContain('`NODE_ENV`');
  });

  test('the two compose nodes run the README container with the same settings, on PostgreSQL and Redis, behind the load balancer', () => {
    const env = composeBrokerEnv(compose);
    for (const n of Object.keys(run.env)) expect(Object.keys(env)).toContain(n);
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(env.BASE_URL).toBe(run.env.BASE_URL);
    expect(compose).toMatch(/^ {2}broker1:\n {4}<<: \*broker$/m);
    expect(compose).toMatch(/^ {2}broker2:\n {4}<<: \*broker$/m);
    expect(compose).toMatch(/^ {2}image: pasarela$/m);
    expect(run.image).toBe('pasarela');
    expect(readme).toContain('docker build -t pasarela .');
    for (const v of [...run.volumes, { host: './certs', container: /- \.\/certs:(\S+?)(:ro)?$/m.exec(compose)![1]! }]) {
      expect(path.posix.resolve('/app', df.env.KEYS_DIR!)).toBe(v.container);
    }
    for (const svc of ['postgres:', 'redis:', 'lb:']) expect(compose).toContain(`\n  ${svc}`);
    expect(compose).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
  });

  test('.dockerignore keeps node_modules, var/, keys, .git and test artefacts out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'var', 'certs', '*.key', '.git', 'test-artifacts', 'coverage', 'dist']) expect(ignored).toContain(p);
  });
});

/** Run `cmd` as uid/gid 65534 (nobody) when we are root; fail under CI=true if that is impossible. */
function unprivileged(cmd: string[]): { argv: string[]; uid: number } {
  if (process.getuid?.() !== 0) return { argv: cmd, uid: process.getuid!() };
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']);
  if (probe.status !== 0) throw new Error(`cannot drop privileges with setpriv (${probe.error?.message ?? probe.stderr?.toString()}): the container test must run as a non-root user`);
  return { argv: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', ...cmd], uid: 65534 };
}

describeWithProductionServices('the image CMD, run from dist/ with the README environment as a non-root user', () => {
  const df = parseDockerfile(read('Dockerfile'));
  const run = readmeDockerRun(read('README.md'));
  let dir: string;
  let app: string;
  let child: ChildProcess | undefined;
  let out = '';
  let db: { url: string; drop: () => Promise<void> };
  const ports: Record<'PORT' | 'CERTIFICATE_PORT' | 'OPERATOR_PORT', number> = { PORT: 0, CERTIFICATE_PORT: 0, OPERATOR_PORT: 0 };

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    dir = mkdtempSync(path.join(tmpdir(), 'pasarela-image-'));
    chmodSync(dir, 0o755);
    // WORKDIR /app as the runtime stage lays it out: dist, node_modules, package.json, config, metadata.
    app = path.join(dir, 'app');
    mkdirSync(app);
    for (const f of ['dist', 'config', 'metadata', 'package.json']) cpSync(path.join(REPO_ROOT, f), path.join(app, f), { recursive: true });
    const user = unprivileged(['true']);
    const nodeModules = path.join(REPO_ROOT, 'node_modules');
    const readable = spawnSync(user.argv[0]!, [...user.argv.slice(1, -1), 'test', '-r', path.join(nodeModules, 'express', 'package.json')]).status === 0;
    if (readable) symlinkSync(nodeModules, path.join(app, 'node_modules'));
    else cpSync(nodeModules, path.join(app, 'node_modules'), { recursive: true, dereference: true });
    // The keys volume (-v …:/app/certs), readable by the image's user only.
    const certs = path.join(app, df.env.KEYS_DIR!);
    mkdirSync(certs);
    const host = new URL(run.env.BASE_URL!).hostname;
    const pairs: Record<string, { keyPem: string; certPem: string }> = {
      signing: makeSelfSignedRsa(`${host} SAML signing`),
      encryption: makeSelfSignedRsa(`${host} SAML encryption`),
      'metadata-signing': makeSelfSignedRsa(`${host} SAML metadata signing`, { bits: 3072 }),
      'certificate-host': makeDevTlsPair(['localhost', '127.0.0.1', new URL(run.env.CERTIFICATE_PUBLIC_URL!).hostname]),
    };
    for (const [name, p] of Object.entries(pairs)) {
      writeFileSync(path.join(certs, `${name}.key`), p.keyPem, { mode: 0o600 });
      writeFileSync(path.join(certs, `${name}.crt`), p.certPem, { mode: 0o644 });
    }
    if (user.uid !== process.getuid?.()) {
      chownSync(certs, user.uid, user.uid);
      for (const f of readdirSync(certs)) chownSync(path.join(certs, f), user.uid, user.uid);
    }
    const home = path.join(dir, 'home');
    mkdirSync(home);
    if (user.uid !== process.getuid?.()) chownSync(home, user.uid, user.uid);
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();

    // The README's -e values: placeholders (…) become fresh secrets, the stores are this machine's.
    const readmeEnv = Object.fromEntries(Object.entries(run.env).map(([k, v]) => [k, v.includes('…') ? randomBytes(24).toString('base64url') : v]));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      ...df.env,
      ...readmeEnv,
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      // Shared machine: other ports than the image's fixed ones, and a Redis namespace of our own.
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      REDIS_KEY_PREFIX: `pasarela-image-${randomBytes(4).toString('hex')}:`,
    };
    const cmd = unprivileged(df.cmd.map((a, i) => (i === 0 && a === 'node' ? process.execPath : a)));
    child = spawn(cmd.argv[0]!, cmd.argv.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    process.once('exit', () => child?.kill('SIGKILL'));
    for (let i = 0; i < 600 && !out.includes('Pasarela is listening') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    if (!out.includes('Pasarela is listening')) throw new Error(`the image CMD did not start:\n${out}`);
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('it runs as the unprivileged user, in production mode, and writes nothing in /app', () => {
    const status = readFileSync(`/proc/${child!.pid}/status`, 'utf8');
    const pid = /^Uid:\s+(\d+)/m.exec(status)![1];
    const expected = process.getuid?.() === 0 ? '65534' : String(process.getuid!());
    expect(pid).toBe(expected);
    expect(out).toContain(`Pasarela is listening on ${run.env.BASE_URL}`);
    expect(out).not.toMatch(/Demo SP|development only/);
    expect(readdirSync(app).sort()).toEqual(['certs', 'config', 'dist', 'metadata', 'node_modules', 'package.json']);
    expect(statSync(path.join(app, 'config')).uid).toBe(process.getuid!());
  });

  test('HEALTHCHECK: /healthz on the operator port; /readyz sees PostgreSQL and Redis', async () => {
    // The HEALTHCHECK command itself, as the image runs it.
    const hc = JSON.parse(df.healthcheck.slice(df.healthcheck.indexOf('CMD ') + 4)) as string[];
    const r = spawnSync(process.execPath, hc.slice(1), { env: { ...process.env, OPERATOR_PORT: String(ports.OPERATOR_PORT) }, timeout: 10_000 });
    expect(r.status).toBe(0);
    expect((await fetch(`http://127.0.0.1:${ports.OPERATOR_PORT}/readyz`)).status).toBe(200);
  });

  test('the SAML metadata is served with the entityID of BASE_URL; the certificate host answers TLS', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.PORT}/metadata`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${run.env.BASE_URL}/metadata"`);
    expect(xml).toContain(`Location="${run.env.BASE_URL}/saml/sso"`);
    const tls = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${ports.CERTIFICATE_PORT}`, '-brief'], { input: '', timeout: 10_000, encoding: 'utf8' });
    expect(`${tls.stdout}${tls.stderr}`).toMatch(/CONNECTION ESTABLISHED|Protocol version: TLSv1\.[23]/);
  });
});
