/**
 * npm run bench:enumeration — do the Cl@ve PIN step and the account pages tell, by their time
 * or words, whether a DNI/NIE is registered? (issue 7: identical answers, medians within 20 %.)
 *
 * One broker in this process (memory store + SQLite, as `npm start`) on a real port. For each
 * page, 30 tries per DNI kind, interleaved in a new random order each round so that drift of this shared machine hits every kind
 * alike: an unknown DNI, a registration not yet activated (with a live activation code), a locked one, a deregistered one and
 * an active one, each with a wrong secret. Prints the median answer time, its ratio to the
 * unknown DNI's, and in how many rounds the kinds did not all get the same answer (status and
 * announced text; "N tries left" then "locked" is the expected sequence, alike for every kind).
 * Timing is measured here, never asserted in a test (the tests assert the words and statuses).
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { dniCheckLetter } from '../src/citizens/nif';
import { buildServices } from '../src/services';
import { MemoryStore } from '../src/store/memory';
import { rsaSigner } from '../test/support/sp-requests';
import { announced, Browser, hidden, median, ROOT, SP_ACS, SP_ENTITY, signedRequestPath } from './lib';

const TRIES = Number(process.env.BENCH_ENUM_TRIES ?? 30);
const PASSWORD = 'Bench-Enumeration-2026!';

type Kind = 'unknown' | 'pending' | 'locked' | 'deregistered' | 'registered';
const KINDS: Kind[] = ['unknown', 'pending', 'locked', 'deregistered', 'registered'];

async function main(): Promise<void> {
  const home = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-enum-'));
  const sp = rsaSigner('bench SP');
  mkdirSync(path.join(home, 'sps'));
  writeFileSync(
    path.join(home, 'sps', 'bench.xml'),
    generateServiceProviderMetadata({ issuer: SP_ENTITY, callbackUrl: SP_ACS, publicCerts: sp.certPem, privateKey: sp.key.export({ type: 'pkcs8', format: 'pem' }).toString(), wantAssertionsSigned: true }),
  );
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({
    root: ROOT,
    env: {},
    overrides: {
      baseUrl: base,
      keys: { dir: path.join(home, 'certs'), generateIfMissing: true },
      secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
      database: { sqlitePath: path.join(home, 'pasarela.sqlite') },
      trust: { metadataDir: path.join(home, 'sps') },
      demo: { enabled: false, seedCitizen: false },
      methods: { enabled: ['pin', 'permanente'] },
      notify: { outboxPath: path.join(home, 'outbox.jsonl') },
      saml: { transactionLimits: { perAddress: { max: 1_000_000, windowSeconds: 60 }, perSp: { max: 1_000_000, windowSeconds: 60 } } },
      otp: { abuse: { maxFailuresPerCitizen: 1000, maxFailuresPerAddress: 100_000 } },
      log: { level: 'silent' },
    },
  });
  const s = await buildServices(config, pino({ level: 'silent' }), { store: new MemoryStore() });
  server.on('request', createApp(s));

  const dni = (n: number) => `${n}${dniCheckLetter(String(n))}`;
  const probes: Record<Kind, string> = { unknown: dni(46_000_000), pending: dni(46_000_001), locked: dni(46_000_002), deregistered: dni(46_000_003), registered: dni(46_000_004) };
  const person = { givenName: 'Elena', firstSurname: 'Marín', secondSurname: null, dateOfBirth: '1980-01-01', registrationLevel: 'advanced' as const, dniValidityDate: '2031-01-01' };
  // Registered at an office, so with a live activation code, as a citizen who has not activated yet.
  await s.lifecycle.register({ dni: probes.pending, givenName: person.givenName, firstSurname: person.firstSurname, dateOfBirth: person.dateOfBirth, dniValidityDate: person.dniValidityDate, mobile: '+34612000001', channel: 'office' });
  await s.citizens.create({ ...person, dni: probes.locked, mobile: '+34612000002', password: PASSWORD });
  for (let i = 0; i < 5; i++) await s.citizens.verifyPassword(probes.locked, 'Not-The-Password-1');
  const gone = await s.citizens.create({ ...person, dni: probes.deregistered, mobile: '+34612000003', password: PASSWORD });
  await s.lifecycle.deregister(gone.id);
  await s.citizens.create({ ...person, dni: probes.registered, mobile: '+34612000004', password: PASSWORD });

  const ssoUrl = config.ssoUrls.redirect;
  /** A browser at the step `method` of a fresh login. */
  async function atMethod(method: string): Promise<{ b: Browser; url: string; form: string }> {
    const b = new Browser(base);
    const chooser = (await b.go(await signedRequestPath(ssoUrl, sp.key, 'low'))).headers.get('location')!;
    const page = await (await b.go(chooser)).text();
    const picked = await b.post(chooser, { _csrf: hidden(page, '_csrf'), method });
    const url = picked.headers.get('location')!;
    return { b, url, form: await (await b.go(url)).text() };
  }
  async function atAccount(service: string): Promise<{ b: Browser; url: string; form: string }> {
    const b = new Browser(base);
    const url = `/account/${service}`;
    return { b, url, form: await (await b.go(url)).text() };
  }

  const pages: Array<{ label: string; open: () => Promise<{ b: Browser; url: string; form: string }>; fields: (d: string, round: number) => Record<string, string>; beforeRound?: (round: number) => Promise<void> }> = [
    { label: 'Cl@ve PIN, DNI + wrong validity date', open: () => atMethod('pin'), fields: (d) => ({ dni: d, validity_date: '01/01/2020' }) },
    { label: 'Cl@ve Permanente, wrong password', open: () => atMethod('permanente'), fields: (d, r) => ({ username: d, password: `Wrong-${r}-Password` }) },
    { label: '/account/recover, DNI + wrong validity date', open: () => atAccount('recover'), fields: (d) => ({ dni: d, validity_date: '01/01/2020' }) },
    { label: '/account/password, wrong current password', open: () => atAccount('password'), fields: (d, r) => ({ dni: d, current_password: `Wrong-${r}-Password` }) },
    { label: '/account/activate, wrong activation code', open: () => atAccount('activate'), fields: (d) => ({ dni: d, activation_code: 'AAAA-BBBB-CCCC-DDDD' }),
      // A fresh code every 4 rounds (untimed): every wrong try then counts against a live code, which locks at 5.
      beforeRound: async (round) => {
        if (round % 4 === 0) await s.lifecycle.reissueCode(probes.pending);
      },
    },
  ];

  console.log(`Enumeration timing — ${TRIES} tries per DNI kind, interleaved, one process (memory + SQLite); median answer ms and ratio to the unknown DNI (target: within 20 %, one answer):`);
  let worst = 1;
  for (const p of pages) {
    const times = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
    let disagreements = 0;
    const example = new Set<string>();
    for (let round = 0; round < TRIES; round++) {
      await p.beforeRound?.(round);
      const answers = new Set<string>();
      // A new order each round: no kind always goes first (warm caches) or last.
      const order = [...KINDS].sort(() => Math.random() - 0.5);
      for (const kind of order) {
        const { b, url, form } = await p.open();
        const t = performance.now();
        const res = await b.post(url, { _csrf: hidden(form, '_csrf'), ...p.fields(probes[kind], round) });
        const body = await res.text();
        times[kind].push(performance.now() - t);
        answers.add(`${res.status} ${announced(body)}`);
      }
      if (answers.size > 1) {
        disagreements++;
        if (example.size === 0) for (const a of answers) example.add(a);
      }
    }
    const m0 = median(times.unknown);
    console.log(`\n  ${p.label}: ${disagreements} of ${TRIES} rounds where the kinds got different answers${disagreements ? ` (e.g. ${JSON.stringify([...example])})` : ''}`);
    for (const kind of KINDS) {
      const ratio = median(times[kind]) / m0;
      worst = Math.max(worst, ratio, 1 / ratio);
      console.log(`    ${kind.padEnd(13)} ${median(times[kind]).toFixed(1).padStart(7)} ms   ${ratio.toFixed(2)}`);
    }
  }
  console.log(`\n  largest median ratio between kinds: ${worst.toFixed(2)} (target ≤ 1.20)`);
  server.closeAllConnections();
  server.close();
  await s.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
