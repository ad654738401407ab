import pino from 'pino';
import { loadConfig } from '../../src/config';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { DbTrustRegistry, trustVersion } from '../../src/trust/registry';
import { TrustSync } from '../../src/trust/sync';
import { storagePairs, type StoragePair } from '../support/pairs';
import { spXml } from './support';
import path from 'node:path';

/** The trust registry's cache: validUntil on the hot path, incremental reloads, the version other nodes poll. */
describe.each(storagePairs().map((p) => [p.name, p] as const))('trust registry cache (%s)', (_name, pair: StoragePair) => {
  const config = loadConfig({ root: path.resolve(__dirname, '../..'), env: {} });
  const log = pino({ level: 'silent' });
  const cert = makeSelfSignedRsa('registry test SP');
  afterAll(() => pair.cleanup());

  test('an SP whose validUntil passes stops being trusted without a reload; a refreshed copy brings it back', async () => {
    const ds = await pair.makeDataSource();
    let clock = Date.now();
    const registry = new DbTrustRegistry(ds, config.trust.defaultPolicy, log, undefined, () => new Date(clock));
    const id = 'https://expiring.test/md';
    await registry.upsert(spXml({ entityId: id, certPem: cert.certPem, validUntil: new Date(clock + 3600_000) }), {}, 'test');
    expect(registry.get(id)?.entityId).toBe(id);
    clock += 2 * 3600_000;
    expect(registry.get(id)).toBeUndefined();
    await registry.upsert(spXml({ entityId: id, certPem: cert.certPem, validUntil: new Date(clock + 3600_000) }), {}, 'test');
    expect(registry.get(id)?.entityId).toBe(id);
  });

  test('a second registry on the same database sees a change after one poll, re-parsing only what changed', async () => {
    const ds = await pair.makeDataSource();
    const a = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
    const other = await pair.makeDataSource();
    const b = new DbTrustRegistry(other, config.trust.defaultPolicy, log);
    await b.reload();
    const sync = new TrustSync(other, b, 60_000, log);
    await sync.start();
    try {
      const before = await trustVersion(ds);
      await a.upsert(spXml({ entityId: 'https://polled.test/md', certPem: cert.certPem }), {}, 'test');
      expect(await trustVersion(ds)).toBe(before + 1);
      const kept = b.list().filter((sp) => sp.entityId !== 'https://polled.test/md');
      expect(b.get('https://polled.test/md')).toBeUndefined();
      await sync.tick();
      expect(b.get('https://polled.test/md')?.acs[0]!.location).toBe('https://polled.test/acs');
      // untouched SPs (the one of the test above) are the very same objects: not parsed again
      expect(kept.length).toBeGreaterThan(0);
      for (const sp of kept) expect(b.get(sp.entityId)).toBe(sp);
      await a.remove('https://polled.test/md');
      await sync.tick();
      expect(b.get('https://polled.test/md')).toBeUndefined();
    } finally {
      await sync.stop();
    }
  });
});
