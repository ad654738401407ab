import type { DataSource } from 'typeorm';
import { dniSequence } from '../support/citizens';
import type { NewCitizen } from '../../src/citizens/types';
import type { KeyValueStore } from '../../src/store/types';
import { nodeSamlSp, sendRedirectRequest, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { describeEachPair } from '../support/pairs';
import { alertText, browserFromOwnAddress, pickMethod, submit, tempOutbox } from '../pin/support';

/**
 * No answer of the login pages says whether a DNI/NIE is registered (issue: a not-activated DNI
 * answered in 4 ms against 80 ms for an unknown one, and only registered DNIs ever said
 * "bloqueada"). Same words and status here; the same work (one scrypt, one audit record) is
 * proven in test/citizens/repository.test.ts, and `npm run bench` reports the timings.
 */

const PASSWORD = 'Permanente-Pass-55';
const WRONG = 'Wrong-Password-99';
const nextDni = dniSequence(71_000_000);
function citizen(over: Partial<NewCitizen> = {}): NewCitizen {
  const { dni, mobile } = nextDni();
  return {
    dni,
    password: PASSWORD,
    givenName: 'Lucía',
    firstSurname: 'Ortega',
    secondSurname: 'Pons',
    dateOfBirth: '1982-06-07',
    mobile,
    registrationLevel: 'advanced',
    dniValidityDate: '2030-05-05',
    ...over,
  };
}

describeEachPair('registration is never revealed by the login pages', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({
      store,
      ds,
      overrides: { trustProxy: true, notify: { outboxPath: tempOutbox() }, otp: { abuse: { maxFailuresPerCitizen: 100, maxFailuresPerAddress: 1000 } } },
    });
  });

  const browser = (): Agent => browserFromOwnAddress(broker, '198.51');

  async function tryPassword(dni: string, password: string): Promise<{ status: number; alert?: string }> {
    const agent = browser();
    const s = await sendRedirectRequest(agent, nodeSamlSp(broker));
    const path = await pickMethod(agent, s.headers.location!, 'permanente');
    const res = await submit(agent, path, { username: dni, password });
    return { status: res.status, alert: alertText(res.text) };
  }

  async function tryPin(dni: string, validityDate: string): Promise<{ status: number; alert?: string }> {
    const agent = browser();
    const s = await sendRedirectRequest(agent, nodeSamlSp(broker));
    const path = await pickMethod(agent, s.headers.location!, 'pin');
    const res = await submit(agent, path, { dni, validity_date: validityDate });
    return { status: res.status, alert: alertText(res.text) };
  }

  test('Cl@ve Permanente: unknown, not activated and registered DNIs answer seven wrong passwords alike, down to the lock', async () => {
    const registered = citizen();
    const pending = citizen({ password: undefined });
    await broker.services.citizens.create(registered);
    await broker.services.citizens.create(pending);
    const sequences: Record<string, Array<{ status: number; alert?: string }>> = {};
    for (const [name, dni] of [
      ['unknown', citizen().dni],
      ['not activated', pending.dni],
      ['registered', registered.dni],
    ] as const) {
      sequences[name] = [];
      for (let i = 0; i < 7; i++) sequences[name].push(await tryPassword(dni, WRONG));
    }
    const expected = sequences.unknown!;
    expect(expected.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401, 401]);
    expect(expected[0]!.alert).toBe('El DNI/NIE o la contraseña no son correctos. Le quedan 4 intentos antes de que se bloquee.');
    expect(expected[3]!.alert).toBe('El DNI/NIE o la contraseña no son correctos. Le queda 1 intento antes de que se bloquee.');
    expect(expected[4]!.alert).toMatch(/bloqueada/);
    expect(expected[6]!.alert).toBe(expected[4]!.alert);
    expect(sequences['not activated']).toEqual(expected);
    expect(sequences.registered).toEqual(expected);
    // The registry really locked the registered account; only its right password is told so.
    expect((await broker.services.citizens.findByDni(registered.dni))!.status).toBe('locked');
    expect((await tryPassword(registered.dni, PASSWORD)).alert).toMatch(/bloqueada/);
  });

  test('a locked account given a wrong password answers like an unknown DNI with as many failures', async () => {
    const owner = citizen();
    await broker.services.citizens.create(owner);
    const unknown = citizen().dni;
    for (let i = 0; i < 5; i++) {
      await tryPassword(owner.dni, WRONG);
      await tryPassword(unknown, WRONG);
    }
    expect((await broker.services.citizens.findByDni(owner.dni))!.status).toBe('locked');
    const a = [await tryPassword(owner.dni, WRONG), await tryPassword(owner.dni, 'Another-Wrong-1')];
    const b = [await tryPassword(unknown, WRONG), await tryPassword(unknown, 'Another-Wrong-1')];
    expect(a).toEqual(b);
  });

  test('Cl@ve PIN: unknown, not activated, locked and registered DNIs with a wrong validity date get one answer', async () => {
    const registered = citizen();
    const pending = citizen({ password: undefined });
    const locked = citizen();
    for (const c of [registered, pending, locked]) await broker.services.citizens.create(c);
    for (let i = 0; i < 5; i++) await broker.services.citizens.verifyPassword(locked.dni, WRONG);
    expect((await broker.services.citizens.findByDni(locked.dni))!.status).toBe('locked');
    const answers = [];
    for (const dni of [citizen().dni, pending.dni, locked.dni, registered.dni]) {
      answers.push(await tryPin(dni, '2001-01-01'), await tryPin(dni, '2002-02-02'));
    }
    expect(answers[0]!.status).toBe(401);
    for (const a of answers) expect(a).toEqual(answers[0]);
  });

  test('Cl@ve PIN still works for a citizen whose Permanente password is locked (a separate credential)', async () => {
    const locked = citizen();
    await broker.services.citizens.create(locked);
    for (let i = 0; i < 5; i++) await broker.services.citizens.verifyPassword(locked.dni, WRONG);
    const res = await tryPin(locked.dni, locked.dniValidityDate!);
    expect(res.status).toBe(200);
    expect(res.alert).toBeUndefined();
  });
});
