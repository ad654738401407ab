import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import type { DecodedPost, DecodedRedirect } from '../bindings';
import { CLAVE, NAMEID_FORMAT, RELEASABLE_ATTRIBUTES, STATUS, type Comparison, type LoaUri, type NameIdFormatName } from '../constants';
import { isKnownLoa, levelUri, satisfiableWithin } from '../loa';
import type { AcsEndpoint, AuthnRequest, MethodId, RequestedAttribute } from '../types';
import type { ParsedAuthnRequest } from './structure';
import { traced } from './trace';
import type { ReceiveAuthnRequestOptions } from './types';

/** Checks on a request from a trusted SP with a valid ACS: their failures are answered to that ACS. */

/** The Cl@ve 2 IdP-selector attributes: presence excludes the method. */
export const CLAVE_EXCLUSION_ATTRIBUTES: Readonly<Record<string, MethodId>> = {
  [CLAVE.afirmaIdP]: 'certificate',
  [CLAVE.gissIdP]: 'permanente',
  [CLAVE.aeatIdP]: 'pin',
  [CLAVE.eidasIdP]: 'eidas',
  [CLAVE.clvMovilIdP]: 'movil',
};

/** Attributes the broker can release at all (before the SP policy narrows them). */
export const SUPPORTED_ATTRIBUTES = RELEASABLE_ATTRIBUTES;

const NAMEID_BY_URI: Readonly<Record<string, NameIdFormatName>> = {
  [NAMEID_FORMAT.persistent]: 'persistent',
  [NAMEID_FORMAT.transient]: 'transient',
};

