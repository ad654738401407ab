import { X509Certificate, type KeyObject } from 'node:crypto';
import { PasarelaError } from '../errors';
import { b64ToPem } from '../pki/self-signed';
import { BINDING, NS } from '../saml/constants';
import type { AcsEndpoint } from '../saml/types';
import { childElements, isElement, parseXml, textOf } from '../saml/xml';

/**
 * SP metadata import: one parse with the broker's parser, then a plain DOM walk with exact
 * namespace checks. Runs when an operator loads or refreshes an SP, never per request: the
 * result (KeyObjects, ACS list) is what the hot path keeps.
 *
 * Every failure is a PasarelaError whose message tells the operator what to fix.
 */

export interface ParsedSpMetadata {
  entityId: string;
  displayName?: string;
  acs: AcsEndpoint[];
  /** Keys of KeyDescriptors with use="signing" or without use. */
  signingKeys: KeyObject[];
  signingCertsPem: string[];
  /** First KeyDescriptor with use="encryption" (or, failing that, without use) holding an RSA key. */
  encryptionCert?: { certPem: string; key: KeyObject };
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  nameIdFormats: string[];
  validUntil?: Date;
}

export interface ParseSpMetadataOptions {
  /** Clock for the validUntil check (default: now). */
  now?: Date;
  /** Size cap in bytes (default 1 MiB). */
  maxBytes?: number;
}

const MDUI = 'urn:oasis:names:tc:SAML:metadata:ui';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';
// xs:dateTime, timezone optional (SAML metadata says UTC; absent zone is read as UTC).
const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

function fail(code: string, message: string, cause?: unknown): never {
  throw new PasarelaError(code, `SP metadata: ${message}`, { cause });
}

function children(el: Element, ns: string, name: string): Element[] {
  return childElements(el).filter((c) => isElement(c, ns, name));
}

function bool(el: Element, name: string): boolean {
  const v = el.getAttribute(name);
  if (v === null || v === '') return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return fail('ERR_METADATA_VALUE', `${el.localName}/@${name} is "${v}", expected true or false`);
}

function dateAttr(el: Element, name: string): Date | undefined {
  const v = el.getAttribute(name);
  if (v === null || v === '') return undefined;
  const d = new Date(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`);
  if (!DATE_TIME.test(v) || Number.isNaN(d.getTime())) {
    return fail('ERR_METADATA_VALID_UNTIL', `${el.localName}/@${name} "${v}" is not an xs:dateTime`);
  }
  return d;
}

function text(el: Element, what: string): string {
  try {
    return textOf(el).trim();
  } catch (err) {
    return fail('ERR_METADATA_VALUE', `${what} must contain text only`, err);
  }
}

function parseCert(el: Element, where: string): { certPem: string; key: KeyObject } {
  const b64 = text(el, 'X509Certificate').replace(/\s+/g, '');
  if (b64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    return fail('ERR_METADATA_CERT', `${where}: X509Certificate is not base64`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(b64, 'base64'));
  } catch (err) {
    return fail('ERR_METADATA_CERT', `${where}: X509Certificate cannot be read as an X.509 certificate (${(err as Error).message})`, err);
  }
  const key = cert.publicKey;
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'rsa-pss' && type !== 'ec') {
    return fail('ERR_METADATA_CERT', `${where}: certificate "${cert.subject}" holds a ${type ?? 'unknown'} key; RSA or EC expected`);
  }
  if ((type === 'rsa' || type === 'rsa-pss') && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    return fail('ERR_METADATA_CERT', `${where}: certificate "${cert.subject}" has an RSA key shorter than 2048 bits`);
  }
  return { certPem: b64ToPem(b64), key };
}

function pickEntity(root: Element): { entity: Element; validUntil?: Date } {
  if (isElement(root, NS.md, 'EntityDescriptor')) return { entity: root, validUntil: dateAttr(root, 'validUntil') };
  if (!isElement(root, NS.md, 'EntitiesDescriptor')) {
    return fail(
      'ERR_METADATA_ROOT',
      `root element is {${root.namespaceURI ?? ''}}${root.localName}; expected md:EntityDescriptor (namespace ${NS.md})`,
    );
  }
  // An aggregate is accepted only when it wraps exactly one entity (possibly nested).
  const found: Element[] = [];
  let validUntil = dateAttr(root, 'validUntil');
  const walk = (el: Element): void => {
    for (const c of childElements(el)) {
      if (isElement(c, NS.md, 'EntityDescriptor')) found.push(c);
      else if (isElement(c, NS.md, 'EntitiesDescriptor')) {
        const v = dateAttr(c, 'validUntil');
        if (v && (!validUntil || v < validUntil)) validUntil = v;
        walk(c);
      }
    }
  };
  walk(root);
  if (found.length !== 1) {
    return fail(
      'ERR_METADATA_ENTITIES',
      `an EntitiesDescriptor must contain exactly one EntityDescriptor to be imported as one SP (found ${found.length}); import each SP's own metadata`,
    );
  }
  const entity = found[0]!;
  const own = dateAttr(entity, 'validUntil');
  if (own && (!validUntil || own < validUntil)) validUntil = own;
  return { entity, validUntil };
}

