/**
 * npm run bench:breakdown — where the CPU of one SSO round trip goes, stage by stage, in one
 * process, one request at a time (process.cpuUsage() over N iterations of each stage; it counts
 * every thread, so signatures made on the libuv pool are in the stage that asks for them):
 *   sign     two raw RSA-2048 signatures (the floor)
 *   intake   receiveAuthnRequest: binding decode, parse, structure, trust, signature, checks
 *   respond  Broker.start with the SSO session reused: store lookups, assertion, two signatures
 *   page     the auto-POST page (HTML, escaping)
 *   http     a whole round trip through the app over loopback (supertest-free: node:http)
 * `http − client − (intake + respond + page)` is the web stack: express, middleware, headers, the
 * server's sockets; `client` is the same requests against a bare node:http server answering as many bytes.
 * With wrk installed, then under load: the full app, the same app with /saml/sso on its express route
 * (no fast path), the bare express route and the same logic on
 * a plain node:http handler, interleaved (see underLoad).
 * In process: one whole SSO after the other with the intake's trace timing its steps, and a raw sign
 * timed between SSOs against the same sign in a tight loop.
 * Then the steady state in process: the intake and the whole SSO with eight in flight, after
 * warm-up rounds, the median of rounds (steadyInProcess).
 * For both bindings. Figures for docs/ARCHITECTURE.md ("Where the CPU of an SSO goes").
 */
import 'reflect-metadata';
import { constants, sign as rawSign, type KeyObject } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import cookieParser from 'cookie-parser';
import express from 'express';
import { createApp } from '../src/app';
import { pageSetup } from '../src/web/context';
import { samlRouter } from '../src/web/routes/saml';
import { loadConfig } from '../src/config';
import { CitizenRepository } from '../src/citizens/repository';
import { dniCheckLetter } from '../src/citizens/nif';
import { intakeOptions, type IntakeDeps } from '../src/broker/intake';
import { receiveAuthnRequest } from '../src/saml/request';
import { setRsaSigning } from '../src/saml/algorithms';
import { buildServices } from '../src/services';
import { MemoryStore } from '../src/store/memory';
import { autoPostPage } from '../src/web/views';
import { translator } from '../src/web/i18n';
import { rsaSigner } from '../test/support/sp-requests';
import { Browser, hidden, median, ROOT, SP_ACS, SP_ENTITY, signedPostBody, signedRequestPath } from './lib';
import { hammerWrk, wrkAvailable } from './wrk';

const N = Number(process.env.BENCH_BREAKDOWN_N ?? 400);

function cpuMs<T>(fn: () => T): { ms: number; result: T } {
  const c0 = process.cpuUsage();
  const result = fn();
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, result };
}
async function cpuMsAsync(fn: () => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Exactly `n` fresh signed AuthnRequests for `binding` (each is sent once: a replay is refused): a Redirect path with its query, or a POST form body. */
async function freshMessages(binding: 'redirect' | 'post', dest: string, sp: ReturnType<typeof rsaSigner>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - out.length) }, () => (binding === 'post' ? signedPostBody(dest, sp, 'low') : signedRequestPath(dest, sp.key, 'low'))))));
  return out;
}

/** What the SSO route hands the intake for one of `freshMessages`. */
function intakeMessage(binding: 'redirect' | 'post', m: string) {
  return binding === 'redirect' ? { binding, rawQuery: m.slice(m.indexOf('?') + 1) } : { binding, form: Object.fromEntries(new URLSearchParams(m)) };
}

