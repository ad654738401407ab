import { OneTimeCodes } from '../../src/authn/pin/codes';
import { otpConfigSchema } from '../../src/authn/pin/config';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';
import { testClock } from '../pin/support';

const RULES = otpConfigSchema.parse({}).pin;
let seq = 0;
const txn = () => `txn${Date.now().toString(36)}${(seq++).toString(36)}padpadpad`;

test('defaults: PIN 10 min, OTP 5 min, 3 tries, 60 s between sends, 6 digits; abuse limits set', () => {
  const d = otpConfigSchema.parse({});
  expect(d.pin).toEqual({ ttlSeconds: 600, maxAttempts: 3, resendSeconds: 60, length: 6 });
  expect(d.otp).toEqual({ ttlSeconds: 300, maxAttempts: 3, resendSeconds: 60, length: 6 });
  expect(d.abuse).toEqual({ windowSeconds: 900, maxFailuresPerCitizen: 10, maxFailuresPerAddress: 50 });
  expect(() => otpConfigSchema.parse({ pin: { length: 4 } })).toThrow();
  expect(() => otpConfigSchema.parse({ pin: { ttl: 5 } })).toThrow();
});

describeEachPair('one-time codes', (pair) => {
  let store: KeyValueStore;
  const clock = testClock();
  let codes: OneTimeCodes;

  beforeAll(async () => {
    store = await pair.makeStore();
    codes = new OneTimeCodes(store, clock.now);
  });
  afterEach(() => clock.reset());

  async function issue(id: string, subject = 'citizen-1') {
    const out = await codes.issue(id, 'pin', RULES, subject);
    if (!out.ok) throw new Error(`not issued: ${out.reason}`);
    return out;
  }

  test('six digits from the CSPRNG, stored hashed, valid 10 minutes by the broker clock', async () => {
    const id = txn();
    const { code, expiresAt } = await issue(id);
    expect(code).toMatch(/^\d{6}$/);
    expect(expiresAt.getTime() - clock.now().getTime()).toBeGreaterThan(599_000);
    const stored = await store.get(`code:pin:${id}`);
    expect(stored).not.toBeNull();
    expect(stored).not.toContain(code);
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-1')).toEqual({ ok: true });
  });

  test('single use: a correct code works once', async () => {
    const id = txn();
    const { code } = await issue(id);
    expect((await codes.check(id, 'pin', RULES, code, 'citizen-1')).ok).toBe(true);
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-1')).toEqual({ ok: false, reason: 'missing' });
  });

  test('of two concurrent correct tries exactly one succeeds', async () => {
    const id = txn();
    const { code } = await issue(id);
    const results = await Promise.all([1, 2, 3].map(() => codes.check(id, 'pin', RULES, code, 'citizen-1')));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  test('expiry by the injected clock, with no sleeping', async () => {
    const [a, b] = [txn(), txn()];
    const codeA = (await issue(a)).code;
    const codeB = (await issue(b)).code;
    clock.advance(599_000);
    expect(await codes.check(a, 'pin', RULES, codeA, 'citizen-1')).toEqual({ ok: true });
    clock.advance(2_000);
    expect(await codes.check(b, 'pin', RULES, codeB, 'citizen-1')).toEqual({ ok: false, reason: 'expired' });
    clock.reset();
    // Gone for good, even when the clock is set back.
    expect(await codes.check(b, 'pin', RULES, codeB, 'citizen-1')).toEqual({ ok: false, reason: 'missing' });
  });

  test('three wrong tries invalidate the code; the right one is refused afterwards', async () => {
    const id = txn();
    const { code } = await issue(id);
    const wrong = code === '000000' ? '111111' : '000000';
    expect(await codes.check(id, 'pin', RULES, wrong, 'citizen-1')).toEqual({ ok: false, reason: 'wrong', remaining: 2 });
    expect(await codes.check(id, 'pin', RULES, wrong, 'citizen-1')).toEqual({ ok: false, reason: 'wrong', remaining: 1 });
    expect(await codes.check(id, 'pin', RULES, wrong, 'citizen-1')).toEqual({ ok: false, reason: 'exhausted' });
    expect((await codes.check(id, 'pin', RULES, code, 'citizen-1')).ok).toBe(false);
  });

  test('the right code on the third try still works', async () => {
    const id = txn();
    const { code } = await issue(id);
    const wrong = code === '000000' ? '111111' : '000000';
    await codes.check(id, 'pin', RULES, wrong, 'citizen-1');
    await codes.check(id, 'pin', RULES, wrong, 'citizen-1');
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-1')).toEqual({ ok: true });
  });

  test('parallel guesses cannot exceed the try limit', async () => {
    const id = txn();
    const { code } = await issue(id);
    const guesses = Array.from({ length: 12 }, (_, i) => String(i).padStart(6, '0')).filter((g) => g !== code);
    const results = await Promise.all(guesses.map((g) => codes.check(id, 'pin', RULES, g, 'citizen-1')));
    expect(results.filter((r) => !r.ok && r.reason === 'wrong').length).toBeLessThanOrEqual(2);
    expect((await codes.check(id, 'pin', RULES, code, 'citizen-1')).ok).toBe(false);
  });

  test('a malformed entry is refused without using up a try', async () => {
    const id = txn();
    const { code } = await issue(id);
    for (const bad of ['12345', '1234567', 'abcdef', '']) {
      expect(await codes.check(id, 'pin', RULES, bad, 'citizen-1')).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(await codes.check(id, 'pin', RULES, ` ${code.slice(0, 3)} ${code.slice(3)} `, 'citizen-1')).toEqual({ ok: true });
  });

  test('a code is bound to the citizen it was sent to and to its transaction', async () => {
    const id = txn();
    const { code } = await issue(id, 'citizen-1');
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-2')).toEqual({ ok: false, reason: 'missing' });
    expect(await codes.check(txn(), 'pin', RULES, code, 'citizen-1')).toEqual({ ok: false, reason: 'missing' });
    expect(await codes.check(id, 'otp', RULES, code, 'citizen-1')).toEqual({ ok: false, reason: 'missing' });
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-1')).toEqual({ ok: true });
  });

  test('a new code cannot be requested within 60 s; after that it replaces the old one', async () => {
    const id = txn();
    const first = await issue(id);
    clock.advance(30_000);
    expect(await codes.issue(id, 'pin', RULES, 'citizen-1')).toEqual({ ok: false, reason: 'too_soon', retryAfterSeconds: 30 });
    clock.advance(30_000);
    const second = await issue(id);
    expect(await codes.issue(id, 'pin', RULES, 'citizen-1')).toMatchObject({ ok: false, reason: 'too_soon' });
    if (first.code !== second.code) {
      expect((await codes.check(id, 'pin', RULES, first.code, 'citizen-1')).ok).toBe(false);
    }
    expect(await codes.check(id, 'pin', RULES, second.code, 'citizen-1')).toEqual({ ok: true });
  });

  test('a re-issued code gets a fresh set of tries', async () => {
    const id = txn();
    const first = await issue(id);
    const wrong = first.code === '000000' ? '111111' : '000000';
    await codes.check(id, 'pin', RULES, wrong, 'citizen-1');
    await codes.check(id, 'pin', RULES, wrong, 'citizen-1');
    clock.advance(61_000);
    const second = await issue(id);
    const wrong2 = second.code === '000000' ? '111111' : '000000';
    expect(await codes.check(id, 'pin', RULES, wrong2, 'citizen-1')).toEqual({ ok: false, reason: 'wrong', remaining: 2 });
  });

  test('discard forgets the code and lets a new one be sent at once', async () => {
    const id = txn();
    const { code } = await issue(id);
    await codes.discard(id, 'pin');
    expect(await codes.check(id, 'pin', RULES, code, 'citizen-1')).toEqual({ ok: false, reason: 'missing' });
    expect((await codes.issue(id, 'pin', RULES, 'citizen-1')).ok).toBe(true);
  });
});