function displayNameOf(entity: Element, sp: Element): string | undefined {
  const byLang = (els: Element[]): string | undefined => {
    const texts = els.map((e) => ({ lang: e.getAttributeNS(XML_NS, 'lang') ?? '', value: text(e, e.localName) })).filter((t) => t.value !== '');
    return (texts.find((t) => t.lang === 'es') ?? texts.find((t) => t.lang === 'en') ?? texts[0])?.value;
  };
  for (const ext of children(sp, NS.md, 'Extensions')) {
    for (const ui of children(ext, MDUI, 'UIInfo')) {
      const name = byLang(children(ui, MDUI, 'DisplayName'));
      if (name) return name;
    }
  }
  for (const org of children(entity, NS.md, 'Organization')) {
    const name = byLang(children(org, NS.md, 'OrganizationDisplayName')) ?? byLang(children(org, NS.md, 'OrganizationName'));
    if (name) return name;
  }
  return undefined;
}

function parseAcs(sp: Element): AcsEndpoint[] {
  const els = children(sp, NS.md, 'AssertionConsumerService');
  if (els.length === 0) return fail('ERR_METADATA_ACS', 'SPSSODescriptor lists no AssertionConsumerService');
  const acs: AcsEndpoint[] = [];
  const seen = new Set<number>();
  els.forEach((el, position) => {
    const binding = el.getAttribute('Binding') ?? '';
    const location = el.getAttribute('Location') ?? '';
    const where = `AssertionConsumerService #${position + 1}`;
    if (binding === '') fail('ERR_METADATA_ACS', `${where} has no Binding`);
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return fail('ERR_METADATA_ACS', `${where} has Location "${location}", which is not an absolute URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      fail('ERR_METADATA_ACS', `${where} has Location "${location}"; only http and https URLs are accepted`);
    }
    const rawIndex = el.getAttribute('index');
    let index = position;
    if (rawIndex !== null && rawIndex !== '') {
      if (!/^\d{1,5}$/.test(rawIndex) || Number(rawIndex) > 65535) {
        fail('ERR_METADATA_ACS', `${where} has index "${rawIndex}", expected an integer 0..65535`);
      }
      index = Number(rawIndex);
    }
    if (seen.has(index)) fail('ERR_METADATA_ACS', `two AssertionConsumerService endpoints share index ${index}`);
    seen.add(index);
    acs.push({ index, binding, location, isDefault: bool(el, 'isDefault') });
  });
  if (acs.filter((a) => a.isDefault).length > 1) fail('ERR_METADATA_ACS', 'more than one AssertionConsumerService has isDefault="true"');
  if (!acs.some((a) => a.binding === BINDING.post)) {
    fail('ERR_METADATA_ACS', `no AssertionConsumerService with the HTTP-POST binding (${BINDING.post}); the broker answers by POST only`);
  }
  return acs;
}

/** Parse one SP's SAML metadata into what the trust list keeps. */
export function parseSpMetadata(xml: string, options: ParseSpMetadataOptions = {}): ParsedSpMetadata {
  return parseSpMetadataDocument(parseSpMetadataXml(xml, options), options);
}

/** The parse step alone (the broker's parser, size cap), for callers that also read the DOM. */
export function parseSpMetadataXml(xml: string, options: ParseSpMetadataOptions = {}): Document {
  try {
    return parseXml(xml, { maxBytes: options.maxBytes ?? 1024 * 1024 });
  } catch (err) {
    if (err instanceof PasarelaError) throw new PasarelaError(err.code, `SP metadata: ${err.message}`, { cause: err });
    throw err;
  }
}

/** What the trust list keeps, from an already parsed metadata document. */
export function parseSpMetadataDocument(doc: Document, options: ParseSpMetadataOptions = {}): ParsedSpMetadata {
  const { entity, validUntil } = pickEntity(doc.documentElement);

  const entityId = entity.getAttribute('entityID') ?? '';
  if (entityId.trim() === '' || entityId !== entityId.trim()) {
    fail('ERR_METADATA_ENTITY_ID', 'EntityDescriptor has no entityID (or it has leading/trailing spaces)');
  }
  if (entityId.length > 1024) fail('ERR_METADATA_ENTITY_ID', 'entityID is longer than 1024 characters');

  const now = options.now ?? new Date();
  if (validUntil && validUntil.getTime() <= now.getTime()) {
    fail('ERR_METADATA_EXPIRED', `metadata for ${entityId} expired at ${validUntil.toISOString()} (validUntil); ask the SP for fresh metadata`);
  }

  const sps = children(entity, NS.md, 'SPSSODescriptor').filter((sp) =>
    (sp.getAttribute('protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.samlp),
  );
  if (sps.length === 0) {
    fail('ERR_METADATA_NO_SPSSO', `${entityId} has no SPSSODescriptor supporting SAML 2.0 (protocolSupportEnumeration ${NS.samlp})`);
  }
  if (sps.length > 1) fail('ERR_METADATA_NO_SPSSO', `${entityId} has ${sps.length} SAML 2.0 SPSSODescriptors; expected one`);
  const sp = sps[0]!;
  const spValidUntil = dateAttr(sp, 'validUntil');
  if (spValidUntil && spValidUntil.getTime() <= now.getTime()) {
    fail('ERR_METADATA_EXPIRED', `SPSSODescriptor of ${entityId} expired at ${spValidUntil.toISOString()} (validUntil)`);
  }

  const signingKeys: KeyObject[] = [];
  const signingCertsPem: string[] = [];
  let encryptionCert: { certPem: string; key: KeyObject } | undefined;
  let encryptionFallback: { certPem: string; key: KeyObject } | undefined;
  children(sp, NS.md, 'KeyDescriptor').forEach((kd, i) => {
    const use = kd.getAttribute('use') ?? '';
    if (use !== '' && use !== 'signing' && use !== 'encryption') {
      fail('ERR_METADATA_KEY', `KeyDescriptor #${i + 1} has use="${use}"; expected signing, encryption or none`);
    }
    const certEls: Element[] = [];
    for (const ki of children(kd, NS.ds, 'KeyInfo')) {
      for (const x509 of children(ki, NS.ds, 'X509Data')) certEls.push(...children(x509, NS.ds, 'X509Certificate'));
    }
    if (certEls.length === 0) fail('ERR_METADATA_KEY', `KeyDescriptor #${i + 1} has no ds:KeyInfo/ds:X509Data/ds:X509Certificate`);
    for (const el of certEls) {
      const c = parseCert(el, `KeyDescriptor #${i + 1}`);
      if (use !== 'encryption') {
        signingKeys.push(c.key);
        signingCertsPem.push(c.certPem);
      }
      if (use === 'encryption') {
        if (c.key.asymmetricKeyType !== 'rsa') {
          fail('ERR_METADATA_KEY', `KeyDescriptor #${i + 1} (use="encryption") holds a ${c.key.asymmetricKeyType ?? 'unknown'} key; assertion encryption needs RSA (RSA-OAEP)`);
        }
        encryptionCert ??= c;
      } else if (use === '' && c.key.asymmetricKeyType === 'rsa') {
        encryptionFallback ??= c;
      }
    }
  });
  encryptionCert ??= encryptionFallback;

  const authnRequestsSigned = bool(sp, 'AuthnRequestsSigned');
  if (authnRequestsSigned && signingKeys.length === 0) {
    fail('ERR_METADATA_KEY', 'AuthnRequestsSigned="true" but no KeyDescriptor offers a signing certificate');
  }

  const nameIdFormats = children(sp, NS.md, 'NameIDFormat')
    .map((el) => text(el, 'NameIDFormat'))
    .filter((f) => f !== '');

  const out: ParsedSpMetadata = {
    entityId,
    acs: parseAcs(sp),
    signingKeys,
    signingCertsPem,
    authnRequestsSigned,
    wantAssertionsSigned: bool(sp, 'WantAssertionsSigned'),
    nameIdFormats,
  };
  const displayName = displayNameOf(entity, sp);
  if (displayName !== undefined) out.displayName = displayName;
  if (encryptionCert) out.encryptionCert = encryptionCert;
  const effectiveValidUntil = spValidUntil && (!validUntil || spValidUntil < validUntil) ? spValidUntil : validUntil;
  if (effectiveValidUntil) out.validUntil = effectiveValidUntil;
  return out;
}
