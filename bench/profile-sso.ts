/**
 * npm run bench:profile [-- redirect|post] — CPU profile of the SSO hot path: one broker process
 * started with --cpu-prof, an SSO session, then BENCH_PROFILE_REQUESTS (default 3000) fresh
 * signed AuthnRequests at concurrency 8 (BENCH_PROFILE_CONNECTIONS). Prints the functions with the most self time, grouped
 * by where they live (our src/, a dependency, node internals), and where the .cpuprofile is
 * (open it in Chrome DevTools). A tool for finding cost, not a benchmark: profiling slows it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { DEMO_CITIZEN } from '../src/services';
import { rsaSigner } from '../test/support/sp-requests';
import { Browser, freePort, hidden, ROOT, SP_ACS, SP_ENTITY, signedPostBody, signedRequestPath, startBrokerProcess } from './lib';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

async function main(): Promise<void> {
  const binding = process.argv[2] === 'post' ? 'post' : 'redirect';
  const total = Number(process.env.BENCH_PROFILE_REQUESTS ?? 3000);
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  const home = mkdtempSync(path.join(tmpdir(), 'pasarela-profile-'));
  const profDir = path.join(home, 'prof');
  const sp = rsaSigner('profile SP');
  mkdirSync(path.join(home, 'sps'));
  writeFileSync(
    path.join(home, 'sps', 'bench.xml'),
    generateServiceProviderMetadata({ issuer: SP_ENTITY, callbackUrl: SP_ACS, publicCerts: sp.certPem, privateKey: sp.key.export({ type: 'pkcs8', format: 'pem' }).toString(), wantAssertionsSigned: true }),
  );
  writeFileSync(
    path.join(home, 'bench.json'),
    JSON.stringify({
      trust: { metadataDir: path.join(home, 'sps') },
      demo: { enabled: false, seedCitizen: true },
      methods: { enabled: ['pin', 'permanente'] },
      notify: { outboxPath: path.join(home, 'outbox.jsonl') },
      saml: { transactionLimits: { perAddress: { max: 1_000_000, windowSeconds: 60 }, perSp: { max: 1_000_000, windowSeconds: 60 } } },
    }),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const spawnedAt = performance.now();
  const child = await startBrokerProcess({
    port,
    operatorPort: await freePort(),
    nodeArgs: process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    env: {
      BASE_URL: base,
      SQLITE_PATH: path.join(home, 'db.sqlite'),
      KEYS_DIR: path.join(home, 'certs'),
      PASARELA_CONFIG: path.join(home, 'bench.json'),
      PASARELA_PAIRWISE_SECRET: 'b'.repeat(40),
      PASARELA_CSRF_SECRET: 'c'.repeat(40),
      LOG_LEVEL: 'warn',
      // Signing on the event loop puts it in the profile (the pool threads are not sampled).
      RSA_SIGNING: process.env.RSA_SIGNING ?? 'inline',
    },
  });
  // For a native profiler attached to the broker (ARCHITECTURE "Read by perf"): perf record -p <pid>.
  console.log(`broker pid ${child.pid}`);
  const ssoUrl = `${base}/saml/sso`;
  const browser = new Browser(base);
  const start = await browser.go(await signedRequestPath(ssoUrl, sp.key, 'low'));
  const chooserUrl = start.headers.get('location')!;
  const chooser = await (await browser.go(chooserUrl)).text();
  const methodUrl = (await browser.post(chooserUrl, { _csrf: hidden(chooser, '_csrf'), method: 'permanente' })).headers.get('location')!;
  const form = await (await browser.go(methodUrl)).text();
  hidden(await (await browser.post(methodUrl, { _csrf: hidden(form, '_csrf'), username: DEMO_CITIZEN.dni, password: DEMO_CITIZEN.password })).text(), 'SAMLResponse');

  const bodies: string[] = [];
  while (bodies.length < total) {
    bodies.push(...(await Promise.all(Array.from({ length: 64 }, () => (binding === 'post' ? signedPostBody(ssoUrl, sp, 'low') : signedRequestPath(ssoUrl, sp.key, 'low'))))));
  }
  let i = 0;
  let bad = 0;
  const loadFrom = performance.now() - spawnedAt;
  await autocannon({
    url: base,
    connections: Number(process.env.BENCH_PROFILE_CONNECTIONS ?? 8),
    amount: total,
    headers: { cookie: browser.cookies.header(), ...(binding === 'post' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    requests: [
      {
        method: binding === 'post' ? 'POST' : 'GET',
        setupRequest: (req) => (binding === 'post' ? { ...req, path: '/saml/sso', body: bodies[i++]! } : { ...req, path: bodies[i++]! }),
        onResponse: (status: number, body: string) => {
          if (status !== 200 || !body.includes('name="SAMLResponse"')) bad++;
        },
      },
    ],
  });
  const loadTo = performance.now() - spawnedAt;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
  const file = existsSync(profDir) ? readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')) : undefined;
  if (file === undefined) {
    // PROFILE_NODE_ARGS without --cpu-prof: the load was for another profiler.
    console.log(`\n${binding}: ${total} SSO round trips (${bad} bad); no .cpuprofile (PROFILE_NODE_ARGS has no --cpu-prof)`);
    return;
  }
  const profile = JSON.parse(readFileSync(path.join(profDir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  // Only the samples of the load window (the profile starts with the process: start-up, key
  // generation and the login are left out). Profile time ≈ time since spawn.
  const hits = new Map<number, number>();
  let t = 0;
  profile.samples.forEach((id, k) => {
    t += profile.timeDeltas[k]! / 1000;
    if (t >= loadFrom && t <= loadTo) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  for (const n of profile.nodes) n.hitCount = hits.get(n.id) ?? 0;
  const sampled = profile.nodes.reduce((n, x) => n + x.hitCount, 0);
  const byFn = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const n of profile.nodes) {
    if (n.hitCount === 0) continue;
    const url = n.callFrame.url.replace(`file://${ROOT}/`, '');
    const area = url.startsWith('dist/') ? `src/${url.slice(5).split('/')[0]}` : url.includes('node_modules/') ? url.split('node_modules/')[1]!.split('/')[0]! : n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'node';
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + n.hitCount);
    byArea.set(area, (byArea.get(area) ?? 0) + n.hitCount);
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  console.log(`\n${binding}: ${total} SSO round trips (${bad} bad), ${sampled} samples; profile: ${path.join(profDir, file)}\n`);
  console.log('self time by area:');
  for (const [a, n] of top(byArea, 20)) console.log(`  ${((100 * n) / sampled).toFixed(1).padStart(5)} %  ${a}`);
  console.log('\ntop functions by self time:');
  for (const [f, n] of top(byFn, 40)) console.log(`  ${((100 * n) / sampled).toFixed(1).padStart(5)} %  ${f}`);
  printAccounting(profile.nodes);
}

/**
 * Each sample charged to the innermost frame on its stack that belongs to one of these steps (so
 * saxes (or xmldom's sax.js) counts as the parse, a writev under res.end as a socket write), in units of the
 * two signatures' own samples: the accounting ARCHITECTURE.md "What remains" reads. With
 * RSA_SIGNING=pool the signatures are not sampled and the units are meaningless.
 */