export function checkTrustedRequest(
  p: ParsedAuthnRequest,
  decoded: DecodedRedirect | DecodedPost,
  sp: ServiceProvider,
  acs: AcsEndpoint,
  opts: ReceiveAuthnRequestOptions,
): AuthnRequest {
  const t = opts.trace;
  // Each check in order; with a collecting tracer (the self-check) every one runs, the first failure still decides.
  let failure: PasarelaError | undefined;
  const run = <T>(check: string, fn: () => T, fallback: T): T => {
    try {
      return traced(t, check, fn);
    } catch (err) {
      if (!(err instanceof PasarelaError) || !t?.collect) throw err;
      failure ??= err;
      return fallback;
    }
  };

  run('version-and-features', () => {
    const first = p.deferred[0];
    if (first) throw first;
  }, undefined);

  const expectedDestination = opts.ssoUrls[decoded.binding];
  run('destination', () => {
    if (p.destination === undefined) {
      throw new PasarelaError(
        'ERR_REQUEST_DESTINATION_MISSING',
        `AuthnRequest has no Destination attribute; it must be "${expectedDestination}".`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
    if (p.destination !== expectedDestination) {
      throw new PasarelaError(
        'ERR_REQUEST_DESTINATION',
        `AuthnRequest Destination "${p.destination}" is not this endpoint; expected "${expectedDestination}".`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
  }, undefined);

  run('issue-instant', () => {
    const now = opts.now.getTime();
    const skewMs = opts.clockSkewSeconds * 1000;
    const issued = p.issueInstant.getTime();
    if (issued > now + skewMs) {
      throw new PasarelaError(
        'ERR_REQUEST_ISSUE_INSTANT_FUTURE',
        `AuthnRequest IssueInstant ${p.issueInstant.toISOString()} is in the future (now ${opts.now.toISOString()}, ${opts.clockSkewSeconds} s skew allowed); check the SP clock.`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
    if (issued < now - opts.maxRequestAgeSeconds * 1000 - skewMs) {
      throw new PasarelaError(
        'ERR_REQUEST_EXPIRED',
        `AuthnRequest IssueInstant ${p.issueInstant.toISOString()} is older than ${opts.maxRequestAgeSeconds} s (now ${opts.now.toISOString()}); send a fresh request.`,
        { status: STATUS.requester, subStatus: STATUS.requestDenied },
      );
    }
  }, undefined);

  const { nameIdFormat, allowCreate } = run('nameid-policy', () => resolveNameIdPolicy(p, sp), { nameIdFormat: 'unspecified' as NameIdFormatName, allowCreate: true });
  const requestedLoa = run('level-of-assurance', () => resolveRequestedLoa(p, sp), { comparison: 'minimum' as Comparison, classRefs: [] as LoaUri[] });
  const attrs = run('requested-attributes', () => classifyAttributes(p.attributes, sp), { requestedAttributes: [] as RequestedAttribute[], excludedMethods: [] as MethodId[] });
  if (failure) throw failure;

  return {
    id: p.id,
    issuer: p.issuer,
    issueInstant: p.issueInstant,
    destination: p.destination!, // the destination check threw otherwise
    binding: decoded.binding,
    acs,
    ...(p.providerName !== undefined ? { providerName: p.providerName } : {}),
    forceAuthn: p.forceAuthn,
    isPassive: p.isPassive,
    nameIdFormat,
    allowCreate,
    requestedLoa,
    ...(p.spType !== undefined ? { spType: p.spType } : {}),
    eidasExtensions: p.eidasExtensions,
    requestedAttributes: attrs.requestedAttributes,
    excludedMethods: attrs.excludedMethods,
    ...(attrs.claveRelayState !== undefined ? { claveRelayState: attrs.claveRelayState } : {}),
    ...(decoded.relayState !== undefined ? { relayState: decoded.relayState } : {}),
  };
}

function resolveNameIdPolicy(p: ParsedAuthnRequest, sp: ServiceProvider): { nameIdFormat: NameIdFormatName; allowCreate: boolean } {
  const policy = sp.policy.nameIdFormats;
  const fallback: NameIdFormatName = policy[0] ?? 'unspecified';
  const nip = p.nameIdPolicy;
  const invalid = (message: string): PasarelaError =>
    new PasarelaError('ERR_REQUEST_NAMEID_POLICY', message, { status: STATUS.requester, subStatus: STATUS.invalidNameIdPolicy });
  if (!nip) return { nameIdFormat: fallback, allowCreate: true };
  if (nip.spNameQualifier !== undefined && nip.spNameQualifier !== sp.entityId) {
    throw invalid(`NameIDPolicy SPNameQualifier "${nip.spNameQualifier}" is not the requesting SP; affiliations are not supported.`);
  }
  if (nip.format === undefined || nip.format === NAMEID_FORMAT.unspecified) return { nameIdFormat: fallback, allowCreate: nip.allowCreate };
  const name = NAMEID_BY_URI[nip.format];
  if (!name) {
    throw invalid(
      `NameIDPolicy Format "${nip.format}" is not supported; use ${NAMEID_FORMAT.persistent}, ${NAMEID_FORMAT.transient} or ${NAMEID_FORMAT.unspecified}.`,
    );
  }
  if (!policy.includes(name)) {
    throw invalid(`NameIDPolicy Format "${nip.format}" is not enabled for this SP (enabled: ${policy.join(', ') || 'none'}).`);
  }
  return { nameIdFormat: name, allowCreate: nip.allowCreate };
}

function resolveRequestedLoa(p: ParsedAuthnRequest, sp: ServiceProvider): { comparison: Comparison; classRefs: LoaUri[] } {
  const noContext = (code: string, message: string): PasarelaError =>
    new PasarelaError(code, message, { status: STATUS.requester, subStatus: STATUS.noAuthnContext });
  let requested: { comparison: Comparison; classRefs: LoaUri[] };
  if (!p.authnContext) {
    requested = { comparison: 'minimum', classRefs: [levelUri(sp.policy.minLoa)] };
  } else {
    const refs: LoaUri[] = [];
    for (const ref of p.authnContext.classRefs) {
      if (!isKnownLoa(ref)) {
        throw noContext(
          'ERR_REQUEST_UNKNOWN_LOA',
          `AuthnContextClassRef "${ref}" is not a known level of assurance; use http://eidas.europa.eu/LoA/low, /substantial or /high.`,
        );
      }
      refs.push(ref);
    }
    requested = { comparison: p.authnContext.comparison, classRefs: refs };
  }
  if (!satisfiableWithin(sp.policy, requested)) {
    throw noContext(
      'ERR_REQUEST_LOA_UNSATISFIABLE',
      `No level of assurance allowed for this SP (${sp.policy.minLoa} to ${sp.policy.maxLoa}) satisfies Comparison="${requested.comparison}" ` +
        `with ${requested.classRefs.join(', ')}.`,
    );
  }
  return requested;
}

function classifyAttributes(
  attributes: readonly RequestedAttribute[],
  sp: ServiceProvider,
): { requestedAttributes: RequestedAttribute[]; excludedMethods: MethodId[]; claveRelayState?: string } {
  const requestedAttributes: RequestedAttribute[] = [];
  const excludedMethods: MethodId[] = [];
  let claveRelayState: string | undefined;
  const releasable = sp.policy.releasedAttributes
    ? SUPPORTED_ATTRIBUTES.filter((n) => sp.policy.releasedAttributes!.includes(n))
    : SUPPORTED_ATTRIBUTES;
  for (const attr of attributes) {
    const method = CLAVE_EXCLUSION_ATTRIBUTES[attr.name];
    if (method) {
      // Cl@ve 2 IdP selector: its presence excludes the method; isRequired means nothing here.
      if (!excludedMethods.includes(method)) excludedMethods.push(method);
      continue;
    }
    if (attr.name === CLAVE.relayState) {
      const v = attr.values[0];
      if (v !== undefined && v !== '') claveRelayState = v;
      continue;
    }
    if (attr.isRequired && !releasable.includes(attr.name)) {
      throw new PasarelaError(
        'ERR_REQUEST_ATTRIBUTE_UNAVAILABLE',
        `Required attribute "${attr.name}"${attr.friendlyName ? ` (${attr.friendlyName})` : ''} cannot be released to this SP; ` +
          `releasable: ${releasable.join(', ') || 'none'}. Mark it isRequired="false" or ask the operator.`,
        { status: STATUS.responder, subStatus: STATUS.requestDenied },
      );
    }
    requestedAttributes.push(attr);
  }
  return { requestedAttributes, excludedMethods, ...(claveRelayState !== undefined ? { claveRelayState } : {}) };
}
