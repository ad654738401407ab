import { DOMParser } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { SignedXml } from 'xml-crypto';

/**
 * @node-saml/node-saml 5 as an SP of Pasarela: what docs/recipes/node-saml.md shows, used as is
 * by test/interop/node-saml.test.ts. Keep the two in sync.
 *
 * node-saml does not read IdP metadata, so `idpFromMetadata` fetches /metadata's content out
 * of the signed document only, after checking its signature with the metadata-signing
 * certificate (xml-crypto, a node-saml dependency).
 */

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

export interface PasarelaIdp {
  entityId: string;
  ssoRedirect: string;
  ssoPost: string;
  /** base64 DER of every signing certificate (current, and the next one during a rollover). */
  signingCerts: string[];
  validUntil?: Date;
}

/** Check /metadata's enveloped signature with the metadata-signing certificate and read it. */
export function idpFromMetadata(metadataXml: string, metadataSigningCertPem: string, now = new Date()): PasarelaIdp {
  const doc = new DOMParser().parseFromString(metadataXml, 'text/xml');
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== MD || root.localName !== 'EntityDescriptor') throw new Error('not an md:EntityDescriptor');
  const signatures = Array.from(root.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === DS && (n as Element).localName === 'Signature');
  if (signatures.length !== 1) throw new Error('the metadata must carry exactly one enveloped ds:Signature');
  const sig = new SignedXml({ publicCert: metadataSigningCertPem, getCertFromKeyInfo: () => null });
  sig.loadSignature(signatures[0] as unknown as Node);
  let ok = false;
  try {
    ok = sig.checkSignature(metadataXml);
  } catch (err) {
    throw new Error(`metadata signature: ${(err as Error).message}`);
  }
  const signed = sig.getSignedReferences();
  if (!ok || signed.length !== 1) throw new Error('the metadata signature does not verify with the metadata-signing certificate');
  // Read only what was signed (the whole EntityDescriptor, by its ID).
  const md = new DOMParser().parseFromString(signed[0]!, 'text/xml').documentElement!;
  if (md.localName !== 'EntityDescriptor' || md.getAttribute('ID') !== root.getAttribute('ID')) throw new Error('the signature does not cover the EntityDescriptor');
  const validUntil = md.getAttribute('validUntil') ? new Date(md.getAttribute('validUntil')!) : undefined;
  if (validUntil && validUntil <= now) throw new Error(`the metadata expired at ${validUntil.toISOString()}`);
  const idp = md.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0];
  if (!idp) throw new Error('no md:IDPSSODescriptor');
  const signingCerts: string[] = [];
  for (const kd of Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))) {
    const use = kd.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const c of Array.from(kd.getElementsByTagNameNS(DS, 'X509Certificate'))) signingCerts.push((c.textContent ?? '').replace(/\s+/g, ''));
  }
  const sso = (binding: string): string => {
    const el = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService')).find((e) => e.getAttribute('Binding') === binding);
    if (!el) throw new Error(`no SingleSignOnService for ${binding}`);
    return el.getAttribute('Location')!;
  };
  return { entityId: md.getAttribute('entityID')!, ssoRedirect: sso(REDIRECT), ssoPost: sso(POST), signingCerts, validUntil };
}

export interface PasarelaSpOptions {
  idp: PasarelaIdp;
  entityId: string;
  acsUrl: string;
  /** PEM: signs our AuthnRequests. */
  privateKey: string;
  publicCert: string;
  /** PEM: decrypts encrypted assertions (its certificate is in our metadata as use="encryption"). */
  decryptionPvk?: string;
  /** eIDAS LoA: http://eidas.europa.eu/LoA/low | substantial | high */
  loa: string;
  binding: 'HTTP-Redirect' | 'HTTP-POST';
  /** HTTP-POST only: send plain base64 (what Cl@ve SPs send). */
  skipRequestCompression?: boolean;
  cacheProvider: SamlConfig['cacheProvider'];
}

/** The node-saml options (README "For SP developers"). */
export function pasarelaSamlConfig(o: PasarelaSpOptions): SamlConfig {
  return {
    entryPoint: o.binding === 'HTTP-POST' ? o.idp.ssoPost : o.idp.ssoRedirect,
    authnRequestBinding: o.binding,
    skipRequestCompression: o.skipRequestCompression ?? false,
    issuer: o.entityId,
    callbackUrl: o.acsUrl,
    audience: o.entityId,
    idpIssuer: o.idp.entityId,
    idpCert: o.idp.signingCerts,
    privateKey: o.privateKey,
    publicCert: o.publicCert,
    decryptionPvk: o.decryptionPvk,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256', // node-saml's default is SHA-1, which Pasarela refuses
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    authnContext: [o.loa],
    racComparison: 'minimum',
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    validateInResponseTo: ValidateInResponseTo.always,
    cacheProvider: o.cacheProvider,
    acceptedClockSkewMs: 60_000,
  };
}

export function pasarelaSp(o: PasarelaSpOptions): SAML {
  return new SAML(pasarelaSamlConfig(o));
}
