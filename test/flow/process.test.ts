import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort, REPO_ROOT, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { formFields } from '../support/harness';
import { HttpCitizen } from '../support/http-citizen';

/**
 * src/server.ts as an operator runs it (`node dist/main.js`, the image's CMD): the start banner,
 * the operator listener, SIGTERM draining, and what a start writes (issue 10 "Why": a failed
 * start had already written a demo SP row; entries of old base URLs stayed).
 */
const MAIN_JS = path.join(REPO_ROOT, 'dist', 'main.js');

function demoRows(sqlitePath: string): { entity_id: string; source: string }[] {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT entity_id, source FROM service_providers WHERE source = 'demo' ORDER BY entity_id").all() as { entity_id: string; source: string }[];
  } finally {
    db.close();
  }
}

/** One start that is expected to fail: its own temp dir, SQLite file and keys; returns the exit status and stderr. */
async function failedStart(opts: { env?: Record<string, string>; config?: (dir: string) => Record<string, unknown>; prepare?: (dir: string) => void }): Promise<{ status: number | null; stderr: string; sqlitePath: string; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-failstart-'));
  const sqlitePath = path.join(dir, 'pasarela.sqlite');
  const configPath = path.join(dir, 'pasarela.json');
  mkdirSync(path.join(dir, 'metadata-sps'));
  writeFileSync(
    configPath,
    JSON.stringify({
      methods: { enabled: ['pin', 'permanente'] },
      notify: { outboxPath: path.join(dir, 'outbox.jsonl') },
      trust: { metadataDir: path.join(dir, 'metadata-sps') },
      ...(opts.config?.(dir) ?? {}),
    }),
  );
  opts.prepare?.(dir);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NODE_ENV', 'REDIS_URL', 'DATABASE_URL', 'WORKERS', 'BASE_URL']) delete env[k];
  const port = await freePort();
  Object.assign(env, {
    PORT: String(port),
    OPERATOR_PORT: String(await freePort()),
    SQLITE_PATH: sqlitePath,
    KEYS_DIR: path.join(dir, 'keys'),
    PASARELA_CONFIG: configPath,
    PASARELA_PAIRWISE_SECRET: 'failstart-pairwise-secret-0123456789abcdef',
    PASARELA_CSRF_SECRET: 'failstart-csrf-secret-0123456789abcdef-xyz',
    LOG_LEVEL: 'warn',
    ...(opts.env ?? {}),
  });
  const r = spawnSync(process.execPath, ['--enable-source-maps', MAIN_JS], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr, sqlitePath, dir };
}

