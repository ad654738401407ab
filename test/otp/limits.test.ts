import { AbuseLimits } from '../../src/authn/limits';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';

const CFG = { windowSeconds: 900, maxFailuresPerCitizen: 3, maxFailuresPerAddress: 5 };

describeEachPair('abuse limits', (pair) => {
  let store: KeyValueStore;
  beforeAll(async () => {
    store = await pair.makeStore();
  });

  test('per citizen: the failure that reaches the limit blocks, whatever the address', async () => {
    const limits = new AbuseLimits(store, CFG);
    expect(await limits.fail({ dni: '12345678Z', address: '10.0.0.1' }, 'password')).toEqual({ blocked: false });
    expect(await limits.fail({ dni: '12345678z', address: '10.0.0.2' }, 'pin')).toEqual({ blocked: false });
    expect(await limits.fail({ dni: '1234-5678 Z', address: '10.0.0.3' }, 'otp')).toEqual({ blocked: true, retryAfterSeconds: 900 });
    expect(await limits.check({ dni: '12345678Z', address: '10.0.0.9' })).toMatchObject({ blocked: true });
    expect(await limits.check({ dni: '00000000T', address: '10.0.0.9' })).toEqual({ blocked: false });
  });

  test('per address: many citizens from one address', async () => {
    const limits = new AbuseLimits(store, CFG);
    for (let i = 0; i < 4; i++) expect((await limits.fail({ dni: `X000000${i}`, address: '10.1.1.1' }, 'identification')).blocked).toBe(false);
    expect((await limits.fail({ dni: 'X0000009', address: '10.1.1.1' }, 'identification')).blocked).toBe(true);
    expect(await limits.check({ dni: 'Y0000000', address: '10.1.1.1' })).toMatchObject({ blocked: true });
    expect(await limits.check({ dni: 'Y0000000', address: '10.1.1.2' })).toEqual({ blocked: false });
  });

  test('a success clears the citizen counter but not the address counter', async () => {
    const limits = new AbuseLimits(store, CFG);
    await limits.fail({ dni: '87654321X', address: '10.2.2.2' }, 'password');
    await limits.fail({ dni: '87654321X', address: '10.2.2.2' }, 'password');
    await limits.succeed('87654321X');
    expect((await limits.fail({ dni: '87654321X', address: '10.2.2.3' }, 'password')).blocked).toBe(false);
    // 2 failures before the success + 3 now = the address limit of 5.
    for (let i = 0; i < 3; i++) await limits.fail({ address: '10.2.2.2' }, 'password');
    expect(await limits.check({ address: '10.2.2.2' })).toMatchObject({ blocked: true });
  });

  test('counters live in the store, so a second broker node sees them', async () => {
    if (!pair.sharedStore) return;
    const other = await pair.makeStore();
    const a = new AbuseLimits(store, CFG);
    const b = new AbuseLimits(other, CFG);
    await a.fail({ dni: '11223344B' }, 'pin');
    await b.fail({ dni: '11223344B' }, 'pin');
    await a.fail({ dni: '11223344B' }, 'pin');
    expect(await b.check({ dni: '11223344B' })).toMatchObject({ blocked: true });
  });

  test('store keys carry no DNI or address in clear', async () => {
    if (pair.sharedStore) return; // the memory store's keys are not listable; the key scheme is the same
    const limits = new AbuseLimits(store, CFG);
    await limits.fail({ dni: '55667788M', address: '192.0.2.7' }, 'pin');
    const raw = store as unknown as { entries: Map<string, unknown> };
    const keys = [...raw.entries.keys()].join(' ');
    expect(keys).toContain('abuse:citizen:');
    expect(keys).not.toContain('55667788');
    expect(keys).not.toContain('192.0.2.7');
  });
});
