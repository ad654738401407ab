import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { AuditLog } from '../../src/audit/log';
import { dniSequence } from '../support/citizens';
import { kdfStats, PasswordPolicyError } from '../../src/citizens/password';
import { CitizenRepository, MAX_FAILED_PASSWORD_ATTEMPTS } from '../../src/citizens/repository';
import type { NewCitizen } from '../../src/citizens/types';
import { closeDataSource, createDataSource, MIGRATIONS } from '../../src/db/data-source';
import { AuditEventEntity, CitizenEntity, ServiceProviderEntity } from '../../src/db/entities';
import { describeEachPair } from '../support/pairs';

const PASSWORD = 'Correct-Horse-9';
const WRONG = 'Wrong-Horse-9';

const nextDni = dniSequence(10_000_000);
/** A fresh valid DNI for each citizen of this file. */
const freshDni = (): string => nextDni().dni;

function newCitizen(overrides: Partial<NewCitizen> = {}): NewCitizen {
  return {
    dni: freshDni(),
    givenName: 'Ana',
    firstSurname: 'Ruiz',
    secondSurname: 'Soler',
    dateOfBirth: '1990-02-03',
    mobile: '+34 600 111 222',
    registrationLevel: 'advanced',
    password: PASSWORD,
    ...overrides,
  };
}

