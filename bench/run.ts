/**
 * npm run bench — figures measured in one run on this machine, reported as ratios:
 *  (a) raw crypto.sign RSA-2048/SHA-256 per second in one process (the floor);
 *  (b) SSO round trips per second (fresh signed AuthnRequest in, signed Response out, the SSO
 *      session reused: no password hashing) at concurrency 8 and 32 against ONE broker process;
 *  (c) p50 / p99 latency; and the signing efficiency = round trips/s × RSA signatures per
 *      response ÷ (a). Target: ≥ 0.5, p99 < 20 ms at concurrency 32.
 * Not a test: nothing here asserts; it prints.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import autocannon from 'autocannon';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { DEMO_CITIZEN } from '../src/services';
import { LOA, SIG_ALG } from '../src/saml/constants';
import { buildAuthnRequestXml, newRequestId, rsaSigner } from '../test/support/sp-requests';

const ROOT = path.resolve(__dirname, '..');
const SP_ENTITY = 'https://bench-sp.test/metadata';
const SP_ACS = 'https://bench-sp.test/acs';
const signAsync = promisify(sign);

function rawSignRate(ms: number): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.alloc(600, 1);
  for (let i = 0; i < 200; i++) sign('sha256', data, privateKey); // warm up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < end) {
    sign('sha256', data, privateKey);
    n++;
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

class Cookies {
  private jar = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }
  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function hidden(html: string, name: string): string {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} in page:\n${html.slice(0, 400)}`);
  return m[1]!;
}

async function main(): Promise<void> {
  console.log('Pasarela benchmark — one run, this machine. Ratios matter, absolute numbers vary by host.\n');
  console.log('building…');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });

  const raw = rawSignRate(3000);
  console.log(`(a) raw crypto.sign RSA-2048/SHA-256, one thread: ${raw.toFixed(0)}/s`);

  // A throwaway broker home: its own SQLite, keys, SP metadata; the seeded demo citizen.
  const home = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-'));
  const sp = rsaSigner('bench SP');
  const spKeyPem = sp.key.export({ type: 'pkcs8', format: 'pem' }).toString();
  mkdirSync(path.join(home, 'sps'));
  writeFileSync(
    path.join(home, 'sps', 'bench.xml'),
    generateServiceProviderMetadata({ issuer: SP_ENTITY, callbackUrl: SP_ACS, publicCerts: sp.certPem, privateKey: spKeyPem, wantAssertionsSigned: true }),
  );
  writeFileSync(
    path.join(home, 'bench.json'),
    JSON.stringify({ trust: { metadataDir: path.join(home, 'sps') }, demo: { enabled: false, seedCitizen: true } }),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ssoUrl = `${base}/saml/sso`;
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      BASE_URL: base,
      SQLITE_PATH: path.join(home, 'pasarela.sqlite'),
      KEYS_DIR: path.join(home, 'certs'),
      PASARELA_CONFIG: path.join(home, 'bench.json'),
      PASARELA_PAIRWISE_SECRET: 'b'.repeat(40),
      PASARELA_CSRF_SECRET: 'c'.repeat(40),
      LOG_LEVEL: logLevel,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 200) throw new Error('broker did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    const makeRequest = async (): Promise<string> => {
      const xml = buildAuthnRequestXml({
        issuer: SP_ENTITY,
        destination: ssoUrl,
        id: newRequestId(),
        acsUrl: SP_ACS,
        loa: LOA.low,
        comparison: 'minimum',
        nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        prefix: 'samlp',
      });
      let q = `SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}&RelayState=bench&SigAlg=${encodeURIComponent(SIG_ALG.rsaSha256)}`;
      q += `&Signature=${encodeURIComponent((await signAsync('sha256', Buffer.from(q), sp.key)).toString('base64'))}`;
      return `/saml/sso?${q}`;
    };

    // One real login (the password KDF runs once), to get the SSO session cookie.
    const cookies = new Cookies();
    const go = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url.startsWith('http') ? url : base + url, {
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers as Record<string, string>), cookie: cookies.header() },
      });
      cookies.take(res);
      return res;
    };
    const start = await go(await makeRequest());
    const chooserUrl = start.headers.get('location')!;
    const chooser = await (await go(chooserUrl)).text();
    const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });
    const picked = await go(chooserUrl, form({ _csrf: hidden(chooser, '_csrf'), method: 'permanente' }));
    const methodUrl = picked.headers.get('location')!;
    const loginPage = await (await go(methodUrl)).text();
    const done = await (await go(methodUrl, form({ _csrf: hidden(loginPage, '_csrf'), username: DEMO_CITIZEN.dni, password: DEMO_CITIZEN.password }))).text();
    hidden(done, 'SAMLResponse');
    const cookieHeader = cookies.header();
    if (!cookieHeader.includes('pasarela_sso=')) throw new Error('no SSO session after login');

    const plan = [
      { label: 'warm-up', connections: 8, amount: 1500 },
      { label: 'c=8', connections: 8, amount: 5000 },
      { label: 'c=32', connections: 32, amount: 6000 },
    ];
    const total = plan.reduce((n, p) => n + p.amount, 0);
    console.log(`pre-signing ${total} fresh AuthnRequests (outside the timed runs)…`);
    const paths: string[] = [];
    while (paths.length < total) paths.push(...(await Promise.all(Array.from({ length: 64 }, makeRequest))));

    // Responses are checked: each must be the auto-POST with a Success Response.
    let bad = 0;
    let checked = 0;
    const results: Array<{ label: string; rps: number; p50: number; p99: number; errors: number }> = [];
    for (const step of plan) {
      const mine = paths.splice(0, step.amount);
      let i = 0;
      const r = await autocannon({
        url: base,
        connections: step.connections,
        amount: step.amount,
        headers: { cookie: cookieHeader },
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => ({ ...req, path: mine[i++ % mine.length]! }),
            onResponse: (status: number, body: string) => {
              if (status !== 200 || !body.includes('name="SAMLResponse"')) bad++;
              else if (++checked % 250 === 0) {
                const xml = Buffer.from(hidden(body, 'SAMLResponse'), 'base64').toString();
                if (!xml.includes('urn:oasis:names:tc:SAML:2.0:status:Success')) bad++;
              }
            },
          },
        ],
      });
      if (step.label !== 'warm-up') {
        const rps = r.requests.total / (r.duration || 1);
        results.push({ label: step.label, rps, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx });
      }
    }

    const sigsPerResponse = 2; // default SP policy: Response and Assertion both signed
    console.log(`\n(b)(c) SSO round trips, one broker process (Node ${process.version}, log level ${logLevel}), ${sigsPerResponse} RSA-2048 signatures per response:`);
    console.log('  concurrency   round trips/s   p50 ms   p99 ms   efficiency');
    for (const r of results) {
      const eff = (r.rps * sigsPerResponse) / raw;
      console.log(`  ${r.label.padEnd(12)}  ${r.rps.toFixed(0).padStart(13)}   ${String(r.p50).padStart(6)}   ${String(r.p99).padStart(6)}   ${eff.toFixed(2)}`);
    }
    console.log(`\n  signing efficiency = round trips/s × ${sigsPerResponse} ÷ ${raw.toFixed(0)} (raw signs/s). Target ≥ 0.5; p99 < 20 ms at c=32.`);
    console.log(`  responses not a Success auto-POST: ${bad} (sampled ${Math.floor(checked / 250)} decoded)`);
    if (bad > 0 || results.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
