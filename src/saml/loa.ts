import { LOA, type Comparison, type LoaLevel, type LoaUri } from './constants';

/**
 * eIDAS levels of assurance and the four SAML comparison operators (SAML core §3.3.2.2.1).
 * Pure functions: no I/O, no policy lookups.
 *
 * The notified levels form the ladder low < substantial < high. The NotNotified URIs
 * (`http://eidas.europa.eu/NotNotified/LoA/*`) sit outside it: they only ever match exactly.
 */

const LADDER: Readonly<Record<string, number>> = {
  [LOA.low]: 1,
  [LOA.substantial]: 2,
  [LOA.high]: 3,
};

const LEVEL_URI: Readonly<Record<LoaLevel, LoaUri>> = {
  low: LOA.low,
  substantial: LOA.substantial,
  high: LOA.high,
};

const URI_LEVEL: Readonly<Record<string, LoaLevel>> = {
  [LOA.low]: 'low',
  [LOA.substantial]: 'substantial',
  [LOA.high]: 'high',
};

const KNOWN: ReadonlySet<string> = new Set<string>(Object.values(LOA));

/** Every LoA URI we understand, notified first. */
export const ALL_LOA_URIS: readonly LoaUri[] = Object.values(LOA);

export function isKnownLoa(uri: string): uri is LoaUri {
  return KNOWN.has(uri);
}

/** Rank on the notified ladder (low 1, substantial 2, high 3); undefined for NotNotified and unknown URIs. */
export function loaRank(uri: string): number | undefined {
  return LADDER[uri];
}

export function levelUri(level: LoaLevel): LoaUri {
  return LEVEL_URI[level];
}

/** The notified level of a URI; undefined for NotNotified and unknown URIs. */
export function uriLevel(uri: string): LoaLevel | undefined {
  return URI_LEVEL[uri];
}

/**
 * The AuthnContextClassRef to put in the response when `achieved` was reached for a request
 * with `requested`, or null when the achieved level does not satisfy the request.
 *
 * - minimum: achieved ≥ the weakest requested level → the achieved URI (DESIGN: say the real one).
 * - exact:   achieved ≥ some requested level → the highest requested level achieved meets
 *            (never over-claim; a stronger authentication also proves a weaker level).
 * - better:  achieved strictly stronger than every requested level → the achieved URI.
 * - maximum: min(achieved, strongest requested) — a level no higher than requested.
 * NotNotified URIs are satisfied only by an achieved URI equal to one of them, whatever the
 * comparison; they take no part in the ladder arithmetic.
 */
export function loaOutcome(achieved: LoaUri, requested: { comparison: Comparison; classRefs: readonly LoaUri[] }): LoaUri | null {
  const { comparison, classRefs } = requested;
  const achievedRank = loaRank(achieved);
  if (achievedRank === undefined) {
    // A NotNotified (or unknown) achieved level only matches itself.
    return classRefs.includes(achieved) ? achieved : null;
  }
  let weakest = Infinity;
  let strongest = -Infinity;
  let bestMet = -Infinity;
  for (const ref of classRefs) {
    const r = loaRank(ref);
    if (r === undefined) continue;
    if (r < weakest) weakest = r;
    if (r > strongest) strongest = r;
    if (r <= achievedRank && r > bestMet) bestMet = r;
  }
  if (strongest === -Infinity) return null; // only NotNotified levels requested
  switch (comparison) {
    case 'minimum':
      return achievedRank >= weakest ? achieved : null;
    case 'exact':
      return bestMet === -Infinity ? null : rankUri(bestMet);
    case 'better':
      return achievedRank > strongest ? achieved : null;
    case 'maximum':
      return rankUri(Math.min(achievedRank, strongest));
    default:
      return null;
  }
}

function rankUri(rank: number): LoaUri {
  return rank >= 3 ? LOA.high : rank === 2 ? LOA.substantial : LOA.low;
}

/** Does some level in [min, max] (inclusive, on the notified ladder) satisfy the request? */
export function satisfiableWithin(
  bounds: { minLoa: LoaLevel; maxLoa: LoaLevel },
  requested: { comparison: Comparison; classRefs: readonly LoaUri[] },
): boolean {
  const lo = LADDER[LEVEL_URI[bounds.minLoa]]!;
  const hi = LADDER[LEVEL_URI[bounds.maxLoa]]!;
  for (let r = lo; r <= hi; r++) if (loaOutcome(rankUri(r), requested) !== null) return true;
  return false;
}