describeEachPair('CitizenRepository', (pair) => {
  let ds: DataSource;
  let repo: CitizenRepository;
  let audit: AuditLog;

  beforeAll(async () => {
    ds = await pair.makeDataSource();
    repo = new CitizenRepository(ds);
    audit = new AuditLog(ds);
  });

  const events = (citizenId: string, type?: string) => audit.list({ citizenId, type, limit: 1000 });
  const countRegistered = () => ds.getRepository(AuditEventEntity).countBy({ type: 'citizen.registered' });

  describe('create', () => {
    test('with a password: active, normalised, hash stored but never returned, audited', async () => {
      const input = newCitizen();
      const c = await repo.create({ ...input, dni: ` ${input.dni.slice(0, 8)}-${input.dni[8]!.toLowerCase()} ` }, { actor: 'cli' });
      expect(c).toMatchObject({ dni: input.dni, status: 'active', mobile: '+34600111222', failedPasswordAttempts: 0, email: null });
      expect(Object.keys(c)).not.toContain('passwordHash');
      expect(await repo.findByDni(input.dni.toLowerCase())).toEqual(c);
      expect(await repo.findById(c.id)).toEqual(c);

      const row = await ds.getRepository(CitizenEntity).findOneByOrFail({ id: c.id });
      expect(row.passwordHash).toMatch(/^scrypt\$/);
      expect(row.passwordHash).not.toContain(PASSWORD);
      expect(row.createdAt.getTime()).toBe(c.createdAt.getTime());

      const [registered, ...others] = await events(c.id);
      expect(others).toHaveLength(0);
      expect(registered).toMatchObject({ type: 'citizen.registered', actor: 'cli', detail: { who: `****${input.dni.slice(4)}`, status: 'active' } });
      expect(JSON.stringify(registered!.detail)).not.toContain(input.dni);
    });

    test('without a password: pending, and a password check says inactive', async () => {
      const c = await repo.create(newCitizen({ password: undefined, registrationLevel: 'basic' }));
      expect(c.status).toBe('pending');
      expect(await repo.verifyPassword(c.dni, PASSWORD)).toEqual({ ok: false, reason: 'inactive' });
    });

    test.each<[string, Partial<NewCitizen>, string]>([
      ['a wrong check letter', { dni: '12345678A' }, 'dni'],
      ['an impossible date of birth', { dateOfBirth: '1990-02-30' }, 'dateOfBirth'],
      ['an empty given name', { givenName: '  ' }, 'givenName'],
      ['a mobile that is not a number', { mobile: 'call me' }, 'mobile'],
    ])('refuses %s (ERR_CITIZEN_INVALID naming the field)', async (_what, overrides, field) => {
      await expect(repo.create(newCitizen(overrides))).rejects.toMatchObject({ code: 'ERR_CITIZEN_INVALID', message: expect.stringContaining(field) });
    });

    test('refuses a password against the policy, storing nothing', async () => {
      const before = await countRegistered();
      const input = newCitizen({ password: 'ruiz-2024-Abc' });
      const err = await repo.create(input).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PasswordPolicyError);
      expect((err as PasswordPolicyError).reasons).toEqual(['contains_name']);
      expect(await repo.findByDni(input.dni)).toBeNull();
      expect(await countRegistered()).toBe(before);
    });

    test('a duplicate DNI is ERR_CITIZEN_EXISTS and its audit event is rolled back', async () => {
      const input = newCitizen();
      await repo.create(input);
      const before = await countRegistered();
      await expect(repo.create({ ...input, givenName: 'Otra' })).rejects.toMatchObject({ code: 'ERR_CITIZEN_EXISTS' });
      expect(await countRegistered()).toBe(before);
    });

    test('of 5 concurrent registrations of one DNI exactly one wins', async () => {
      const before = await countRegistered();
      const input = newCitizen({ password: undefined });
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => repo.create(input)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ERR_CITIZEN_EXISTS' });
      expect(await ds.getRepository(CitizenEntity).countBy({ dni: input.dni })).toBe(1);
      expect(await countRegistered()).toBe(before + 1);
    });
  });

  describe('verifyPassword', () => {
    test('the right password: ok with the citizen, audited', async () => {
      const c = await repo.create(newCitizen());
      const r = await repo.verifyPassword(c.dni, PASSWORD, { requestId: '_req-1' });
      expect(r).toEqual({ ok: true, citizen: expect.objectContaining({ id: c.id, status: 'active' }) });
      const ok = await events(c.id, 'auth.password.ok');
      expect(ok).toHaveLength(1);
      expect(ok[0]!.requestId).toBe('_req-1');
    });

    test('locks after exactly 5 wrong passwords, and stays locked for the right one', async () => {
      const c = await repo.create(newCitizen());
      for (let i = 1; i < MAX_FAILED_PASSWORD_ATTEMPTS; i++) {
        expect(await repo.verifyPassword(c.dni, WRONG)).toEqual({ ok: false, reason: 'bad_password', remainingAttempts: MAX_FAILED_PASSWORD_ATTEMPTS - i });
        expect((await repo.findById(c.id))!.status).toBe('active');
      }
      expect(await repo.verifyPassword(c.dni, WRONG)).toEqual({ ok: false, reason: 'locked', remainingAttempts: 0 });
      // Locked: only the right password is told so; a wrong one is answered like an unknown DNI.
      expect(await repo.verifyPassword(c.dni, PASSWORD)).toEqual({ ok: false, reason: 'locked' });
      expect(await repo.verifyPassword(c.dni, WRONG)).toEqual({ ok: false, reason: 'locked_bad_password' });

      const after = await ds.getRepository(CitizenEntity).findOneByOrFail({ id: c.id });
      expect(after).toMatchObject({ status: 'locked', failedPasswordAttempts: 5 });
      expect(after.lockedAt).toBeInstanceOf(Date);

      const failed = await events(c.id, 'auth.password.failed');
      const order = (d: Record<string, unknown>) => `${String(d.attempt ?? 99).padStart(2, '0')}${String(d.reason)}`;
      expect(failed.map((e) => e.detail).sort((a, b) => order(a).localeCompare(order(b)))).toEqual([
        { reason: 'bad_password', attempt: 1 },
        { reason: 'bad_password', attempt: 2 },
        { reason: 'bad_password', attempt: 3 },
        { reason: 'bad_password', attempt: 4 },
        { reason: 'bad_password', attempt: 5 },
        { reason: 'locked' },
        { reason: 'locked_bad_password' },
      ]);
      expect(await events(c.id, 'citizen.locked')).toHaveLength(1);
      expect(await events(c.id, 'auth.password.ok')).toHaveLength(0);
    });

    test('a success resets the failure count', async () => {
      const c = await repo.create(newCitizen());
      for (let i = 0; i < 3; i++) await repo.verifyPassword(c.dni, WRONG);
      const ok = await repo.verifyPassword(c.dni, PASSWORD);
      expect(ok.ok && ok.citizen.failedPasswordAttempts).toBe(0);
      // Without the reset, 3 + 2 more would already lock the account.
      for (let i = 0; i < 3; i++) await repo.verifyPassword(c.dni, WRONG);
      expect(await repo.verifyPassword(c.dni, WRONG)).toEqual({ ok: false, reason: 'bad_password', remainingAttempts: 1 });
      expect((await repo.findById(c.id))!.status).toBe('active');
    });

    test('5 wrong passwords in parallel lock the account: each counted exactly once', async () => {
      const c = await repo.create(newCitizen());
      const results = await Promise.all(Array.from({ length: 5 }, () => repo.verifyPassword(c.dni, WRONG)));
      expect(results.filter((r) => !r.ok && r.reason === 'locked')).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.reason === 'bad_password')).toHaveLength(4);
      expect(await repo.findById(c.id)).toMatchObject({ status: 'locked', failedPasswordAttempts: 5 });
      const attempts = (await events(c.id, 'auth.password.failed')).map((e) => e.detail.attempt).sort();
      expect(attempts).toEqual([1, 2, 3, 4, 5]);
      expect(await events(c.id, 'citizen.locked')).toHaveLength(1);
    });

    test('8 wrong passwords in parallel: the count stops at 5 and the account locks once', async () => {
      const c = await repo.create(newCitizen());
      const results = await Promise.all(Array.from({ length: 8 }, () => repo.verifyPassword(c.dni, WRONG)));
      expect(results.filter((r) => !r.ok && r.reason === 'bad_password')).toHaveLength(4);
      expect(results.filter((r) => !r.ok && r.reason === 'locked')).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.reason === 'locked_bad_password')).toHaveLength(3);
      expect(await repo.findById(c.id)).toMatchObject({ status: 'locked', failedPasswordAttempts: 5 });
      expect(await events(c.id, 'citizen.locked')).toHaveLength(1);
      expect(await events(c.id, 'auth.password.failed')).toHaveLength(8);
    });

    test('an unknown DNI: "unknown", audited masked', async () => {
      const dni = freshDni();
      expect(await repo.verifyPassword(dni, WRONG)).toEqual({ ok: false, reason: 'unknown' });
      const rows = await ds.getRepository(AuditEventEntity).findBy({ type: 'auth.password.failed' });
      const mine = rows.filter((r) => r.detail.includes(dni.slice(4)));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.citizenId).toBeNull();
      expect(mine[0]!.detail).not.toContain(dni);
    });

    test('every answer costs exactly one scrypt and one audit record: unknown, not activated, locked, wrong and right', async () => {
      const active = await repo.create(newCitizen());
      const pending = await repo.create({ ...newCitizen(), password: undefined });
      const locked = await repo.create(newCitizen());
      for (let i = 0; i < MAX_FAILED_PASSWORD_ATTEMPTS; i++) await repo.verifyPassword(locked.dni, WRONG);
      const audited = async () => (await ds.getRepository(AuditEventEntity).count());
      const cases: Array<[string, string, string]> = [
        ['unknown', freshDni(), WRONG],
        ['not activated', pending.dni, PASSWORD],
        ['locked, wrong password', locked.dni, WRONG],
        ['locked, right password', locked.dni, PASSWORD],
        ['registered, wrong password', active.dni, WRONG],
        ['registered, right password', active.dni, PASSWORD],
      ];
      for (const [name, dni, pw] of cases) {
        const kdf = kdfStats.derivations;
        const events = await audited();
        await repo.verifyPassword(dni, pw);
        expect({ name, kdf: kdfStats.derivations - kdf, audit: (await audited()) - events }).toEqual({ name, kdf: 1, audit: 1 });
      }
    });
  });

  describe('setPassword', () => {
    test('unlocks a locked citizen; the old password stops working; audited', async () => {
      const c = await repo.create(newCitizen());
      for (let i = 0; i < MAX_FAILED_PASSWORD_ATTEMPTS; i++) await repo.verifyPassword(c.dni, WRONG);
      expect((await repo.findById(c.id))!.status).toBe('locked');

      const updated = await repo.setPassword(c.id, 'Brand-New-Pass-7', { actor: 'citizen', requestId: '_r2' });
      expect(updated).toMatchObject({ status: 'active', failedPasswordAttempts: 0 });
      expect((await ds.getRepository(CitizenEntity).findOneByOrFail({ id: c.id })).lockedAt).toBeNull();
      expect(await repo.verifyPassword(c.dni, PASSWORD)).toMatchObject({ ok: false, reason: 'bad_password' });
      expect(await repo.verifyPassword(c.dni, 'Brand-New-Pass-7')).toMatchObject({ ok: true });
      const changed = await events(c.id, 'citizen.password_changed');
      expect(changed).toHaveLength(1);
      expect(changed[0]).toMatchObject({ requestId: '_r2', detail: { previousStatus: 'locked' } });
    });

    test('activates a pending citizen', async () => {
      const c = await repo.create(newCitizen({ password: undefined }));
      expect((await repo.setPassword(c.id, 'First-Pass-Ok1')).status).toBe('active');
      expect(await repo.verifyPassword(c.dni, 'First-Pass-Ok1')).toMatchObject({ ok: true });
    });

    test('checks the policy against this citizen, changing nothing when it fails', async () => {
      const c = await repo.create(newCitizen({ secondSurname: 'Peñalver' }));
      await expect(repo.setPassword(c.id, 'Penalver!2024x')).rejects.toMatchObject({ code: 'ERR_PASSWORD_POLICY', reasons: ['contains_name'] });
      await expect(repo.setPassword(c.id, `Ab!${c.dni.slice(0, 8)}`)).rejects.toMatchObject({ reasons: ['contains_dni'] });
      expect(await repo.verifyPassword(c.dni, PASSWORD)).toMatchObject({ ok: true });
      expect(await events(c.id, 'citizen.password_changed')).toHaveLength(0);
    });

    test('an unknown id is ERR_CITIZEN_NOT_FOUND', async () => {
      await expect(repo.setPassword('00000000-0000-4000-8000-000000000000', 'Brand-New-Pass-7')).rejects.toMatchObject({ code: 'ERR_CITIZEN_NOT_FOUND' });
    });
  });

  describe('audit events and transactions', () => {
    test('an event recorded in a transaction that fails is not stored', async () => {
      await expect(
        ds.transaction(async (m) => {
          await audit.record({ type: 'test.rolled_back', detail: { n: 1 } }, m);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await audit.list({ type: 'test.rolled_back' })).toHaveLength(0);
    });

    test("one transaction's rollback never undoes another's commit, even when they overlap", async () => {
      const slowFailure = ds.transaction(async (m) => {
        await audit.record({ type: 'test.overlap.failed' }, m);
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('late failure');
      });
      const commit = ds.transaction(async (m) => {
        await audit.record({ type: 'test.overlap.committed' }, m);
      });
      await expect(slowFailure).rejects.toThrow('late failure');
      await commit;
      expect(await audit.list({ type: 'test.overlap.committed' })).toHaveLength(1);
      expect(await audit.list({ type: 'test.overlap.failed' })).toHaveLength(0);
    });

    test('a transaction opened inside another one completes instead of waiting for it', async () => {
      await ds.transaction(async (m) => {
        await audit.record({ type: 'test.nested.outer' }, m);
        await ds.transaction((inner) => audit.record({ type: 'test.nested.inner' }, inner));
      });
      expect(await audit.list({ type: 'test.nested.outer' })).toHaveLength(1);
      expect(await audit.list({ type: 'test.nested.inner' })).toHaveLength(1);
    });

    test('obvious secrets in detail are redacted as a last resort', async () => {
      await audit.record({ type: 'test.redaction', detail: { password: 'x', PIN: '1234', activation_code: 'abc', reason: 'kept' } });
      const [e] = await audit.list({ type: 'test.redaction' });
      expect(e!.detail).toEqual({ password: '[redacted]', PIN: '[redacted]', activation_code: '[redacted]', reason: 'kept' });
    });
  });
});

