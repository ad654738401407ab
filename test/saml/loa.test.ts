import { LOA, type Comparison, type LoaUri } from '../../src/saml/constants';
import { ALL_LOA_URIS, isKnownLoa, levelUri, loaOutcome, loaRank, satisfiableWithin, uriLevel } from '../../src/saml/loa';

/**
 * Independent oracle, phrased as "which ClassRefs could we truthfully put in the response":
 *   candidates = { c : the achieved authentication proves c  AND  c is acceptable to the request }
 * and the answer is the strongest candidate. It shares no code with src/saml/loa.ts.
 */
const NOTIFIED = ['http://eidas.europa.eu/LoA/low', 'http://eidas.europa.eu/LoA/substantial', 'http://eidas.europa.eu/LoA/high'];
const ord = (u: string): number => NOTIFIED.indexOf(u); // -1 = not on the ladder
const notified = (u: string): boolean => ord(u) >= 0;

function proves(achieved: string, c: string): boolean {
  return c === achieved || (notified(achieved) && notified(c) && ord(c) <= ord(achieved));
}

function acceptable(c: string, comparison: Comparison, requested: string[]): boolean {
  if (!notified(c)) return requested.includes(c);
  const n = requested.filter(notified);
  switch (comparison) {
    case 'exact':
      return requested.includes(c);
    case 'minimum':
      return n.some((r) => ord(c) >= ord(r));
    case 'better':
      return n.length > 0 && n.every((r) => ord(c) > ord(r));
    case 'maximum':
      return n.some((r) => ord(c) <= ord(r));
  }
}

function oracle(achieved: string, comparison: Comparison, requested: string[]): string | null {
  const all = [...NOTIFIED, 'http://eidas.europa.eu/NotNotified/LoA/low', 'http://eidas.europa.eu/NotNotified/LoA/substantial', 'http://eidas.europa.eu/NotNotified/LoA/high'];
  const candidates = all.filter((c) => proves(achieved, c) && acceptable(c, comparison, requested));
  if (candidates.length === 0) return null;
  return candidates.reduce((best, c) => (ord(c) > ord(best) ? c : best));
}

const COMPARISONS: Comparison[] = ['minimum', 'exact', 'better', 'maximum'];
const short = (u: string): string => u.replace('http://eidas.europa.eu/', '').replace('NotNotified/LoA/', 'NN-').replace('LoA/', '');

function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => mask & (1 << i)));
  return out;
}

describe('loaOutcome against the independent oracle', () => {
  const rows: Array<[string, LoaUri, Comparison, LoaUri[]]> = [];
  for (const achieved of ALL_LOA_URIS) {
    for (const comparison of COMPARISONS) {
      for (const requested of subsets(ALL_LOA_URIS)) {
        rows.push([`${short(achieved)} ${comparison} [${requested.map(short).join(',')}]`, achieved, comparison, requested]);
      }
    }
  }
  it('covers every URI x comparison x achieved level x requested set', () => {
    expect(rows).toHaveLength(6 * 4 * 63);
  });
  test.each(rows)('%s', (_name, achieved, comparison, classRefs) => {
    expect(loaOutcome(achieved, { comparison, classRefs })).toBe(oracle(achieved, comparison, classRefs));
  });
});

