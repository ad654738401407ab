import { PasarelaError } from '../errors';
import { digestUriFor, keyFits, signatureAlgorithm } from './algorithms';
import {
  ASSURANCE_CERTIFICATION,
  ATTRNAME_FORMAT_URI,
  BINDING,
  ENC_ALG,
  NS,
  SIG_ALG,
  type LoaUri,
  type SignatureAlgorithmUri,
} from './constants';
import { newSamlId, samlInstant } from './response';
import { signCanonical, wireForm } from './sign';
import type { SigningKey } from './types';
import { escapeAttr, escapeText, NOT_XML_CHAR } from './xml';

/**
 * Our IdP metadata (`/metadata`), as a signed template in exclusive-c14n form (see sign.ts).
 *
 * EntityDescriptor(ID, cacheDuration, entityID, validUntil)
 *   ds:Signature
 *   md:Extensions: alg:DigestMethod*, alg:SigningMethod* (SAML V2.0 Metadata Profile for
 *     Algorithm Support), mdattr:EntityAttributes with the
 *     urn:oasis:names:tc:SAML:attribute:assurance-certification attribute listing our LoAs
 *   md:IDPSSODescriptor(WantAuthnRequestsSigned="true", protocolSupportEnumeration)
 *     md:KeyDescriptor use="signing" per signing certificate (current, then next: rollover)
 *     md:KeyDescriptor use="encryption" (+ md:EncryptionMethod aes256-gcm, rsa-oaep-mgf1p)
 *     md:NameIDFormat*
 *     md:SingleSignOnService HTTP-Redirect, HTTP-POST
 *   md:Organization?
 */

export interface IdpMetadataOptions {
  entityId: string;
  ssoUrls: { redirect: string; post: string };
  /** base64 DER, current first, then the next key being rolled in. */
  signingCerts: string[];
  /** base64 DER, current first, then the next one during an encryption-key rollover. */
  encryptionCerts: string[];
  validUntil: Date;
  cacheDurationSeconds?: number;
  loas: LoaUri[];
  nameIdFormats: string[];
  organization?: { name: string; displayName: string; url: string; lang?: string };
  /** Signature algorithms advertised; default: every allowed one that fits the signing key's type. */
  signingMethods?: SignatureAlgorithmUri[];
}

const SAML2_PROTOCOL = NS.samlp;
const DEFAULT_RSA_METHODS: SignatureAlgorithmUri[] = [
  SIG_ALG.rsaSha256,
  SIG_ALG.rsaSha384,
  SIG_ALG.rsaSha512,
  SIG_ALG.rsaPssSha256,
  SIG_ALG.rsaPssSha384,
  SIG_ALG.rsaPssSha512,
];
const DEFAULT_EC_METHODS: SignatureAlgorithmUri[] = [SIG_ALG.ecdsaSha256, SIG_ALG.ecdsaSha384, SIG_ALG.ecdsaSha512];

function clean(s: string, what: string): string {
  if (typeof s !== 'string' || s === '' || NOT_XML_CHAR.test(s)) {
    throw new PasarelaError('ERR_METADATA_VALUE', `metadata ${what} is empty or contains a character XML cannot carry`);
  }
  return s;
}
const text = (s: string, what: string): string => escapeText(clean(s, what));
const attr = (s: string, what: string): string => escapeAttr(clean(s, what));

function certB64(b64: string, what: string): string {
  const c = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(c)) throw new PasarelaError('ERR_METADATA_VALUE', `${what} is not base64 DER`);
  return c;
}

function keyInfo(b64: string): string {
  return `<ds:KeyInfo xmlns:ds="${NS.ds}"><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`;
}

