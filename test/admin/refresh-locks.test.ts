import { trustAdminFor } from '../../src/admin/api';
import { ServiceProviderEntity } from '../../src/db/entities';
import { MetadataSourceEntity } from '../../src/db/operator-entities';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { startBroker, type BrokerUnderTest } from '../support/harness';
import { storagePairs } from '../support/pairs';
import { fixtureServer, spXml, type FixtureServer } from './support';

/**
 * PostgreSQL only, because only it has row locks. A refresh and a removal of the same SP that
 * land together must wait for each other, not deadlock. remove() deletes the SP row, then its
 * source; the refresh's transaction has to lock them in that same order. (SQLite serializes the
 * embedded process's transactions whole; api.test.ts covers the outcomes on both pairs.)
 */
describe('trust list row locks (production)', () => {
  const pair = storagePairs().find((p) => p.name === 'production')!;
  const cert = makeSelfSignedRsa('lock test SP');
  let broker: BrokerUnderTest;
  let fixtures: FixtureServer;

  beforeAll(async () => {
    fixtures = await fixtureServer();
    broker = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource() });
  });
  afterAll(async () => {
    await fixtures.close();
    await pair.cleanup();
  });

  test('a refresh that meets a removal in progress waits for it, then answers that the SP left', async () => {
    const admin = trustAdminFor(broker.services);
    const id = 'https://locks.test/md';
    fixtures.set('/locks.xml', spXml({ entityId: id, certPem: cert.certPem, acs: 'https://locks.test/acs' }));
    await admin.importFromUrl(`${fixtures.url}/locks.xml`, { actor: 'test' });

    // The removal, made by hand on a second connection so that it can stop between its two deletes.
    const other = await pair.makeDataSource();
    const schema = String((other.options as { schema?: string }).schema);
    const removal = other.createQueryRunner();
    await removal.connect();
    await removal.startTransaction();
    try {
      await removal.manager.getRepository(ServiceProviderEntity).delete({ entityId: id });

      const refreshing = admin.refresh(id, 'test').then(
        () => 'refreshed',
        (err: Error & { code?: string }) => err,
      );
      // The refresh is in its transaction, waiting for a row the removal holds.
      for (let i = 0; ; i++) {
        const [{ n }] = (await broker.services.ds.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND query LIKE $1`,
          [`%"${schema}"%`],
        )) as Array<{ n: number }>;
        if (n > 0) break;
        if (i > 500) throw new Error('the refresh never waited on the removal');
        await new Promise((r) => setTimeout(r, 10));
      }
      // In the other order, the refresh would hold the source row now: this delete would wait for
      // it while it waits for the SP row, and PostgreSQL would abort one of the two (40P01).
      await removal.manager.getRepository(MetadataSourceEntity).delete({ kind: 'sp', entityId: id });
      await removal.commitTransaction();

      const outcome = await refreshing;
      expect(outcome).toBeInstanceOf(Error);
      expect(outcome).toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(/left the trust list while its metadata was being fetched/) as unknown });
    } finally {
      if (removal.isTransactionActive) await removal.rollbackTransaction();
      await removal.release();
    }
    expect(await broker.services.ds.getRepository(ServiceProviderEntity).findOneBy({ entityId: id })).toBeNull();
  });
});
