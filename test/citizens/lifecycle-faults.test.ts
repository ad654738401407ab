import type { DataSource } from 'typeorm';
import { dniSequence } from '../support/citizens';
import { ActivationCodeEntity, CitizenEntity, PasswordHistoryEntity } from '../../src/db/entities';
import type { Registration } from '../../src/citizens/lifecycle';
import type { KeyValueStore } from '../../src/store/types';
import { formFields, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { describeWithProductionServices, storagePairs, type StoragePair } from '../support/pairs';
import { alertText, browserFromOwnAddress, lastCode, postForm, submit, tempOutbox } from '../pin/support';

/**
 * Fault injection against the real PostgreSQL: a deferred constraint trigger makes the COMMIT
 * itself fail for one kind of change (after every statement of the transaction succeeded), the
 * hardest place for "none is half-applied" to hold.
 */
const FIRST = 'Mi-Clave-Nueva-7';
const SECOND = 'Otra-Clave-Buena-8';

const nextDni = dniSequence(45_000_000);
function registration(): Registration {
  const { dni, mobile } = nextDni();
  return { dni, givenName: 'Sara', firstSurname: 'Campos', dateOfBirth: '1992-02-02', mobile, channel: 'office', dniValidityDate: '2033-03-03' };
}

describeWithProductionServices('commit failures on PostgreSQL leave everything as it was', () => {
  let pair: StoragePair;
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  const outbox = tempOutbox();

  beforeAll(async () => {
    pair = storagePairs().find((p) => p.name === 'production')!;
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({ store, ds, overrides: { trustProxy: true, notify: { outboxPath: outbox } } });
    await ds.query(`CREATE OR REPLACE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected commit failure for %', NEW.type; END $$`);
  });
  afterAll(() => pair.cleanup());

  /** From now on, a transaction that audits `type` fails at COMMIT. */
  const failCommitsOf = async (type: string) => {
    await ds.query(`DROP TRIGGER IF EXISTS refuse_commit ON audit_events`);
    await ds.query(
      `CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.type = '${type}') EXECUTE FUNCTION refuse_commit()`,
    );
  };
  const healCommits = () => ds.query(`DROP TRIGGER IF EXISTS refuse_commit ON audit_events`);
  afterEach(healCommits);

  const browser = (): Agent => browserFromOwnAddress(broker, '203.0');
  const step = (agent: Agent, html: string, fields: Record<string, string>) => postForm(agent, html, { flow: formFields(html).flow ?? '', ...fields });

  test('activation: the commit fails -> no password, still pending, the activation code not consumed; the same step then succeeds', async () => {
    const r = registration();
    const { code, citizen } = await broker.services.lifecycle.register(r);
    const agent = browser();
    const otpPage = await submit(agent, '/account/activate', { dni: r.dni, activation_code: code! });
    const pwPage = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });

    await failCommitsOf('citizen.activated');
    const failed = await step(agent, pwPage.text, { password: FIRST, password_confirm: FIRST });
    expect(failed.status).toBe(503);
    expect(alertText(failed.text)).toBe('No hemos podido guardar el cambio y no se ha modificado nada. Inténtelo de nuevo en unos minutos.');
    expect(await ds.getRepository(CitizenEntity).findOneByOrFail({ id: citizen.id })).toMatchObject({ status: 'pending', passwordHash: null });
    expect(await ds.getRepository(ActivationCodeEntity).findOneByOrFail({ citizenId: citizen.id })).toMatchObject({ status: 'active', usedAt: null });
    expect(await ds.getRepository(PasswordHistoryEntity).countBy({ citizenId: citizen.id })).toBe(0);

    await healCommits();
    const done = await step(agent, failed.text, { password: FIRST, password_confirm: FIRST });
    expect(done.status).toBe(200);
    expect((await broker.services.citizens.verifyPassword(r.dni, FIRST)).ok).toBe(true);
  });

  test('password change: the commit fails -> the old password still works, the new one does not, the history is unchanged', async () => {
    const r = registration();
    const { code, citizen } = await broker.services.lifecycle.register(r);
    const checked = await broker.services.lifecycle.checkActivationCode(r.dni, code!);
    if (!checked.ok) throw new Error('code refused');
    await broker.services.lifecycle.activate(citizen.id, checked.codeId, FIRST, FIRST);
    const historyBefore = await ds.getRepository(PasswordHistoryEntity).countBy({ citizenId: citizen.id });

    const agent = browser();
    const otpPage = await submit(agent, '/account/password', { dni: r.dni, current_password: FIRST });
    const pwPage = await step(agent, otpPage.text, { otp: lastCode(outbox, r.mobile) });
    await failCommitsOf('citizen.password_changed');
    const failed = await step(agent, pwPage.text, { password: SECOND, password_confirm: SECOND });
    expect(failed.status).toBe(503);
    expect((await broker.services.citizens.verifyPassword(r.dni, FIRST)).ok).toBe(true);
    expect((await broker.services.citizens.verifyPassword(r.dni, SECOND)).ok).toBe(false);
    expect(await ds.getRepository(PasswordHistoryEntity).countBy({ citizenId: citizen.id })).toBe(historyBefore);

    // The service directly: the same refusal, the same nothing.
    await expect(broker.services.lifecycle.changePassword(citizen.id, SECOND, SECOND)).rejects.toThrow(/injected commit failure/);
    expect((await broker.services.citizens.verifyPassword(r.dni, FIRST)).ok).toBe(true);

    await healCommits();
    expect((await step(agent, failed.text, { password: SECOND, password_confirm: SECOND })).status).toBe(200);
    expect((await broker.services.citizens.verifyPassword(r.dni, SECOND)).ok).toBe(true);
  });

  test('deregistration: the commit fails -> the citizen is still active with the same password', async () => {
    const r = registration();
    const { code, citizen } = await broker.services.lifecycle.register(r);
    const checked = await broker.services.lifecycle.checkActivationCode(r.dni, code!);
    if (!checked.ok) throw new Error('code refused');
    await broker.services.lifecycle.activate(citizen.id, checked.codeId, FIRST, FIRST);
    await failCommitsOf('citizen.deregistered');
    await expect(broker.services.lifecycle.deregister(citizen.id)).rejects.toThrow(/injected commit failure/);
    expect(await ds.getRepository(CitizenEntity).findOneByOrFail({ id: citizen.id })).toMatchObject({ status: 'active' });
    expect((await broker.services.citizens.verifyPassword(r.dni, FIRST)).ok).toBe(true);
  });
});