async function main(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), 'pasarela-breakdown-'));
  const sp = rsaSigner('breakdown SP');
  mkdirSync(path.join(home, 'sps'));
  writeFileSync(
    path.join(home, 'sps', 'bench.xml'),
    generateServiceProviderMetadata({ issuer: SP_ENTITY, callbackUrl: SP_ACS, publicCerts: sp.certPem, privateKey: sp.key.export({ type: 'pkcs8', format: 'pem' }).toString(), wantAssertionsSigned: true }),
  );
  const config = loadConfig({
    root: ROOT,
    env: {},
    overrides: {
      keys: { dir: path.join(home, 'certs'), generateIfMissing: true },
      secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
      database: { sqlitePath: path.join(home, 'db.sqlite') },
      trust: { metadataDir: path.join(home, 'sps') },
      demo: { enabled: false, seedCitizen: false },
      methods: { enabled: ['pin', 'permanente'] },
      notify: { outboxPath: path.join(home, 'outbox.jsonl') },
      log: { level: 'warn' },
      saml: { transactionLimits: { perAddress: { max: 1e9, windowSeconds: 60 }, perSp: { max: 1e9, windowSeconds: 60 } } },
    },
  });
  const services = await buildServices(config, pino({ level: 'warn' }, pino.destination('/dev/null')), { store: new MemoryStore() });
  const dni = `40000000${dniCheckLetter('40000000')}`;
  await new CitizenRepository(services.ds).create({ dni, password: 'Bench-Login-2026!', givenName: 'Carmen', firstSurname: 'Vidal', dateOfBirth: '1980-01-01', mobile: '+34611000000', registrationLevel: 'advanced' });
  const app = createApp(services);
  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The same app with /saml/sso served by its express route (no fast path, web/sso-fast.ts).
  const slowServer = createServer(createApp(services, { fastPath: false })).listen(0, '127.0.0.1');
  await new Promise((r) => slowServer.once('listening', r));
  const slowBase = `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}`;
  // The same SSO route with only what it needs around it (cookies, page setup): the rest of the app's middleware is the difference.
  const bare = express();
  bare.set('etag', false);
  bare.use(cookieParser());
  bare.use(pageSetup({ secureCookies: false, csrfSecret: services.secrets.csrf }));
  const silent = pino({ level: 'silent' }); // one logger: a pino instance per request would be the bare route's largest cost
  bare.use((req, _res, next) => {
    (req as unknown as { log: unknown }).log = silent;
    next();
  });
  bare.use(
    samlRouter({
      broker: services.broker,
      trust: services.trust,
      store: services.store,
      ssoUrls: config.ssoUrls,
      clockSkewSeconds: config.saml.clockSkewSeconds,
      maxRequestAgeSeconds: config.saml.maxRequestAgeSeconds,
      sessionCookieName: config.session.cookieName,
      secureCookies: false,
    }),
  );
  bare.get('/static/pasarela.css', (_req, res) => void res.type('css').send('body{}'));
  const bareServer = bare.listen(0, '127.0.0.1');
  await new Promise((r) => bareServer.once('listening', r));
  const bareBase = `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}`;
  // The broker checks Destination against its own URL: build requests for config.baseUrl.
  const dest = config.ssoUrls.redirect;

  // An SSO session.
  const browser = new Browser(base);
  const first = await browser.go(await signedRequestPath(dest, sp.key, 'low'));
  const chooserUrl = first.headers.get('location')!;
  const chooser = await (await browser.go(chooserUrl)).text();
  const methodUrl = (await browser.post(chooserUrl, { _csrf: hidden(chooser, '_csrf'), method: 'permanente' })).headers.get('location')!;
  const form = await (await browser.go(methodUrl)).text();
  hidden(await (await browser.post(methodUrl, { _csrf: hidden(form, '_csrf'), username: dni, password: 'Bench-Login-2026!' })).text(), 'SAMLResponse');
  const sessionId = /pasarela_sso=([^;]+)/.exec(browser.cookies.header())![1]!;

  const signKey: KeyObject = services.keys.signing.key;
  const data = Buffer.alloc(700, 7);
  const signMs = cpuMs(() => {
    for (let i = 0; i < N; i++) {
      rawSign('sha256', data, { key: signKey, padding: constants.RSA_PKCS1_PADDING });
      rawSign('sha256', data, signKey);
    }
  }).ms / N;

  // What the SSO route passes to the intake (src/broker/intake.ts), for the stages and the plain handler alike.
  const intakeDeps: IntakeDeps = {
    trust: services.trust,
    store: services.store,
    ssoUrls: config.ssoUrls,
    clockSkewSeconds: config.saml.clockSkewSeconds,
    maxRequestAgeSeconds: config.saml.maxRequestAgeSeconds,
  };
  const rows: string[] = [];
  for (const binding of ['redirect', 'post'] as const) {
    const messages = await freshMessages(binding, dest, sp, 3 * N);
    const asMsg = (m: string) => intakeMessage(binding, m);
    const opts = () => intakeOptions(intakeDeps);
    // intake
    const intakeMsgs = messages.slice(0, N);
    const received: Array<Awaited<ReturnType<typeof receiveAuthnRequest>>> = [];
    const intake = await cpuMsAsync(async () => {
      for (const m of intakeMsgs) received.push(await receiveAuthnRequest(asMsg(m) as never, opts()));
    });
    if (!received.every((r) => r.ok)) throw new Error('intake refused a request');
    // respond
    const posts: Array<{ acs: string; samlResponse: string; relayState?: string }> = [];
    const respond = await cpuMsAsync(async () => {
      for (const r of received) {
        if (!r.ok) continue;
        const d = await services.broker.start(r.request, r.sp, sessionId, '127.0.0.1');
        if (d.kind !== 'respond') throw new Error('no SSO reuse');
        posts.push(d.post);
      }
    });
    // page
    const ctx = { lang: 'es' as const, t: translator('es'), path: '/saml/sso', nonce: 'bm9uY2Vub25jZW5vbmNl' };
    const page = cpuMs(() => {
      for (const p of posts) autoPostPage(ctx, p);
    }).ms;
    // http: whole round trips, one at a time, over loopback (the full app, then the bare route)
    const cookie = browser.cookies.header();
    let pageBytes = 0;
    const roundTrips = (target: string, msgs: string[]) =>
      cpuMsAsync(async () => {
        for (const m of msgs) {
          await new Promise<void>((resolve, reject) => {
            const body = binding === 'post' ? m : undefined;
            const req = httpRequest(
              `${target}${binding === 'post' ? '/saml/sso' : m}`,
              { method: binding === 'post' ? 'POST' : 'GET', headers: { cookie, ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}) } },
              (res) => {
                let len = 0;
                res.on('data', (c: Buffer) => (len += c.length));
                res.on('end', () => (res.statusCode === 200 && len > 1000 ? ((pageBytes = len), resolve()) : reject(new Error(`status ${res.statusCode}`))));
              },
            );
            req.on('error', reject);
            req.end(body);
          });
        }
      });
    const http = await roundTrips(base, messages.slice(N, 2 * N));
    const bareHttp = await roundTrips(bareBase, messages.slice(2 * N, 3 * N));
    // The client side of the loopback round trip runs in this process too: the same requests (method,
    // path, body) against a bare node:http server that drains the body and answers with as many
    // bytes as the real page; that is the client and the kernel's share, subtracted below.
    const page0 = 'x'.repeat(pageBytes);
    const trivial = createServer((q, s) => {
      q.resume();
      q.on('end', () => s.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page0));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => trivial.once('listening', r));
    const client = await roundTrips(`http://127.0.0.1:${(trivial.address() as AddressInfo).port}`, messages.slice(0, N));
    trivial.close();
    const f = (x: number) => (x / N).toFixed(3).padStart(7);
    rows.push(
      `  ${binding.padEnd(9)} sign ${(signMs).toFixed(3)}   intake ${f(intake)}   respond ${f(respond)}   page ${f(page)}   http round trip ${f(http)}   ` +
        `client + bare node:http (${pageBytes} B page) ${f(client)}   web stack ≈ ${f(http - client - intake - respond - page)}   ` +
        `bare route round trip ${f(bareHttp)} (the app's other middleware ≈ ${f(http - bareHttp)})`,
    );
    // In process, one whole SSO after the other (intake, Broker.start, page), the intake's trace timing
    // its steps; after each SSO one raw sign, timed: what a signature costs amid the rest of the work,
    // against the same sign in a tight loop right after.
    const fresh = await freshMessages(binding, dest, sp, N);
    const steps = new Map<string, number>();
    let between = 0;
    for (const m of fresh) {
      let last = process.hrtime.bigint();
      const trace = {
        step: (c: { check: string }) => {
          const now = process.hrtime.bigint();
          steps.set(c.check, (steps.get(c.check) ?? 0) + Number(now - last));
          last = now;
        },
      };
      const r = await receiveAuthnRequest(asMsg(m) as never, intakeOptions(intakeDeps, 'sso', trace));
      if (!r.ok) throw new Error('intake refused a request');
      const d = await services.broker.start(r.request, r.sp, sessionId, '127.0.0.1');
      if (d.kind !== 'respond') throw new Error('no SSO reuse');
      autoPostPage(ctx, d.post);
      between += cpuMs(() => rawSign('sha256', data, signKey)).ms;
    }
    const tight = cpuMs(() => {
      for (let i = 0; i < N; i++) rawSign('sha256', data, signKey);
    }).ms;
    rows.push(
      `  ${binding.padEnd(9)} in process: intake steps (wall µs, one at a time) ${[...steps].map(([k, v]) => `${k} ${(v / N / 1000).toFixed(1)}`).join(', ')}\n` +
        `  ${binding.padEnd(9)} in process: one raw sign between SSOs ${(between / N).toFixed(3)} ms of CPU, in a tight loop right after ${(tight / N).toFixed(3)} ms`,
    );
  }
  console.log(`CPU ms per SSO, ${N} sequential iterations each, one process (Node ${process.version}):`);
  for (const r of rows) console.log(r);
  await steadyInProcess({ services, intakeDeps, dest, sp, sessionId });
  if (wrkAvailable()) await underLoad({ services, intakeDeps, dest, sp, cookie: browser.cookies.header(), sessionCookieName: config.session.cookieName, targets: { app: base, slow: slowBase, bare: bareBase } });
  server.close();
  slowServer.close();
  bareServer.close();
  await services.close();
}

