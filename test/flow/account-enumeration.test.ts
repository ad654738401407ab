import type { DataSource } from 'typeorm';
import type { Registration } from '../../src/citizens/lifecycle';
import { dniSequence } from '../support/citizens';
import { kdfStats } from '../../src/citizens/password';
import type { KeyValueStore } from '../../src/store/types';
import { nodeSamlSp, sendRedirectRequest, startBroker, type Agent, type BrokerUnderTest } from '../support/harness';
import { describeEachPair } from '../support/pairs';
import { alertText, browserFromOwnAddress, pickMethod, submit, tempOutbox } from '../pin/support';

/**
 * The account services keep the login's promise: no answer says whether a DNI/NIE is registered,
 * not activated, locked or deregistered (same words, same status, one scrypt per password answer).
 */
const PASSWORD = 'Clave-Correcta-55';
const WRONG = 'Clave-Erronea-99';
const nextDni = dniSequence(47_000_000);
function registration(): Registration {
  const { dni, mobile } = nextDni();
  return { dni, givenName: 'Pablo', firstSurname: 'Vera', dateOfBirth: '1977-07-17', mobile, channel: 'office', dniValidityDate: '2029-09-09' };
}

describeEachPair('account services never reveal a registration', (pair) => {
  let store: KeyValueStore;
  let ds: DataSource;
  let broker: BrokerUnderTest;
  let activate: (r: Registration) => Promise<string>;
  const dnis: Record<string, Registration> = {};

  beforeAll(async () => {
    store = await pair.makeStore();
    ds = await pair.makeDataSource();
    broker = await startBroker({
      store,
      ds,
      overrides: { trustProxy: true, notify: { outboxPath: tempOutbox() }, otp: { abuse: { maxFailuresPerCitizen: 100, maxFailuresPerAddress: 1000 } } },
    });
    const lc = broker.services.lifecycle;
    activate = async (r: Registration) => {
      const { code, citizen } = await lc.register(r);
      const checked = await lc.checkActivationCode(r.dni, code!);
      if (!checked.ok) throw new Error('code refused');
      await lc.activate(citizen.id, checked.codeId, PASSWORD, PASSWORD);
      return citizen.id;
    };
    dnis.unknown = registration();
    dnis.pending = registration();
    await lc.register(dnis.pending);
    dnis.registered = registration();
    await activate(dnis.registered);
    dnis.locked = registration();
    await activate(dnis.locked);
    for (let i = 0; i < 5; i++) await broker.services.citizens.verifyPassword(dnis.locked.dni, WRONG);
    dnis.deregistered = registration();
    await lc.deregister(await activate(dnis.deregistered));
    // The decoy hash unknown DNIs are checked against is made once per process, on first use.
    await broker.services.citizens.verifyPassword(registration().dni, WRONG);
  });

  const browser = (): Agent => browserFromOwnAddress(broker, '198.51');
  const answer = async (path: string, fields: Record<string, string>) => {
    const res = await submit(browser(), path, fields);
    return { status: res.status, alert: alertText(res.text) };
  };

  test('/account/password and /account/deregister: a wrong password gets one answer for every kind of DNI/NIE, each costing one scrypt', async () => {
    for (const path of ['/account/password', '/account/deregister']) {
      const seen = new Set<string>();
      for (const kind of ['unknown', 'pending', 'registered', 'locked', 'deregistered']) {
        const before = kdfStats.derivations;
        const a = await answer(path, { dni: dnis[kind]!.dni, current_password: WRONG });
        expect(kdfStats.derivations - before).toBe(1);
        seen.add(JSON.stringify(a));
      }
      expect([...seen]).toEqual([JSON.stringify({ status: 401, alert: 'El DNI/NIE o la contraseña no son correctos.' })]);
    }
  });

  test('/account/password: five wrong passwords answer the same sequence for a registered and an unknown DNI ("locked" at the fifth for both)', async () => {
    const fresh = registration();
    await activate(fresh);
    const nobody = registration();
    const sequence = async (dni: string) => {
      const out: string[] = [];
      for (let i = 0; i < 6; i++) out.push(JSON.stringify(await answer('/account/password', { dni, current_password: `${WRONG}-${i}` })));
      return out;
    };
    const registered = await sequence(fresh.dni);
    expect(await sequence(nobody.dni)).toEqual(registered);
    expect(JSON.parse(registered[5]!)).toEqual({ status: 401, alert: expect.stringContaining('bloqueada') });
    expect(JSON.parse(registered[0]!)).toEqual({ status: 401, alert: 'El DNI/NIE o la contraseña no son correctos.' });
  });

  test('/account/recover: unknown, not activated, deregistered and a wrong date get one answer', async () => {
    const seen = new Set<string>();
    for (const kind of ['unknown', 'pending', 'deregistered']) seen.add(JSON.stringify(await answer('/account/recover', { dni: dnis[kind]!.dni, validity_date: '2029-09-09' })));
    seen.add(JSON.stringify(await answer('/account/recover', { dni: dnis.registered!.dni, validity_date: '2030-01-01' })));
    expect(seen.size).toBe(1);
    expect(JSON.parse([...seen][0]!)).toEqual({ status: 401, alert: expect.stringContaining('Los datos no coinciden') });
  });

  test('/account/activate: a wrong code gets one answer for unknown, not activated, active, locked and deregistered DNIs', async () => {
    const seen = new Set<string>();
    for (const kind of ['unknown', 'pending', 'registered', 'locked', 'deregistered']) {
      seen.add(JSON.stringify(await answer('/account/activate', { dni: dnis[kind]!.dni, activation_code: 'AAAA-BBBB-CCCC-DDDD' })));
    }
    expect([...seen]).toEqual([JSON.stringify({ status: 401, alert: 'El DNI/NIE o el código de activación no son correctos.' })]);
  });

  test('login: a deregistered DNI/NIE answers Permanente and PIN like an unknown one, even with its old password', async () => {
    const permanente = async (dni: string, password: string) => {
      const agent = browser();
      const s = await sendRedirectRequest(agent, nodeSamlSp(broker));
      const res = await submit(agent, await pickMethod(agent, s.headers.location!, 'permanente'), { username: dni, password });
      return { status: res.status, alert: alertText(res.text) };
    };
    const pin = async (dni: string) => {
      const agent = browser();
      const s = await sendRedirectRequest(agent, nodeSamlSp(broker));
      const res = await submit(agent, await pickMethod(agent, s.headers.location!, 'pin'), { dni, validity_date: '2029-09-09' });
      return { status: res.status, alert: alertText(res.text) };
    };
    // The unknown DNI went through the same wrong tries above (counters are per DNI, shared with the account pages).
    expect(await permanente(dnis.deregistered!.dni, PASSWORD)).toEqual(await permanente(dnis.unknown!.dni, PASSWORD));
    expect(await pin(dnis.deregistered!.dni)).toEqual(await pin(registration().dni));
  });
});