describeEachPair('database migrations', (pair) => {
  // This suite has its own pair, so its first data source is a database nobody has used yet.
  test('run on a fresh database, once, and can be undone and re-applied', async () => {
    const ds = await pair.makeDataSource();
    const qr = ds.createQueryRunner();
    try {
      for (const table of ['citizens', 'service_providers', 'audit_events']) expect(await qr.hasTable(table)).toBe(true);
      expect(await ds.showMigrations()).toBe(false);
      const applied = () => ds.query('SELECT name FROM migrations') as Promise<{ name: string }[]>;
      // Every migration, oldest first (each new one is appended to MIGRATIONS).
      const all = MIGRATIONS.map((M) => ({ name: new M().name }));
      expect(all[0]).toEqual({ name: 'Initial1700000000000' });
      const sorted = (rows: { name: string }[]) => [...rows].sort((a, b) => a.name.localeCompare(b.name));
      expect(sorted(await applied())).toEqual(sorted(all));

      // A second process opening the same database does not run it again.
      const again = await pair.makeDataSource();
      expect(await again.showMigrations()).toBe(false);
      expect(sorted(await applied())).toEqual(sorted(all));

      for (let i = 0; i < all.length; i++) await ds.undoLastMigration();
      expect(await qr.hasTable('citizens')).toBe(false);
      expect(await applied()).toEqual([]);
      await ds.runMigrations();
      expect(await qr.hasTable('citizens')).toBe(true);
    } finally {
      await qr.release();
    }
  });

  test('portable columns round-trip: timestamps, booleans, long text, nulls', async () => {
    const ds = await pair.makeDataSource();
    const at = new Date('2024-03-31T23:30:00.123Z');
    const repo = ds.getRepository(ServiceProviderEntity);
    const entityId = `https://sp.example/${'x'.repeat(900)}/${Date.now()}`;
    await repo.insert({ entityId, displayName: null, metadataXml: '<md/>'.repeat(5000), policy: '{"a":1}', source: 'test', enabled: false, createdAt: at, updatedAt: at });
    const row = await repo.findOneByOrFail({ entityId });
    expect(row).toEqual({ entityId, displayName: null, metadataXml: '<md/>'.repeat(5000), policy: '{"a":1}', source: 'test', enabled: false, createdAt: at, updatedAt: at });
    expect(await repo.findBy({ entityId, enabled: true })).toHaveLength(0);
  });
});