/** What the sections after the one-pass figures share: the services, the intake's dependencies, the SSO URL, the SP. */
interface SsoParts {
  services: Awaited<ReturnType<typeof buildServices>>;
  intakeDeps: IntakeDeps;
  dest: string;
  sp: ReturnType<typeof rsaSigner>;
}

/**
 * The broker's own work per SSO in process, at its steady state: intake, Broker.start and the page
 * for eight SSOs in flight (as wrk's c=8 keeps them), the signatures inline on this thread, with
 * no HTTP, middleware or load generator. Each round is N fresh requests; its CPU per SSO less two
 * raw signs timed in a tight loop just before it is the work beside the signatures. The first
 * rounds (JIT compilation still running) are left out, the median of the rest printed: on the
 * 2-core host of 3 Dec 2026 the first round read 1.5-2x the steady state, which is why the
 * one-pass figures above overstate it, and rounds of the same code stayed within about 15 %, against
 * about ±0.4 ms per SSO between wrk steps. The intake alone the same way, for its share. The
 * signatures are inline, so the figure also holds what a sign costs more amid the other work than
 * in the tight loop (the "one raw sign between SSOs" line above: 8-18 % more on that host); on the
 * pool, as one broker process signs, a sign costs what it costs alone, plus the hand-off.
 */