export async function buildIdpMetadata(
  opts: IdpMetadataOptions,
  signing: { key: SigningKey; algorithm: SignatureAlgorithmUri },
): Promise<string> {
  if (opts.encryptionCerts.length === 0) throw new PasarelaError('ERR_METADATA_VALUE', 'metadata needs at least one encryption certificate');
  if (opts.signingCerts.length === 0) throw new PasarelaError('ERR_METADATA_VALUE', 'metadata needs at least one signing certificate');
  if (opts.loas.length === 0) throw new PasarelaError('ERR_METADATA_VALUE', 'metadata needs at least one LoA');
  const id = newSamlId();

  const methods =
    opts.signingMethods ??
    (signing.key.key.asymmetricKeyType === 'ec' ? DEFAULT_EC_METHODS : DEFAULT_RSA_METHODS).filter((m) =>
      keyFits(signatureAlgorithm(m), signing.key.key),
    );
  const digests = [...new Set(methods.map((m) => signatureAlgorithm(m).hash))]
    .filter((h): h is 'sha256' | 'sha384' | 'sha512' => h !== 'sha1')
    .sort();

  // EntityDescriptor attributes in c14n order: ID, cacheDuration, entityID, validUntil.
  let head = `<md:EntityDescriptor xmlns:md="${NS.md}" ID="${id}"`;
  if (opts.cacheDurationSeconds !== undefined) {
    if (!Number.isInteger(opts.cacheDurationSeconds) || opts.cacheDurationSeconds <= 0) {
      throw new PasarelaError('ERR_METADATA_VALUE', 'cacheDurationSeconds must be a positive integer');
    }
    head += ` cacheDuration="PT${opts.cacheDurationSeconds}S"`;
  }
  head += ` entityID="${attr(opts.entityId, 'entityID')}" validUntil="${samlInstant(opts.validUntil)}">`;

  let tail = '<md:Extensions>';
  for (const h of digests) tail += `<alg:DigestMethod xmlns:alg="${NS.alg}" Algorithm="${digestUriFor(h)}"></alg:DigestMethod>`;
  for (const m of methods) tail += `<alg:SigningMethod xmlns:alg="${NS.alg}" Algorithm="${attr(m, 'signing method')}"></alg:SigningMethod>`;
  tail +=
    `<mdattr:EntityAttributes xmlns:mdattr="${NS.mdattr}">` +
    `<saml:Attribute xmlns:saml="${NS.saml}" Name="${ASSURANCE_CERTIFICATION}" NameFormat="${ATTRNAME_FORMAT_URI}">` +
    opts.loas.map((l) => `<saml:AttributeValue>${text(l, 'LoA')}</saml:AttributeValue>`).join('') +
    '</saml:Attribute></mdattr:EntityAttributes></md:Extensions>';

  tail += `<md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="${SAML2_PROTOCOL}">`;
  // A set: after the switch the next certificate is the current one until the operator retires the setting.
  for (const c of new Set(opts.signingCerts.map((c) => certB64(c, 'signing certificate')))) {
    tail += `<md:KeyDescriptor use="signing">${keyInfo(c)}</md:KeyDescriptor>`;
  }
  for (const c of new Set(opts.encryptionCerts.map((c) => certB64(c, 'encryption certificate')))) {
    tail +=
      `<md:KeyDescriptor use="encryption">${keyInfo(c)}` +
      `<md:EncryptionMethod Algorithm="${ENC_ALG.aes256gcm}"></md:EncryptionMethod>` +
      `<md:EncryptionMethod Algorithm="${ENC_ALG.rsaOaepMgf1p}"></md:EncryptionMethod></md:KeyDescriptor>`;
  }
  for (const f of opts.nameIdFormats) tail += `<md:NameIDFormat>${text(f, 'NameIDFormat')}</md:NameIDFormat>`;
  tail +=
    `<md:SingleSignOnService Binding="${BINDING.redirect}" Location="${attr(opts.ssoUrls.redirect, 'redirect SSO URL')}"></md:SingleSignOnService>` +
    `<md:SingleSignOnService Binding="${BINDING.post}" Location="${attr(opts.ssoUrls.post, 'POST SSO URL')}"></md:SingleSignOnService>` +
    '</md:IDPSSODescriptor>';

  if (opts.organization) {
    const o = opts.organization;
    // xml:lang: the xml prefix is never declared; exclusive c14n renders the attribute as is.
    const lang = ` xml:lang="${attr(o.lang ?? 'en', 'organization language')}"`;
    tail +=
      `<md:Organization><md:OrganizationName${lang}>${text(o.name, 'organization name')}</md:OrganizationName>` +
      `<md:OrganizationDisplayName${lang}>${text(o.displayName, 'organization display name')}</md:OrganizationDisplayName>` +
      `<md:OrganizationURL${lang}>${text(o.url, 'organization URL')}</md:OrganizationURL></md:Organization>`;
  }
  tail += '</md:EntityDescriptor>';

  return wireForm(await signCanonical({ id, head, tail }, { key: signing.key, algorithm: signing.algorithm }));
}