describe('createDataSource', () => {
  test('SQLite in memory', async () => {
    const ds = await createDataSource({ sqlitePath: ':memory:' });
    expect(await ds.createQueryRunner().hasTable('citizens')).toBe(true);
    await closeDataSource(ds);
    expect(ds.isInitialized).toBe(false);
    await closeDataSource(ds); // closing twice is fine
  });

  test('SQLite file: creates the parent directory and uses WAL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-db-'));
    const file = path.join(dir, 'nested', 'deeper', 'p.sqlite');
    const ds = await createDataSource({ sqlitePath: file });
    try {
      expect(existsSync(file)).toBe(true);
      expect(await ds.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
      expect(await ds.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    } finally {
      await closeDataSource(ds);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a URL that is not PostgreSQL is a configuration error', async () => {
    await expect(createDataSource({ url: 'mysql://u:secret@h/db' })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.not.stringContaining('secret') });
  });

  test('an unreachable PostgreSQL fails with ERR_DB_UNAVAILABLE, password redacted', async () => {
    const err = await createDataSource({ url: 'postgres://u:secret@127.0.0.1:1/db' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DB_UNAVAILABLE', message: expect.stringContaining('postgres://u:***@127.0.0.1:1/db') });
    expect((err as Error).message).not.toContain('secret');
  });

  test('a schema name that could inject SQL is refused', async () => {
    await expect(createDataSource({ url: 'postgres://postgres@127.0.0.1:1/test', schema: 'x"; DROP TABLE y; --' })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});