async function steadyInProcess(o: SsoParts & { sessionId: string }): Promise<void> {
  const warm = Number(process.env.BENCH_BREAKDOWN_STEADY_WARMUP ?? 3);
  const rounds = Number(process.env.BENCH_BREAKDOWN_STEADY_ROUNDS ?? 5);
  if (!(rounds >= 1)) return;
  const inFlight = 8;
  const signKey: KeyObject = o.services.keys.signing.key;
  const data = Buffer.alloc(700, 7);
  const ctx = { lang: 'es' as const, t: translator('es'), path: '/saml/sso', nonce: 'bm9uY2Vub25jZW5vbmNl' };
  setRsaSigning('inline');
  console.log(`\nIn process at the steady state (${inFlight} SSOs in flight, signing inline, no HTTP; ${warm} warm-up rounds, then the median of ${rounds} rounds of ${N}), µs of CPU per SSO: the intake's, and the whole SSO's beside its two signatures (each round less two raw signs timed just before it)`);
  try {
    for (const binding of ['redirect', 'post'] as const) {
      const line: string[] = [];
      for (const upTo of ['intake', 'whole SSO'] as const) {
        const beside: number[] = [];
        let sign = 0;
        for (let round = 0; round < warm + rounds; round++) {
          const inputs = (await freshMessages(binding, o.dest, o.sp, N)).map((m) => intakeMessage(binding, m));
          sign = cpuMs(() => {
            for (let i = 0; i < 200; i++) rawSign('sha256', data, signKey);
          }).ms / 200;
          let next = 0;
          const chain = async (): Promise<void> => {
            while (next < inputs.length) {
              const r = await receiveAuthnRequest(inputs[next++] as never, intakeOptions(o.intakeDeps));
              if (!r.ok) throw new Error('intake refused a request');
              if (upTo === 'intake') continue;
              const d = await o.services.broker.start(r.request, r.sp, o.sessionId, '127.0.0.1');
              if (d.kind !== 'respond') throw new Error('no SSO reuse');
              autoPostPage(ctx, d.post);
            }
          };
          const ms = await cpuMsAsync(() => Promise.all(Array.from({ length: inFlight }, chain)));
          if (round >= warm) beside.push(((ms - (upTo === 'intake' ? 0 : 2 * sign) * N) / N) * 1000);
        }
        line.push(`${upTo} ${median(beside).toFixed(0)} (${beside.map((x) => x.toFixed(0)).join(' ')})`);
        if (upTo === 'whole SSO') line.push(`raw sign ${(sign * 1000).toFixed(0)} µs`);
      }
      console.log(`  ${binding.padEnd(9)} ${line.join('   ')}`);
    }
  } finally {
    setRsaSigning('pool');
  }
}

