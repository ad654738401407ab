/** Namespaces, bindings and URIs of the SAML 2.0 / eIDAS / Cl@ve 2 profile we speak. */
export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xenc11: 'http://www.w3.org/2009/xmlenc11#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  xs: 'http://www.w3.org/2001/XMLSchema',
  eidas: 'http://eidas.europa.eu/saml-extensions',
  eidasNatural: 'http://eidas.europa.eu/attributes/naturalperson',
  mdattr: 'urn:oasis:names:tc:SAML:metadata:attribute',
  alg: 'urn:oasis:names:tc:SAML:metadata:algsupport',
  exc14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
} as const;

export const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

export const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  versionMismatch: 'urn:oasis:names:tc:SAML:2.0:status:VersionMismatch',
  authnFailed: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
  noAuthnContext: 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext',
  requestDenied: 'urn:oasis:names:tc:SAML:2.0:status:RequestDenied',
  noPassive: 'urn:oasis:names:tc:SAML:2.0:status:NoPassive',
  invalidNameIdPolicy: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy',
  requestUnsupported: 'urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported',
  invalidAttrNameOrValue: 'urn:oasis:names:tc:SAML:2.0:status:InvalidAttrNameOrValue',
} as const;

export const NAMEID_FORMAT = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  entity: 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity',
} as const;
export type NameIdFormatName = 'persistent' | 'transient' | 'unspecified';

export const CONSENT_OBTAINED = 'urn:oasis:names:tc:SAML:2.0:consent:obtained';
export const CM_BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const ATTRNAME_FORMAT_URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

/** eIDAS levels of assurance. The notified ones are ordered; the NotNotified ones only match exactly. */
export const LOA = {
  low: 'http://eidas.europa.eu/LoA/low',
  substantial: 'http://eidas.europa.eu/LoA/substantial',
  high: 'http://eidas.europa.eu/LoA/high',
  nnLow: 'http://eidas.europa.eu/NotNotified/LoA/low',
  nnSubstantial: 'http://eidas.europa.eu/NotNotified/LoA/substantial',
  nnHigh: 'http://eidas.europa.eu/NotNotified/LoA/high',
} as const;
export type LoaUri = (typeof LOA)[keyof typeof LOA];
/** The three notified levels, which is what authentication methods achieve. */
export type LoaLevel = 'low' | 'substantial' | 'high';
export type Comparison = 'minimum' | 'exact' | 'better' | 'maximum';

export const SIG_ALG = {
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  rsaPssSha256: 'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
  rsaPssSha384: 'http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1',
  rsaPssSha512: 'http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  ecdsaSha384: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384',
  ecdsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
} as const;
export type SignatureAlgorithmUri = (typeof SIG_ALG)[keyof typeof SIG_ALG];

export const DIGEST_ALG = {
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha384: 'http://www.w3.org/2001/04/xmldsig-more#sha384',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
} as const;

export const ENC_ALG = {
  aes256gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  rsaOaep: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
} as const;

/** Cl@ve 2 IdP-selector attributes: presence of the RequestedAttribute EXCLUDES that method. */
export const CLAVE = {
  prefix: 'http://es.minhafp.clave/',
  afirmaIdP: 'http://es.minhafp.clave/AFirmaIdP',
  gissIdP: 'http://es.minhafp.clave/GISSIdP',
  aeatIdP: 'http://es.minhafp.clave/AEATIdP',
  eidasIdP: 'http://es.minhafp.clave/EIDASIdP',
  clvMovilIdP: 'http://es.minhafp.clave/CLVMOVILIdP',
  relayState: 'http://es.minhafp.clave/RelayState',
  firstSurname: 'http://es.minhafp.clave/FirstSurname',
  selectedIdP: 'http://es.minhafp.clave/SelectedIdP',
  registerType: 'http://es.minhafp.clave/RegisterType',
} as const;

export const EIDAS_ATTR = {
  personIdentifier: 'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier',
  currentGivenName: 'http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName',
  currentFamilyName: 'http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName',
  dateOfBirth: 'http://eidas.europa.eu/attributes/naturalperson/DateOfBirth',
} as const;

/** Attributes the broker can release at all, in assertion order (SP policies narrow this). */
export const RELEASABLE_ATTRIBUTES: readonly string[] = [
  EIDAS_ATTR.personIdentifier,
  EIDAS_ATTR.currentGivenName,
  EIDAS_ATTR.currentFamilyName,
  EIDAS_ATTR.dateOfBirth,
  CLAVE.firstSurname,
  CLAVE.selectedIdP,
  CLAVE.registerType,
];

/** Entity attribute carrying the LoAs we support in our metadata. */
export const ASSURANCE_CERTIFICATION = 'urn:oasis:names:tc:SAML:attribute:assurance-certification';