describe('loaOutcome hand-written cases', () => {
  const { low, substantial, high, nnLow, nnSubstantial, nnHigh } = LOA;
  const cases: Array<[string, LoaUri, Comparison, LoaUri[], LoaUri | null]> = [
    ['minimum: stronger authentication reports the achieved level', high, 'minimum', [substantial], high],
    ['minimum: equal', substantial, 'minimum', [substantial], substantial],
    ['minimum: too weak', low, 'minimum', [substantial], null],
    ['minimum: several refs, weakest counts', substantial, 'minimum', [high, substantial], substantial],
    ['exact: higher authentication proves the requested level, never over-claims', high, 'exact', [substantial], substantial],
    ['exact: equal', low, 'exact', [low], low],
    ['exact: too weak', substantial, 'exact', [high], null],
    ['exact: highest requested level that is met', high, 'exact', [low, substantial], substantial],
    ['exact: skips the unmet level', substantial, 'exact', [low, high], low],
    ['better: strictly stronger', substantial, 'better', [low], substantial],
    ['better: equal is not better', substantial, 'better', [substantial], null],
    ['better: must beat every requested level', high, 'better', [low, substantial], high],
    ['better: nothing beats high', high, 'better', [high], null],
    ['maximum: caps at the strongest requested', high, 'maximum', [substantial], substantial],
    ['maximum: weaker is fine', low, 'maximum', [substantial], low],
    ['maximum: several refs, strongest counts', high, 'maximum', [low, substantial], substantial],
    ['maximum: low request, high auth reports low', high, 'maximum', [low], low],
    ['NotNotified: exact match only', nnSubstantial, 'minimum', [nnSubstantial], nnSubstantial],
    ['NotNotified: not implied by a notified level', substantial, 'minimum', [nnSubstantial], null],
    ['NotNotified: not implied by notified high either', high, 'minimum', [nnLow], null],
    ['NotNotified: no ladder among NN levels', nnHigh, 'minimum', [nnLow], null],
    ['NotNotified: maximum does not cap across the two families', high, 'maximum', [nnHigh], null],
    ['NotNotified achieved never meets a notified request', nnHigh, 'minimum', [low], null],
    ['NotNotified exact match under better', nnLow, 'better', [nnLow], nnLow],
    ['mixed list: NN matched exactly', nnLow, 'minimum', [nnLow, substantial], nnLow],
    ['mixed list: notified part on the ladder', high, 'minimum', [nnLow, substantial], high],
    ['mixed list: better ignores NN in the comparison', substantial, 'better', [low, nnHigh], substantial],
    ['empty request never satisfied', high, 'minimum', [], null],
  ];
  test.each(cases)('%s', (_name, achieved, comparison, classRefs, expected) => {
    expect(loaOutcome(achieved, { comparison, classRefs })).toBe(expected);
  });
});

describe('ladder helpers', () => {
  it('ranks only the notified levels', () => {
    expect([LOA.low, LOA.substantial, LOA.high].map(loaRank)).toEqual([1, 2, 3]);
    expect(loaRank(LOA.nnHigh)).toBeUndefined();
    expect(loaRank('http://eidas.europa.eu/LoA/NotNotified/high')).toBeUndefined();
    expect(loaRank('urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')).toBeUndefined();
  });
  it('knows the six eIDAS URIs and nothing else', () => {
    for (const u of ALL_LOA_URIS) expect(isKnownLoa(u)).toBe(true);
    expect(isKnownLoa('http://eidas.europa.eu/LoA/medium')).toBe(false);
    expect(isKnownLoa('http://eidas.europa.eu/LoA/low ')).toBe(false);
    expect(isKnownLoa('HTTP://EIDAS.EUROPA.EU/LoA/low')).toBe(false);
  });
  it('maps levels to URIs and back', () => {
    for (const l of ['low', 'substantial', 'high'] as const) expect(uriLevel(levelUri(l))).toBe(l);
    expect(uriLevel(LOA.nnLow)).toBeUndefined();
  });
  it('satisfiableWithin checks every level inside the SP policy bounds', () => {
    expect(satisfiableWithin({ minLoa: 'low', maxLoa: 'substantial' }, { comparison: 'minimum', classRefs: [LOA.high] })).toBe(false);
    expect(satisfiableWithin({ minLoa: 'low', maxLoa: 'high' }, { comparison: 'minimum', classRefs: [LOA.high] })).toBe(true);
    expect(satisfiableWithin({ minLoa: 'substantial', maxLoa: 'high' }, { comparison: 'exact', classRefs: [LOA.low] })).toBe(true);
    // maximum [low] with a substantial authentication reports low: satisfiable (the policy bounds what is achieved).
    expect(satisfiableWithin({ minLoa: 'substantial', maxLoa: 'high' }, { comparison: 'maximum', classRefs: [LOA.low] })).toBe(true);
    expect(satisfiableWithin({ minLoa: 'low', maxLoa: 'high' }, { comparison: 'better', classRefs: [LOA.high] })).toBe(false);
    expect(satisfiableWithin({ minLoa: 'low', maxLoa: 'high' }, { comparison: 'minimum', classRefs: [LOA.nnLow] })).toBe(false);
  });
});