/**
 * The web stack's share under load, HTTP-Redirect at c=8 with wrk, in rounds (A, B, C, A, B, C…:
 * the host drifts): the full app; the bare express route (cookies and page setup only); and the
 * same intake, broker and page called from a plain node:http handler with no express and no
 * middleware (no logs, metrics, security headers or cookies: not a server to run, only the bound
 * of what a fast path for /saml/sso could save). CPU is this process's (the server's; wrk is
 * another process), the raw sign sampled before and after each run.
 */
async function underLoad(o: SsoParts & {
  cookie: string;
  sessionCookieName: string;
  targets: { app: string; slow: string; bare: string };
}): Promise<void> {
  const { services } = o;
  const sessionPattern = new RegExp(`(?:^|;\\s*)${o.sessionCookieName}=([^;]+)`);
  const direct = createServer((req, res) => {
    if (req.url!.startsWith('/static/')) {
      res.writeHead(200, { 'content-type': 'text/css' }).end('body{}');
      return;
    }
    void (async () => {
      const q = req.url!.indexOf('?');
      const received = await receiveAuthnRequest({ binding: 'redirect', rawQuery: q >= 0 ? req.url!.slice(q + 1) : '' }, intakeOptions(o.intakeDeps));
      const sessionId = sessionPattern.exec(req.headers.cookie ?? '')?.[1];
      const d = received.ok ? await services.broker.start(received.request, received.sp, sessionId, '127.0.0.1') : undefined;
      if (d?.kind !== 'respond') {
        res.writeHead(500).end();
        return;
      }
      const html = autoPostPage({ lang: 'es', t: translator('es'), path: '/saml/sso', nonce: 'bm9uY2Vub25jZW5vbmNl' }, d.post);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(html) }).end(html);
    })();
  }).listen(0, '127.0.0.1');
  await new Promise((r) => direct.once('listening', r));
  const targets = { 'full app': o.targets.app, 'app, express route': o.targets.slow, 'bare express route': o.targets.bare, 'direct node:http': `http://127.0.0.1:${(direct.address() as AddressInfo).port}` };
  const signKey: KeyObject = services.keys.signing.key;
  const data = Buffer.alloc(600, 1);
  const signSample = () => cpuMs(() => {
    for (let i = 0; i < 100; i++) rawSign('sha256', data, signKey);
  }).ms / 100;
  const rounds = Number(process.env.BENCH_BREAKDOWN_ROUNDS ?? 3);
  if (!(rounds >= 1)) return void direct.close();
  const perRun = Number(process.env.BENCH_BREAKDOWN_LOAD_N ?? 2000);
  const results: Record<string, Array<{ cpu: number; eff: number }>> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [label, base] of Object.entries(targets)) {
      const messages = await freshMessages('redirect', o.dest, o.sp, perRun);
      const s0 = signSample();
      const c0 = process.cpuUsage();
      const r = await hammerWrk(base, 'redirect', o.cookie, messages, 8);
      const c = process.cpuUsage(c0);
      const sign = (s0 + signSample()) / 2;
      if (r.bad > 0) throw new Error(`${label}: ${r.bad} answers were not a Success auto-POST`);
      const cpu = (c.user + c.system) / 1000 / r.done;
      (results[label] ??= []).push({ cpu, eff: (2 * sign) / cpu });
    }
  }
  direct.close();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\nUnder load (HTTP-Redirect, wrk c=8, ${rounds} rounds of ${perRun} interleaved; CPU ms per SSO of the server process, efficiency against the raw sign sampled around each run):`);
  for (const [label, xs] of Object.entries(results)) {
    console.log(`  ${label.padEnd(20)} CPU ${mean(xs.map((x) => x.cpu)).toFixed(3)} ms (${xs.map((x) => x.cpu.toFixed(2)).join(' ')})   efficiency ${mean(xs.map((x) => x.eff)).toFixed(2)} (${xs.map((x) => x.eff.toFixed(2)).join(' ')})`);
  }
  const full = mean(results['full app']!.map((x) => x.cpu));
  const bareCpu = mean(results['direct node:http']!.map((x) => x.cpu));
  const slow = mean(results['app, express route']!.map((x) => x.cpu));
  console.log(`  the fast path saves ${(slow - full).toFixed(3)} ms per SSO (app, express route − full app); the full app is ${(full - bareCpu).toFixed(3)} ms above the direct node:http handler (logs, metrics, headers, cookies)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
