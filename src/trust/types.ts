import type { KeyObject } from 'node:crypto';
import type { LoaLevel, NameIdFormatName, SignatureAlgorithmUri } from '../saml/constants';
import type { AcsEndpoint, MethodId } from '../saml/types';

/** Per-SP policy, set by the operator beside the SP's metadata. */
export interface SpPolicy {
  /** Reject unsigned AuthnRequests (default true; metadata AuthnRequestsSigned="true" forces it). */
  requireSignedRequests: boolean;
  /** Methods this SP accepts; undefined = every configured method. */
  allowedMethods?: MethodId[];
  /** LoA bounds: requests outside them are refused with NoAuthnContext. */
  minLoa: LoaLevel;
  maxLoa: LoaLevel;
  /** Attribute names (URIs) that may be released; undefined = the whole default set. */
  releasedAttributes?: string[];
  /** NameID formats this SP may ask for; the first is used when the request names none or `unspecified`. */
  nameIdFormats: NameIdFormatName[];
  /** Encrypt the assertion (needs an encryption key in the SP's metadata). */
  encryptAssertion: boolean;
  signResponse: boolean;
  signAssertion: boolean;
  /** Algorithm we sign this SP's responses with. */
  signatureAlgorithm: SignatureAlgorithmUri;
  /** Let this SP sign its requests with RSA-SHA1 (off unless an operator opts in). */
  allowSha1: boolean;
  /**
   * Response profile. `eidas`: eIDAS-typed attribute values (`xsi:type="eidas-natural:…"`) and
   * OneTimeUse, as eIDAS stacks expect. `saml`: plain values and no OneTimeUse, which generic
   * SAML stacks (pysaml2, python3-saml, ruby-saml, Shibboleth SP, AD FS) require. `auto`
   * (default): `eidas` for a request that carries eIDAS extensions, `saml` otherwise.
   */
  profile: ResponseProfile;
  /** Put OneTimeUse in the assertion's Conditions; unset = what the profile says (eidas: yes, saml: no). */
  oneTimeUse?: boolean;
}

export type ResponseProfile = 'auto' | 'eidas' | 'saml';

/** A trusted SP as the hot path needs it: metadata parsed once, keys as KeyObjects. */
export interface ServiceProvider {
  entityId: string;
  displayName?: string;
  acs: AcsEndpoint[];
  /** Keys from the SP's metadata (use="signing" or no use); the only keys that verify its requests. */
  signingKeys: KeyObject[];
  /** The SP's encryption certificate (use="encryption" or no use), when its metadata has one. */
  encryptionCert?: { certPem: string; key: KeyObject };
  /** `AuthnRequestsSigned` from the SPSSODescriptor. */
  authnRequestsSigned: boolean;
  /** NameIDFormats the metadata advertises (URIs). */
  metadataNameIdFormats: string[];
  policy: SpPolicy;
  /** End of validity of the metadata (its own validUntil or its aggregate's): after it the SP is not trusted. */
  validUntil?: Date;
}

/** The trust list. One interface; metadata files today, the operator API later. */
export interface TrustRegistry {
  /** O(1) lookup by entityID from a cache kept in memory (flat up to 10,000 SPs). */
  get(entityId: string): ServiceProvider | undefined;
  list(): ServiceProvider[];
  /** Insert or replace an SP from its metadata XML and policy; persisted in the database. */
  upsert(metadataXml: string, policy: Partial<SpPolicy>, source: string): Promise<ServiceProvider>;
  remove(entityId: string): Promise<void>;
  /** Reload the cache from the database. */
  reload(): Promise<void>;
}
