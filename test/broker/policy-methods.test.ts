import path from 'node:path';
import { achievedLoa, methodOptions, variantSatisfies, variantsOf, type LoaPolicy, type Registration, type RequestedLoa } from '../../src/broker/policy';
import { loadConfig } from '../../src/config';
import { LOA, type Comparison, type LoaLevel } from '../../src/saml/constants';
import type { MethodId } from '../../src/saml/types';
import { translator } from '../../src/web/i18n';
import { chooserPage } from '../../src/web/views';

/** The policy the broker really starts with: config/default.json. */
const POLICY: LoaPolicy = loadConfig({ root: path.resolve(__dirname, '../..'), env: {}, overrides: { log: { level: 'silent' } } }).loaPolicy;

const L = 'low';
const S = 'substantial';
const H = 'high';
const req = (level: LoaLevel, comparison: Comparison = 'minimum'): RequestedLoa => ({ comparison, classRefs: [LOA[level]] });

test("the default policy is DESIGN.md's table", () => {
  expect(POLICY).toEqual({
    'pin.sms': { basic: 'low', advanced: 'substantial' },
    'permanente.password': { basic: 'low', advanced: 'low' },
    'permanente.otp': { advanced: 'substantial' },
    'certificate.dnie': { none: 'high' },
    'certificate.qualified': { none: 'substantial' },
  });
});

/**
 * What a citizen with a given registration gets from a method for a request: the variant the
 * method uses (the first in policy order that satisfies it: Permanente tries the password alone
 * before asking for the SMS code) and the AuthnContextClassRef asserted; null = not offered.
 */
function outcome(method: MethodId, reg: Registration, requested: RequestedLoa, floor?: LoaLevel): [string, string] | null {
  for (const variant of variantsOf(POLICY, method)) {
    const classRef = variantSatisfies(POLICY, variant, reg, requested, floor);
    if (classRef) return [variant, classRef];
  }
  return null;
}

describe('method x registration level x requested LoA (minimum) -> variant used and LoA asserted', () => {
  const rows: [MethodId, Registration, LoaLevel, [string, LoaLevel] | null][] = [
    ['pin', 'basic', L, ['pin.sms', L]],
    ['pin', 'basic', S, null],
    ['pin', 'basic', H, null],
    ['pin', 'advanced', L, ['pin.sms', S]], // the real level is asserted, not the requested one
    ['pin', 'advanced', S, ['pin.sms', S]],
    ['pin', 'advanced', H, null],
    ['pin', 'none', L, null], // Cl@ve PIN needs a registration
    ['permanente', 'basic', L, ['permanente.password', L]],
    ['permanente', 'basic', S, null], // a basic registration cannot reach substantial with Permanente
    ['permanente', 'basic', H, null],
    ['permanente', 'advanced', L, ['permanente.password', L]], // no SMS code when the password is enough
    ['permanente', 'advanced', S, ['permanente.otp', S]],
    ['permanente', 'advanced', H, null],
    ['permanente', 'none', L, null],
    ['certificate', 'none', L, ['certificate.dnie', H]],
    ['certificate', 'none', H, ['certificate.dnie', H]],
    ['certificate', 'basic', L, null], // certificates are judged without a registration ('none')
  ];
  test.each(rows)('%s, %s registration, %s requested -> %j', (method, reg, level, expected) => {
    const got = outcome(method, reg, req(level));
    expect(got).toEqual(expected ? [expected[0], LOA[expected[1]]] : null);
    if (expected) expect(achievedLoa(POLICY, expected[0], reg)).toBe(expected[1]);
  });

  test.each([
    ['certificate.dnie', H, H],
    ['certificate.qualified', S, S],
    ['certificate.qualified', H, null],
  ] as const)('%s requested %s -> %s', (variant, level, expected) => {
    expect(variantSatisfies(POLICY, variant, 'none', req(level))).toBe(expected ? LOA[expected] : null);
  });
});

describe('other comparisons and the SP floor', () => {
  test.each([
    ['pin', 'advanced', req(L, 'exact'), LOA.low], // exact: the requested level, never an over-claim
    ['pin', 'advanced', req(S, 'exact'), LOA.substantial],
    ['pin', 'basic', req(L, 'better'), null],
    ['pin', 'advanced', req(L, 'better'), LOA.substantial],
    ['permanente', 'advanced', req(L, 'better'), LOA.substantial], // better than low: only with the code
    ['permanente', 'advanced', req(S, 'maximum'), LOA.low],
    ['permanente', 'basic', req(H, 'maximum'), LOA.low],
  ] as const)('%s, %s registration, %j -> %s', (method, reg, requested, expected) => {
    expect(outcome(method, reg, requested)?.[1] ?? null).toBe(expected);
  });

  test('an SP whose floor is substantial: the password alone never suffices, even for a low request', () => {
    expect(outcome('permanente', 'advanced', req(L), 'substantial')).toEqual(['permanente.otp', LOA.substantial]);
    expect(outcome('permanente', 'basic', req(L), 'substantial')).toBeNull();
    expect(outcome('pin', 'basic', req(L), 'substantial')).toBeNull();
  });
});

describe('the chooser: offered or not, and the advanced-registration hint', () => {
  const methods: MethodId[] = ['pin', 'permanente', 'certificate'];
  test.each([
    [L, { pin: [true, ['basic', 'advanced']], permanente: [true, ['basic', 'advanced']], certificate: [true, ['none']] }],
    [S, { pin: [true, ['advanced']], permanente: [true, ['advanced']], certificate: [true, ['none']] }],
    [H, { pin: [false, []], permanente: [false, []], certificate: [true, ['none']] }],
  ] as const)('requested %s', (level, expected) => {
    const options = methodOptions({ methods, policy: POLICY, requested: req(level), excludedMethods: [] });
    const got = Object.fromEntries(options.map((o) => [o.method, [o.enabled, [...o.registrations].sort()]]));
    expect(got).toEqual(Object.fromEntries(Object.entries(expected).map(([m, [e, r]]) => [m, [e, [...r].sort()]])));

    const page = chooserPage({ lang: 'en', t: translator('en'), path: '/login/x' }, { txnId: 'x', spName: 'SP', requestedLevel: level, options });
    for (const o of options) {
      const item = new RegExp(`value="${o.method}"[^]*?</li>`).exec(page)![0];
      expect(item.includes('Requires an advanced registration.')).toBe(o.enabled && o.registrations.length === 1 && o.registrations[0] === 'advanced');
      expect(item.includes('disabled')).toBe(!o.enabled);
    }
  });
});
