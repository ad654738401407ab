/**
 * npm run bench:trust — the trust list at 10, 1,000 and 10,000 SPs, in one run on this machine:
 *  (a) lookup: CPU per `registry.get(entityId)` (the SSO hot path's only trust-list call) over
 *      random entityIDs, and the ratio of 10,000 SPs to 10 (flat means ≈ 1);
 *  (b) memory: heap held per SP once the list is loaded (parsed keys, ACS, policy);
 *  (c) a change to one SP when 10,000 are loaded: what every node's poll-triggered reload costs;
 *  (d) a signed 10,000-entity aggregate (eduGAIN-style): first import (verify + validate + write),
 *      a refresh with nothing changed, and a refresh with 1% changed; per entity.
 * SQLite (embedded pair) in a temp dir. Not a test: it prints. BENCH_TRUST_SIZES=10,1000 for a quicker look.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../src/config';
import { createDataSource } from '../src/db/data-source';
import { ServiceProviderEntity, type ServiceProviderRow } from '../src/db/entities';
import { makeSelfSignedRsa } from '../src/pki/self-signed';
import { TrustAdmin } from '../src/trust/admin';
import { DbTrustRegistry } from '../src/trust/registry';
import { aggregateXml, signAggregate, spXml } from '../test/admin/support';

const SIZES = (process.env.BENCH_TRUST_SIZES ?? '10,1000,10000').split(',').map(Number);
const LOOKUPS = 2_000_000;
const log = pino({ level: 'silent' });
const config = loadConfig({ root: path.resolve(__dirname, '..'), env: {} });
const cert = makeSelfSignedRsa('bench trust SP');
const entity = (i: number) => `https://sp${i}.bench.test/metadata`;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function cpuMs<T>(fn: () => T): { ms: number; value: T } {
  const c0 = process.cpuUsage();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, value };
}

async function cpuMsAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; wallMs: number; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, wallMs: performance.now() - t0, value };
}

async function fill(ds: DataSource, n: number): Promise<void> {
  const now = new Date();
  const rows: ServiceProviderRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push({ entityId: entity(i), displayName: null, metadataXml: spXml({ entityId: entity(i), certPem: cert.certPem }), policy: '{}', source: 'bench', enabled: true, createdAt: now, updatedAt: now });
  }
  for (let i = 0; i < rows.length; i += 500) await ds.getRepository(ServiceProviderEntity).insert(rows.slice(i, i + 500));
}

async function lookups(): Promise<Map<number, number>> {
  const perOp = new Map<number, number>();
  console.log('(a, b) lookup CPU and memory by trust-list size');
  for (const n of SIZES) {
    const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-trust-'));
    const ds = await createDataSource({ sqlitePath: path.join(dir, 't.sqlite') });
    try {
      await fill(ds, n);
      gc();
      const heap0 = process.memoryUsage().heapUsed;
      const registry = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
      const load = await cpuMsAsync(() => registry.reload());
      gc();
      const heap1 = process.memoryUsage().heapUsed;
      const ids = Array.from({ length: 4096 }, () => entity(Math.floor(Math.random() * n)));
      // warm-up, then the timed loop; `hits` keeps the work from being optimised away
      let hits = 0;
      for (let i = 0; i < 200_000; i++) if (registry.get(ids[i & 4095]!)) hits++;
      const timed = cpuMs(() => {
        for (let i = 0; i < LOOKUPS; i++) if (registry.get(ids[i & 4095]!)) hits++;
      });
      const ns = (timed.ms * 1e6) / LOOKUPS;
      perOp.set(n, ns);
      console.log(
        `  ${String(n).padStart(6)} SPs: ${ns.toFixed(0)} ns CPU per lookup; load ${(load.ms / n).toFixed(2)} ms CPU per SP (${(load.ms / 1000).toFixed(2)} s); heap ${((heap1 - heap0) / n / 1024).toFixed(1)} KiB per SP${hits === 0 ? ' (no hits!)' : ''}`,
      );
      if (n === Math.max(...SIZES)) {
        // (c) one SP changes: the incremental reload every node runs on the next poll
        const admin = new TrustAdmin({ ds, registry, defaults: config.trust.defaultPolicy, env: 'test', log, fetch: config.admin.fetch, aggregateMaxBytes: config.admin.aggregateMaxBytes });
        const one = await cpuMsAsync(() => admin.updatePolicy(entity(1), { minLoa: 'substantial' }, 'bench'));
        const other = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
        await other.reload();
        await admin.updatePolicy(entity(2), { minLoa: 'substantial' }, 'bench');
        const poll = await cpuMsAsync(() => other.reload());
        console.log(`(c) one change among ${n}: ${one.wallMs.toFixed(0)} ms for the change through TrustAdmin; ${poll.ms.toFixed(0)} ms CPU (${poll.wallMs.toFixed(0)} ms) for another node's reload (${((poll.ms / load.ms) * 100).toFixed(2)}% of a full load)`);
      }
    } finally {
      await ds.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const small = perOp.get(Math.min(...SIZES))!;
  const big = perOp.get(Math.max(...SIZES))!;
  console.log(`  lookup ratio ${Math.max(...SIZES)} SPs / ${Math.min(...SIZES)} SPs: ${(big / small).toFixed(2)}× (flat ≈ 1)`);
  return perOp;
}

async function aggregate(n: number): Promise<void> {
  console.log(`(d) signed aggregate of ${n} entities`);
  const fed = makeSelfSignedRsa('bench federation');
  const until = new Date(Date.now() + 7 * 86400_000);
  const build = (changed: number) =>
    signAggregate(aggregateXml(Array.from({ length: n }, (_, i) => spXml({ entityId: entity(i), certPem: cert.certPem, acs: i < changed ? `https://sp${i}.bench.test/acs-v2` : undefined })), until), fed.keyPem);
  let body = build(0);
  console.log(`  aggregate: ${(Buffer.byteLength(body) / 1024 / 1024).toFixed(1)} MiB`);
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/samlmetadata+xml');
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fed.xml`;
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-agg-'));
  const ds = await createDataSource({ sqlitePath: path.join(dir, 'a.sqlite') });
  try {
    const registry = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
    const admin = new TrustAdmin({ ds, registry, defaults: config.trust.defaultPolicy, env: 'test', log, fetch: config.admin.fetch, aggregateMaxBytes: config.admin.aggregateMaxBytes });
    const first = await cpuMsAsync(() => admin.addAggregate(url, fed.certPem, { actor: 'bench' }));
    const report = (label: string, r: { ms: number; wallMs: number }) =>
      console.log(`  ${label}: ${(r.wallMs / 1000).toFixed(1)} s wall, ${(r.ms / n).toFixed(2)} ms CPU per entity`);
    report(`first import (${first.value.added} added)`, first);
    const same = await cpuMsAsync(() => admin.refreshAggregate(first.value.sourceId, 'bench'));
    report(`refresh, nothing changed (${same.value.updated} updated)`, same);
    body = build(Math.floor(n / 100));
    const some = await cpuMsAsync(() => admin.refreshAggregate(first.value.sourceId, 'bench'));
    report(`refresh, 1% changed (${some.value.updated} updated)`, some);
    console.log(`  ratio refresh-unchanged / first import: ${(same.ms / first.ms).toFixed(2)}`);
  } finally {
    server.close();
    await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log('Pasarela trust-list benchmark — one run, this machine; ratios matter.\n');
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run with --expose-gc for steadier memory figures)');
  await lookups();
  await aggregate(Math.max(...SIZES));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
