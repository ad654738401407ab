import type { Broker } from '../broker/broker';
import { responseProfile } from '../broker/broker';
import { intakeOptions, type IntakeDeps } from '../broker/intake';
import { PasarelaError } from '../errors';
import { receiveAuthnRequest, type IntakeCheck, type ReceiveMessage } from '../saml/request';
import { uriLevel } from '../saml/loa';
import type { MethodId } from '../saml/types';

/**
 * Onboarding self-check: an operator (or an SP developer, through the operator) hands in one
 * sample AuthnRequest as the SP would send it, and gets back, check by check, what passes and
 * fails and why. It runs the SSO endpoint's own intake (`receiveAuthnRequest` with the same
 * options, intakeOptions), so it can never disagree with the endpoint; only the replay cache is
 * looked at instead of written, so a sample can be checked and still be sent for real. The
 * checks the SP is answered to all run, so one report lists every problem of a trusted request.
 */

/** The intake's checks in the order they run (a check after the first stage-1 failure is not reached). */
export const INTAKE_CHECKS = [
  'binding',
  'xml',
  'document',
  'issuer',
  'trust-list',
  'signature',
  'structure',
  'acs',
  'version-and-features',
  'destination',
  'issue-instant',
  'nameid-policy',
  'level-of-assurance',
  'requested-attributes',
  'replay',
] as const;

export interface SelfCheckReport {
  /** Whether the SSO endpoint would take this request and start a login. */
  accepted: boolean;
  /** What the endpoint would answer: a login (chooser or SSO), a signed SAML error to the ACS, or an error page. */
  answer: 'login' | 'saml-error' | 'error-page';
  checks: Array<IntakeCheck & { reached: boolean }>;
  /** When accepted: what the login would look like. */
  outcome?: {
    acs: string;
    nameIdFormat: string;
    requestedLoa: string;
    methods: Array<{ method: MethodId; offered: boolean; reason?: string }>;
    profile: 'eidas' | 'saml';
    oneTimeUse: boolean;
    encryptedAssertion: boolean;
  };
  /** When refused: the code and the message the endpoint would show or send. */
  refusal?: { code: string; message: string; status: string; subStatus?: string };
}

/** A sample as it would arrive: a Redirect URL or query string, or a POST body or bare base64 SAMLRequest. */
export function sampleMessage(binding: 'redirect' | 'post', sample: string): ReceiveMessage {
  const s = sample.trim();
  if (binding === 'redirect') {
    const q = s.indexOf('?');
    return { binding, rawQuery: q >= 0 ? s.slice(q + 1) : s };
  }
  if (s.includes('SAMLRequest=')) return { binding, form: Object.fromEntries(new URLSearchParams(s)) };
  return { binding, form: { SAMLRequest: s } };
}

export async function selfCheck(
  deps: IntakeDeps & { broker: Pick<Broker, 'optionsFor'> },
  expectedEntityId: string,
  binding: 'redirect' | 'post',
  sample: string,
): Promise<SelfCheckReport> {
  const seen: IntakeCheck[] = [];
  const result = await receiveAuthnRequest(sampleMessage(binding, sample), intakeOptions(deps, 'check', { step: (c) => seen.push(c), collect: true }));
  const checks = INTAKE_CHECKS.map((name) => {
    const c = seen.find((x) => x.check === name);
    return c ? { ...c, reached: true } : { check: name, ok: false, reached: false };
  });
  if (!result.ok) {
    const f = result.failure;
    return {
      accepted: false,
      answer: f.respondTo ? 'saml-error' : 'error-page',
      checks,
      refusal: { code: f.code, message: f.message, status: f.status, ...(f.subStatus ? { subStatus: f.subStatus } : {}) },
    };
  }
  const { request, sp } = result;
  if (sp.entityId !== expectedEntityId) {
    throw new PasarelaError('ERR_SELFCHECK_ISSUER', `the sample's Issuer is "${sp.entityId}", not "${expectedEntityId}"; check the sample against its own SP`);
  }
  const profile = responseProfile(sp.policy, request);
  return {
    accepted: true,
    answer: 'login',
    checks,
    outcome: {
      acs: request.acs.location,
      nameIdFormat: request.nameIdFormat,
      requestedLoa: `${request.requestedLoa.comparison} ${request.requestedLoa.classRefs.map((u) => uriLevel(u) ?? u).join(' ')}`,
      methods: deps.broker.optionsFor(request, sp).map((o) => ({ method: o.method, offered: o.enabled, ...(o.reason ? { reason: o.reason } : {}) })),
      profile: profile.eidas ? 'eidas' : 'saml',
      oneTimeUse: profile.oneTimeUse,
      encryptedAssertion: !!(sp.policy.encryptAssertion && sp.encryptionCert),
    },
  };
}