const STEPS: Array<[string, RegExp]> = [
  ['the two RSA signatures', /^signOneShot /],
  ["the SP's signature verify", /^verifyOneShot /],
  ['c14n, digests and HMACs (request verifier, response digests, page MAC, pairwise id)', /signature-post|c14n|digestCanonical|crypto\/hash/i],
  ['intake: XML parse', /^parse(Request)?Xml |saxes|request-tree/],
  ['intake: binding decode', /^decode(Redirect|Post)|saml\/bindings\.js/],
  ['POST body parser', /body-parser|raw-body|urlencoded/],
  ["intake: the other checks", /^receiveAuthnRequest |saml\/request\//],
  ['building the response beyond its signatures', /^buildResponse |saml\/response\.js|saml\/sign\.js/],
  ["Broker.start's own code", /broker\/(broker|session|attributes|policy)\.js/],
  ['store', /dist\/store\//],
  ['the page', /^postPage |web\/views\.js|web\/html\.js|web\/render\.js/],
  ['pino', /pino/],
  ['prom-client', /prom-client/],
  ['helmet, cookies, page setup', /helmet|cookie|web\/context\.js/],
  ['the fast path and AsyncLocalStorage', /sso-fast|routes\/saml|async_hooks|dist\/app\.js/],
  ['socket writes', /writev|_writeGeneric|_http_outgoing|streams\/writable/],
  ['HTTP parsing and reading', /_http_common|_http_server|HTTPParser|onStreamRead/],
  ['garbage collector', /^\(garbage collector\)/],
];

function printAccounting(nodes: ProfileNode[]): void {
  const parent = new Map<number, number>();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const per = new Map<string, number>();
  let total = 0;
  for (const n of nodes) {
    if (n.hitCount === 0 || n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)') continue;
    let step = 'other';
    outer: for (let x: number | undefined = n.id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x)!.callFrame;
      const frame = `${f.functionName} ${f.url}`;
      for (const [name, re] of STEPS) {
        if (re.test(frame)) {
          step = name;
          break outer;
        }
      }
    }
    per.set(step, (per.get(step) ?? 0) + n.hitCount);
    total += n.hitCount;
  }
  const signs = per.get(STEPS[0]![0]) ?? 0;
  console.log('\nby step (innermost frame of a step on the stack; idle and (program) left out), in units of the two signatures:');
  for (const name of [...STEPS.map(([x]) => x), 'other']) {
    const n = per.get(name);
    if (!n) continue;
    console.log(`  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${signs ? (n / signs).toFixed(2).padStart(5) : '    -'} ×sign  ${name}`);
  }
  if (signs) console.log(`  work beside the signatures: ${((total - signs) / signs).toFixed(2)} ×sign, so an efficiency of ${(signs / total).toFixed(2)} by samples`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