describe('the broker process (server.ts)', () => {
  let broker: ProcessBroker;
  beforeAll(async () => {
    broker = await startProcessBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  test('the banner names the operator listener; /healthz, /readyz and the metadata answer', async () => {
    const out = broker.stdout();
    expect(out).toContain(`Pasarela is listening on ${broker.baseUrl}`);
    expect(out).toContain(`Metrics:   ${broker.operatorUrl}/metrics`);
    expect(out).toContain(`Ready:     ${broker.operatorUrl}/readyz  (alive: ${broker.operatorUrl}/healthz)`);
    expect((await fetch(`${broker.operatorUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${broker.operatorUrl}/readyz`)).status).toBe(200);
    const md = await fetch(broker.metadataUrl);
    expect(md.status).toBe(200);
    expect(await md.text()).toContain(`entityID="${broker.entityId}"`);
  });

  test('a new BASE_URL replaces the demo SP of the old one; the old entry is gone', async () => {
    expect(demoRows(broker.sqlitePath).map((r) => r.entity_id)).toEqual([`${broker.baseUrl}/demo/metadata`]);
    const other = `http://localhost:${broker.port}`;
    await broker.restart({ env: { BASE_URL: other } });
    expect(demoRows(broker.sqlitePath).map((r) => r.entity_id)).toEqual([`${other}/demo/metadata`]);
    await broker.restart({ env: { BASE_URL: broker.baseUrl } });
    expect(demoRows(broker.sqlitePath).map((r) => r.entity_id)).toEqual([`${broker.baseUrl}/demo/metadata`]);
  }, 60_000);

  test('SIGTERM: the request in flight is answered, new connections are refused, then the process exits 0', async () => {
    const socket = connect(broker.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (d: string) => (received += d));
    const until = async (cond: () => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
      if (!cond()) throw new Error(`${what}; received: ${received}`);
    };
    const body = 'SAMLRequest=not-a-saml-request';
    // "Expect: 100-continue": the server's "100 Continue" proves it parsed the headers, so the request is in flight.
    socket.write(`POST /saml/sso HTTP/1.1\r\nHost: 127.0.0.1:${broker.port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
    await until(() => received.includes('100 Continue'), 'no 100 Continue');

    process.kill(broker.pid, 'SIGTERM');
    const refused = (): Promise<boolean> =>
      new Promise((resolve) => {
        const probe = connect(broker.port, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          resolve(false);
        });
        probe.once('error', () => resolve(true));
      });
    let closed = false;
    for (let i = 0; i < 200 && !closed; i++) {
      closed = await refused();
      if (!closed) await new Promise((r) => setTimeout(r, 25));
    }
    expect(closed).toBe(true);

    socket.write(body);
    await until(() => /\r\n\r\n[\s\S]*<\/html>/.test(received), 'no complete response');
    expect(received).toMatch(/HTTP\/1\.1 400 Bad Request/);
    expect(await broker.exited()).toBe(0);
    socket.destroy();
    // Leave a running broker for afterAll.
    await broker.restart();
  }, 60_000);
});

describe('a start that fails', () => {
  const dirs: string[] = [];
  let held: Server | undefined;
  afterAll(() => {
    held?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('(operator port in use) exits non-zero and leaves no demo SP row, no demo citizen', async () => {
    const port = await freePort();
    held = createServer();
    await new Promise<void>((resolve) => held!.listen(port, '127.0.0.1', resolve));
    const r = await failedStart({ env: { OPERATOR_PORT: String(port) } });
    dirs.push(r.dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EADDRINUSE');
    expect(demoRows(r.sqlitePath)).toEqual([]);
    const db = new Database(r.sqlitePath, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM citizens').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  test('(a key file that cannot be read) names the setting and the file, no bare EISDIR', async () => {
    const r = await failedStart({
      prepare: (dir) => {
        for (const f of ['signing.key', 'signing.crt']) mkdirSync(path.join(dir, 'keys', f), { recursive: true });
      },
    });
    dirs.push(r.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`pasarela: configuration key "keys.dir": ${path.join(r.dir, 'keys', 'signing.key')} to be a readable file (EISDIR)`);
    expect(existsSync(r.sqlitePath)).toBe(false);
  });

  test('(keys.nextSigningCertPath names a missing file) names the setting and the file, no bare ENOENT', async () => {
    const r = await failedStart({ config: (dir) => ({ keys: { nextSigningCertPath: path.join(dir, 'no-such-next.crt') } }) });
    dirs.push(r.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`pasarela: configuration key "keys.nextSigningCertPath": a readable PEM certificate at ${path.join(r.dir, 'no-such-next.crt')}`);
    expect(r.stderr).not.toMatch(/^Error: ENOENT/m);
  });

  test('(DATABASE_URL or REDIS_URL to a closed port) says which service is unreachable, without a stack trace or the password', async () => {
    const closed = await freePort();
    const pg = await failedStart({ env: { DATABASE_URL: `postgres://pasarela:s3cret@127.0.0.1:${closed}/pasarela` } });
    dirs.push(pg.dir);
    expect(pg.status).toBe(1);
    expect(pg.stderr).toContain(`pasarela: failed to start: cannot connect to PostgreSQL at postgres://pasarela:***@127.0.0.1:${closed}/pasarela`);
    expect(pg.stderr).not.toContain('s3cret');
    expect(pg.stderr).not.toMatch(/^\s+at /m);
    const redis = await failedStart({ env: { REDIS_URL: `redis://:s3cret@127.0.0.1:${closed}` } });
    dirs.push(redis.dir);
    expect(redis.status).toBe(1);
    expect(redis.stderr).toContain(`pasarela: failed to start: cannot connect to Redis at redis://:***@127.0.0.1:${closed}`);
    expect(redis.stderr).not.toContain('s3cret');
    expect(redis.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});

describe('the broker process wires the certificate host to the audit trail', () => {
  let broker: ProcessBroker;
  beforeAll(async () => {
    broker = await startProcessBroker({ methods: ['permanente', 'certificate'] });
  }, 60_000);
  afterAll(async () => {
    await broker?.stop();
  });

  test('a login at the certificate host without a certificate is an auth.login.failed record in the database', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const toSso = await citizen.get(`${broker.baseUrl}/demo/login?loa=low`);
    const toChooser = await citizen.get(toSso.location!);
    const txnUrl = toChooser.location!;
    const chooser = await citizen.get(txnUrl);
    const picked = await citizen.post(txnUrl, { _csrf: formFields(chooser.text)._csrf!, method: 'certificate' });
    const start = await citizen.get(picked.location!);
    const href = /<a class="button" href="([^"]+)" id="certificate-continue">/.exec(start.text)?.[1];
    expect(href).toBeDefined();
    // The browser goes to the certificate host (self-signed in development) and presents nothing.
    const target = new URL(href!.replace(/&amp;/g, '&'));
    target.hostname = '127.0.0.1';
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      https
        .get(target, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        })
        .on('error', reject);
    });
    expect(answer.status).toBe(400);
    const db = new Database(broker.sqlitePath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare("SELECT request_id, detail FROM audit_events WHERE type = 'auth.login.failed'").all() as { request_id: string; detail: string }[];
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]!.detail)).toMatchObject({ method: 'certificate', reason: 'ERR_CERT_MISSING', sp: `${broker.baseUrl}/demo/metadata` });
      expect(answer.text).toContain(rows[0]!.request_id);
    } finally {
      db.close();
    }
  }, 60_000);
});
