import type { RegistrationLevel } from '../citizens/types';
import type { Comparison, LoaLevel, LoaUri } from '../saml/constants';
import { levelUri, loaOutcome } from '../saml/loa';
import type { MethodId } from '../saml/types';

/**
 * The LoA policy as data: method variant ("permanente.password", "pin.sms", "certificate.dnie")
 * × registration level ("none" = no Cl@ve registration needed) → the LoA it reaches, or null/absent
 * when that combination is not offered. DESIGN.md's table is the default in config/default.json.
 */
export type Registration = RegistrationLevel | 'none';
export type LoaPolicy = Record<string, Partial<Record<Registration, LoaLevel | null>>>;

/** The one function that says what LoA a successful authentication achieved. */
export function achievedLoa(policy: LoaPolicy, variant: string, registration: Registration): LoaLevel | null {
  return policy[variant]?.[registration] ?? null;
}

export function variantsOf(policy: LoaPolicy, method: MethodId): string[] {
  return Object.keys(policy).filter((v) => v.startsWith(`${method}.`));
}

export interface RequestedLoa {
  comparison: Comparison;
  classRefs: LoaUri[];
}

const RANK: Record<LoaLevel, number> = { low: 1, substantial: 2, high: 3 };

/**
 * Does an authentication at `level` satisfy the request, and the SP policy's floor (`minLoa`)?
 * Returns the AuthnContextClassRef to assert, or null. The one check used by the chooser, the
 * methods, session reuse and response building.
 */
export function satisfies(level: LoaLevel, requested: RequestedLoa, floor?: LoaLevel): LoaUri | null {
  if (floor && RANK[level] < RANK[floor]) return null;
  return loaOutcome(levelUri(level), requested);
}

/** Can this variant, for this registration level, satisfy the request? Returns the ClassRef to assert. */
export function variantSatisfies(
  policy: LoaPolicy,
  variant: string,
  registration: Registration,
  requested: RequestedLoa,
  floor?: LoaLevel,
): LoaUri | null {
  const level = achievedLoa(policy, variant, registration);
  return level ? satisfies(level, requested, floor) : null;
}

export type UnavailableReason = 'not_enabled' | 'excluded_by_sp' | 'excluded_by_request' | 'loa_unreachable';

export interface MethodOption {
  method: MethodId;
  enabled: boolean;
  reason?: UnavailableReason;
  /** Registration levels with which the method reaches the request (a hint such as "advanced registration needed"). */
  registrations: Registration[];
}

export interface EligibilityInput {
  /** Methods shown on the chooser, in display order (configured methods). */
  methods: MethodId[];
  policy: LoaPolicy;
  requested: RequestedLoa;
  spAllowedMethods?: MethodId[];
  excludedMethods: MethodId[];
  /** The SP policy's minimum LoA, which no request can lower. */
  floor?: LoaLevel;
}

/**
 * Every configured method with whether it can be used for this request and, if not, why.
 * A method is offered when some variant at some registration level reaches the requested LoA;
 * the method itself then checks the citizen's actual registration.
 */
export function methodOptions(input: EligibilityInput): MethodOption[] {
  return input.methods.map((method) => {
    const registrations = reachingRegistrations(input.policy, method, input.requested, input.floor);
    if (input.spAllowedMethods && !input.spAllowedMethods.includes(method)) {
      return { method, enabled: false, reason: 'excluded_by_sp', registrations };
    }
    if (input.excludedMethods.includes(method)) return { method, enabled: false, reason: 'excluded_by_request', registrations };
    if (registrations.length === 0) return { method, enabled: false, reason: 'loa_unreachable', registrations };
    return { method, enabled: true, registrations };
  });
}

function reachingRegistrations(policy: LoaPolicy, method: MethodId, requested: RequestedLoa, floor?: LoaLevel): Registration[] {
  const out = new Set<Registration>();
  for (const variant of variantsOf(policy, method)) {
    for (const reg of ['none', 'basic', 'advanced'] as const) {
      if (variantSatisfies(policy, variant, reg, requested, floor)) out.add(reg);
    }
  }
  return [...out];
}
