import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { randomIdBytes } from '../random';
import type { AuthnResult } from '../authn/types';
import { CLAVE, EIDAS_ATTR } from '../saml/constants';
import type { AttributeValueOut, RequestedAttribute } from '../saml/types';

export interface AttributeContext {
  subject: AuthnResult['subject'];
  selectedIdP: string;
  claveRelayState?: string;
  requested: RequestedAttribute[];
  /** The SP policy's list, when it narrows the default set. */
  policyReleased?: string[];
}

/** Every attribute we know for this subject (before release filtering). */
function available(ctx: AttributeContext): AttributeValueOut[] {
  const s = ctx.subject;
  const family = [s.firstSurname, s.secondSurname].filter((x): x is string => !!x).join(' ');
  const out: AttributeValueOut[] = [
    { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', eidasType: 'PersonIdentifierType', values: [`ES/ES/${s.dni}`] },
    { name: EIDAS_ATTR.currentGivenName, friendlyName: 'FirstName', eidasType: 'CurrentGivenNameType', values: [s.givenName] },
    { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', eidasType: 'CurrentFamilyNameType', values: [family] },
  ];
  if (s.dateOfBirth) out.push({ name: EIDAS_ATTR.dateOfBirth, friendlyName: 'DateOfBirth', eidasType: 'DateOfBirthType', values: [s.dateOfBirth] });
  out.push({ name: CLAVE.firstSurname, friendlyName: 'FirstSurname', values: [s.firstSurname] });
  out.push({ name: CLAVE.selectedIdP, friendlyName: 'SelectedIdP', values: [ctx.selectedIdP] });
  if (s.registrationLevel) out.push({ name: CLAVE.registerType, friendlyName: 'RegisterType', values: [s.registrationLevel] });
  return out;
}

/**
 * What goes into the assertion: the SP policy's set (default: everything), narrowed to what the
 * request asked for when it asked for data attributes (eIDAS data minimisation). SelectedIdP is
 * always sent and the Cl@ve RelayState attribute is always echoed. Returns the names of required
 * attributes that cannot be released, which the caller turns into Responder/RequestDenied.
 */
export function releaseAttributes(ctx: AttributeContext): { attributes: AttributeValueOut[]; missingRequired: string[] } {
  const all = available(ctx);
  const policy = ctx.policyReleased ? new Set(ctx.policyReleased) : undefined;
  const requested = new Set(ctx.requested.map((r) => r.name));
  const attributes = all.filter((a) => {
    if (a.name === CLAVE.selectedIdP) return true;
    if (policy && !policy.has(a.name)) return false;
    return requested.size === 0 || requested.has(a.name);
  });
  if (ctx.claveRelayState !== undefined) attributes.push({ name: CLAVE.relayState, friendlyName: 'RelayState', values: [ctx.claveRelayState] });
  const released = new Set(attributes.map((a) => a.name));
  const missingRequired = ctx.requested.filter((r) => r.isRequired && !released.has(r.name)).map((r) => r.name);
  return { attributes, missingRequired };
}

/** Persistent pairwise NameID: stable per (SP, person), unlinkable across SPs, never the DNI itself. */
export function pairwiseId(secret: string, spEntityId: string, dni: string): string {
  return createHmac('sha256', hmacKey(secret)).update(`${spEntityId}\u0000${dni}`).digest('base64url');
}

// The HMAC key as a KeyObject, made once per secret (a string key is copied into a new one on every call).
let lastKey: { secret: string; key: KeyObject } | undefined;
function hmacKey(secret: string): KeyObject {
  if (lastKey?.secret !== secret) lastKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return lastKey.key;
}

export function transientId(): string {
  return `_${randomIdBytes(20).toString('hex')}`;
}
