import { achievedLoa, methodOptions, satisfies, variantSatisfies, type LoaPolicy } from '../../src/broker/policy';
import { LOA, type Comparison, type LoaUri } from '../../src/saml/constants';
import { translator } from '../../src/web/i18n';
import { chooserPage } from '../../src/web/views';

/** DESIGN.md's default table. */
const POLICY: LoaPolicy = {
  'pin.sms': { basic: 'low', advanced: 'substantial' },
  'permanente.password': { basic: 'low', advanced: 'low' },
  'permanente.otp': { advanced: 'substantial' },
  'certificate.dnie': { none: 'high' },
  'certificate.qualified': { none: 'substantial' },
};

const req = (comparison: Comparison, ...classRefs: LoaUri[]) => ({ comparison, classRefs });

describe('achievedLoa: method variant x registration level', () => {
  test.each([
    ['pin.sms', 'basic', 'low'],
    ['pin.sms', 'advanced', 'substantial'],
    ['permanente.password', 'basic', 'low'],
    ['permanente.password', 'advanced', 'low'],
    ['permanente.otp', 'basic', null],
    ['permanente.otp', 'advanced', 'substantial'],
    ['certificate.dnie', 'none', 'high'],
    ['certificate.qualified', 'none', 'substantial'],
    ['certificate.dnie', 'basic', null],
    ['unknown.variant', 'advanced', null],
  ] as const)('%s with %s registration -> %s', (variant, reg, expected) => {
    expect(achievedLoa(POLICY, variant, reg)).toBe(expected);
  });

  test('a basic-registered citizen cannot reach substantial with Permanente', () => {
    for (const v of ['permanente.password', 'permanente.otp']) {
      expect(variantSatisfies(POLICY, v, 'basic', req('minimum', LOA.substantial))).toBeNull();
    }
    expect(variantSatisfies(POLICY, 'permanente.otp', 'advanced', req('minimum', LOA.substantial))).toBe(LOA.substantial);
  });
});

describe('methodOptions: what the chooser offers', () => {
  const methods = ['pin', 'permanente', 'certificate'] as const;
  test.each([
    [req('minimum', LOA.low), { pin: true, permanente: true, certificate: true }],
    [req('minimum', LOA.substantial), { pin: true, permanente: true, certificate: true }],
    [req('minimum', LOA.high), { pin: false, permanente: false, certificate: true }],
    [req('exact', LOA.high), { pin: false, permanente: false, certificate: true }],
    [req('better', LOA.substantial), { pin: false, permanente: false, certificate: true }],
    [req('minimum', LOA.nnLow), { pin: false, permanente: false, certificate: false }],
  ])('%j', (requested, expected) => {
    const options = methodOptions({ methods: [...methods], policy: POLICY, requested, excludedMethods: [] });
    expect(Object.fromEntries(options.map((o) => [o.method, o.enabled]))).toEqual(expected);
    for (const o of options) if (!o.enabled) expect(o.reason).toBe('loa_unreachable');
  });

  test('Permanente for substantial is offered only through advanced registration', () => {
    const [perm] = methodOptions({ methods: ['permanente'], policy: POLICY, requested: req('minimum', LOA.substantial), excludedMethods: [] });
    expect(perm).toMatchObject({ enabled: true, registrations: ['advanced'] });
  });

  test('SP policy and Cl@ve exclusion attributes disable methods with their own reason', () => {
    const options = methodOptions({
      methods: [...methods],
      policy: POLICY,
      requested: req('minimum', LOA.low),
      spAllowedMethods: ['pin', 'permanente'],
      excludedMethods: ['pin'],
    });
    expect(options.map((o) => [o.method, o.enabled, o.reason])).toEqual([
      ['pin', false, 'excluded_by_request'],
      ['permanente', true, undefined],
      ['certificate', false, 'excluded_by_sp'],
    ]);
  });
});

describe('the chooser page', () => {
  test('a method that cannot reach the LoA is a disabled button with the reason beside it, in both languages', () => {
    const options = methodOptions({ methods: ['permanente', 'certificate'], policy: POLICY, requested: req('minimum', LOA.high), excludedMethods: [] });
    for (const lang of ['es', 'en'] as const) {
      const page = chooserPage(
        { lang, t: translator(lang), path: '/login/x', csrfToken: 'tok' },
        { txnId: 'x', spName: 'SP <b>', requestedLevel: 'high', options },
      );
      expect(page).toMatch(/<button type="submit" name="method" value="permanente" disabled aria-describedby="reason-permanente">/);
      expect(page).toMatch(/<span class="reason" id="reason-permanente">/);
      expect(page).toMatch(/<button type="submit" name="method" value="certificate">/);
      expect(page).toContain('<input type="hidden" name="_csrf" value="tok">');
      expect(page).toContain('SP &lt;b&gt;');
      expect(page).not.toContain('<script');
    }
    const en = chooserPage({ lang: 'en', t: translator('en'), path: '/login/x' }, { txnId: 'x', spName: 'S', requestedLevel: 'high', options });
    expect(en).toContain('does not reach the high level of assurance');
  });
});

describe("the SP policy's minimum LoA is a floor no request can lower", () => {
  test.each([
    ['low', 'minimum low', undefined, LOA.low],
    ['low', 'minimum low', 'substantial', null],
    ['substantial', 'minimum low', 'substantial', LOA.substantial],
    ['high', 'exact low', 'substantial', LOA.low],
    ['substantial', 'maximum low', 'high', null],
  ] as const)('achieved %s for %s with floor %s -> %s', (level, request, floor, expected) => {
    const [comparison, name] = request.split(' ') as [Comparison, 'low' | 'substantial' | 'high'];
    expect(satisfies(level, req(comparison, LOA[name]), floor)).toBe(expected);
  });

  test('the chooser disables what only reaches a level under the floor', () => {
    const options = methodOptions({ methods: ['permanente', 'certificate'], policy: POLICY, requested: req('minimum', LOA.low), excludedMethods: [], floor: 'high' });
    expect(options.map((o) => [o.method, o.enabled])).toEqual([
      ['permanente', false],
      ['certificate', true],
    ]);
  });
});
