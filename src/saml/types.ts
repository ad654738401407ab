import type { KeyObject } from 'node:crypto';
import type { Comparison, LoaLevel, LoaUri, NameIdFormatName, SignatureAlgorithmUri } from './constants';

/** An AssertionConsumerService endpoint listed in an SP's metadata. */
export interface AcsEndpoint {
  index: number;
  binding: string;
  location: string;
  isDefault: boolean;
}

export interface RequestedAttribute {
  name: string;
  friendlyName?: string;
  isRequired: boolean;
  values: string[];
}

/** Authentication methods the broker knows (the chooser's `method` values). */
export type MethodId = 'pin' | 'permanente' | 'certificate' | 'eidas' | 'movil';

/** An AuthnRequest after every check in `validateAuthnRequest` passed. Only data read from the verified node. */
export interface AuthnRequest {
  id: string;
  issuer: string;
  issueInstant: Date;
  destination: string;
  binding: 'redirect' | 'post';
  /** The ACS chosen and validated against the SP's metadata. */
  acs: AcsEndpoint;
  providerName?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdFormat: NameIdFormatName;
  allowCreate: boolean;
  /** Requested LoA; absent RequestedAuthnContext means `minimum` of the SP policy's minimum (or low). */
  requestedLoa: { comparison: Comparison; classRefs: LoaUri[] };
  spType?: 'public' | 'private';
  /** The request carried eidas:SPType or eidas:RequestedAttributes: the SP speaks eIDAS (response profile `auto`). */
  eidasExtensions: boolean;
  requestedAttributes: RequestedAttribute[];
  /** Methods excluded by the Cl@ve IdP-selector attributes present in the request. */
  excludedMethods: MethodId[];
  /** Value of the Cl@ve `RelayState` RequestedAttribute, echoed back as an attribute. */
  claveRelayState?: string;
  /** The binding-level RelayState (≤ 80 bytes), echoed back in the POST form. */
  relayState?: string;
}

/** Outcome of a failed request check. `respond` says whether an error Response may be sent to the SP. */
export interface SamlRequestFailure {
  code: string;
  message: string;
  status: string;
  subStatus?: string;
  /** Set when the SP and the ACS are trusted, so a SAML error Response may be posted there. */
  respondTo?: { spEntityId: string; acs: AcsEndpoint; inResponseTo: string; relayState?: string };
}

/** A private key we sign with, already parsed. */
export interface SigningKey {
  key: KeyObject;
  certPem: string;
  /** base64 DER of the certificate, as it goes into KeyInfo / metadata. */
  certB64: string;
}

/** One released attribute. */
export interface AttributeValueOut {
  name: string;
  friendlyName: string;
  /** xsi:type in the eidas-natural namespace, e.g. `CurrentGivenNameType`; omitted for Cl@ve attributes. */
  eidasType?: string;
  values: string[];
}

/** Everything the response builder needs; it performs no policy decisions itself. */
export interface ResponseInput {
  issuer: string;
  destination: string;
  inResponseTo: string;
  audience: string;
  now: Date;
  assertionLifetimeSeconds: number;
  nameId: { format: NameIdFormatName; value: string; spNameQualifier?: string; nameQualifier?: string };
  authnInstant: Date;
  sessionIndex: string;
  achievedLoa: LoaUri;
  attributes: AttributeValueOut[];
  oneTimeUse: boolean;
  clientAddress?: string;
}

export interface SigningOptions {
  key: SigningKey;
  algorithm: SignatureAlgorithmUri;
  signResponse: boolean;
  signAssertion: boolean;
  /** The SP's encryption certificate when the assertion must be encrypted. */
  encryptTo?: { certPem: string; key: KeyObject };
}

export type { LoaLevel, LoaUri, Comparison, NameIdFormatName, SignatureAlgorithmUri };
