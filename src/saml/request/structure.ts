import { PasarelaError } from '../../errors';
import { NAMEID_FORMAT, NS, STATUS, type Comparison } from '../constants';
import type { RequestedAttribute } from '../types';
import { childElements, isElement, textOf } from '../xml';
import type { LightElement } from '../request-tree';
import { describe, XMLNS_NS } from './dom';
import { MAX_ID_LENGTH, REQUEST_TEXT_LIMITS, tooLong } from './limits';

/** Structural allow-list and extraction (one walk over the request's known children). */

export interface ParsedAuthnRequest {
  id: string;
  issuer: string;
  issueInstant: Date;
  destination?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  protocolBinding?: string;
  acsUrl?: string;
  acsIndex?: number;
  providerName?: string;
  nameIdPolicy?: { format?: string; spNameQualifier?: string; allowCreate: boolean };
  authnContext?: { comparison: Comparison; classRefs: string[] };
  spType?: 'public' | 'private';
  /** The request carried eidas:SPType or eidas:RequestedAttributes (it speaks the eIDAS profile). */
  eidasExtensions: boolean;
  attributes: RequestedAttribute[];
  /** Refusals that are answered to the SP once it and its ACS are known (VersionMismatch, RequestUnsupported). */
  deferred: PasarelaError[];
}

const ROOT_ATTRIBUTES = [
  'ID',
  'Version',
  'IssueInstant',
  'Destination',
  'Consent',
  'ForceAuthn',
  'IsPassive',
  'ProtocolBinding',
  'AssertionConsumerServiceURL',
  'AssertionConsumerServiceIndex',
  'AttributeConsumingServiceIndex',
  'ProviderName',
] as const;

/** Schema order of AuthnRequest children; each at most once. */
const CHILD_ORDER: ReadonlyArray<{ ns: string; name: string; label: string }> = [
  { ns: NS.saml, name: 'Issuer', label: 'saml:Issuer' },
  { ns: NS.ds, name: 'Signature', label: 'ds:Signature' },
  { ns: NS.samlp, name: 'Extensions', label: 'samlp:Extensions' },
  { ns: NS.saml, name: 'Subject', label: 'saml:Subject' },
  { ns: NS.samlp, name: 'NameIDPolicy', label: 'samlp:NameIDPolicy' },
  { ns: NS.saml, name: 'Conditions', label: 'saml:Conditions' },
  { ns: NS.samlp, name: 'RequestedAuthnContext', label: 'samlp:RequestedAuthnContext' },
  { ns: NS.samlp, name: 'Scoping', label: 'samlp:Scoping' },
];

function structure(code: string, message: string): PasarelaError {
  return new PasarelaError(code, message);
}


/** Element children; text other than whitespace is refused (no mixed content in SAML structures). */
function structuralChildren(el: LightElement): LightElement[] {
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if ((c.nodeType === 3 || c.nodeType === 4) && c.data.trim() !== '') {
      throw structure('ERR_REQUEST_TEXT', `${describe(el)} must not contain text outside its child elements.`);
    }
  }
  return childElements(el);
}

function attributesOf(el: LightElement, allowed: readonly string[], extraNs?: { ns: string; names: readonly string[] }): Map<string, string> {
  const out = new Map<string, string>();
  const attrs = el.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (a.namespaceURI === XMLNS_NS) continue;
    const local = a.localName ?? a.name;
    if (!a.namespaceURI && allowed.includes(local)) out.set(local, a.value);
    else if (extraNs && a.namespaceURI === extraNs.ns && extraNs.names.includes(local)) continue;
    else {
      throw structure(
        'ERR_REQUEST_ATTRIBUTE',
        `Attribute ${a.name} is not allowed on ${describe(el)}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}.`,
      );
    }
  }
  return out;
}

function xsBoolean(value: string | undefined, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  switch (value.trim()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw structure('ERR_REQUEST_BOOLEAN', `${what} is "${value}"; an xs:boolean is true, false, 1 or 0.`);
  }
}

function unsignedShort(value: string, what: string): number {
  const v = value.trim();
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
    throw structure('ERR_REQUEST_UNSIGNED_SHORT', `${what} is "${value}"; expected an integer from 0 to 65535.`);
  }
  return Number(v);
}

const NCNAME = /^[\p{L}_][\p{L}\p{N}\p{M}._\u00B7-]*$/u;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

/** xs:dateTime in UTC ('Z'), as SAML core §1.3.3 requires. */
export function parseSamlInstant(value: string): Date | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const date = new Date(t);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return date;
}

export function readAuthnRequest(root: LightElement): ParsedAuthnRequest {
  const deferred: PasarelaError[] = [];
  const a = attributesOf(root, ROOT_ATTRIBUTES);
  const id = a.get('ID');
  if (id === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no ID attribute.');
  if (!NCNAME.test(id) || id.length > MAX_ID_LENGTH) {
    throw structure('ERR_REQUEST_ID', `AuthnRequest ID "${id.slice(0, 80)}" is not an xs:ID (an XML NCName of at most ${MAX_ID_LENGTH} characters, e.g. "_" + random hex).`);
  }
  const version = a.get('Version');
  if (version === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no Version attribute; it must be "2.0".');
  if (version !== '2.0') {
    deferred.push(
      new PasarelaError('ERR_REQUEST_VERSION', `AuthnRequest Version is "${version}"; only SAML "2.0" is supported.`, {
        status: STATUS.versionMismatch,
      }),
    );
  }
  const instant = a.get('IssueInstant');
  if (instant === undefined) throw structure('ERR_REQUEST_MISSING_ATTRIBUTE', 'AuthnRequest has no IssueInstant attribute.');
  const issueInstant = parseSamlInstant(instant);
  if (!issueInstant) {
    throw structure('ERR_REQUEST_ISSUE_INSTANT_FORMAT', `IssueInstant "${instant}" is not an xs:dateTime in UTC such as 2025-01-01T10:00:00Z.`);
  }
  const providerName = a.get('ProviderName');
  if (providerName !== undefined && providerName.length > REQUEST_TEXT_LIMITS.providerName) {
    throw tooLong('ProviderName', REQUEST_TEXT_LIMITS.providerName, providerName.length);
  }
  const acsIndexRaw = a.get('AssertionConsumerServiceIndex');
  const acsIndex = acsIndexRaw === undefined ? undefined : unsignedShort(acsIndexRaw, 'AssertionConsumerServiceIndex');
  const attrConsumingIndex = a.get('AttributeConsumingServiceIndex');
  if (attrConsumingIndex !== undefined) unsignedShort(attrConsumingIndex, 'AttributeConsumingServiceIndex');

  const parsed: ParsedAuthnRequest = {
    id,
    issuer: '',
    issueInstant,
    destination: a.get('Destination'),
    forceAuthn: xsBoolean(a.get('ForceAuthn'), 'ForceAuthn', false),
    isPassive: xsBoolean(a.get('IsPassive'), 'IsPassive', false),
    protocolBinding: a.get('ProtocolBinding'),
    acsUrl: a.get('AssertionConsumerServiceURL'),
    acsIndex,
    providerName,
    eidasExtensions: false,
    attributes: [],
    deferred,
  };

  let last = -1;
  for (const child of structuralChildren(root)) {
    const slot = CHILD_ORDER.findIndex((c) => isElement(child, c.ns, c.name));
    if (slot === -1) {
      throw structure(
        'ERR_REQUEST_ELEMENT',
        `${describe(child)} is not allowed in an AuthnRequest; expected, in this order: ${CHILD_ORDER.map((c) => c.label).join(', ')}.`,
      );
    }
    if (slot === last) throw structure('ERR_REQUEST_ELEMENT_ORDER', `AuthnRequest contains more than one ${CHILD_ORDER[slot]!.label}.`);
    if (slot < last) {
      throw structure('ERR_REQUEST_ELEMENT_ORDER', `${CHILD_ORDER[slot]!.label} must come before ${CHILD_ORDER[last]!.label} (schema order).`);
    }
    last = slot;
    switch (child.localName) {
      case 'Issuer':
        parsed.issuer = readIssuer(child);
        break;
      case 'Signature':
        break; // verified (POST) or refused (Redirect) before this walk
      case 'Extensions':
        readExtensions(child, parsed);
        break;
      case 'Subject':
        deferred.push(
          new PasarelaError('ERR_REQUEST_SUBJECT', 'AuthnRequest carries a saml:Subject; requesting a specific subject is not supported.', {
            status: STATUS.requester,
            subStatus: STATUS.requestUnsupported,
          }),
        );
        break;
      case 'NameIDPolicy': {
        const p = attributesOf(child, ['Format', 'SPNameQualifier', 'AllowCreate']);
        if (structuralChildren(child).length > 0) throw structure('ERR_REQUEST_ELEMENT', 'samlp:NameIDPolicy must be empty.');
        parsed.nameIdPolicy = {
          format: p.get('Format')?.trim(),
          spNameQualifier: p.get('SPNameQualifier'),
          allowCreate: xsBoolean(p.get('AllowCreate'), 'NameIDPolicy AllowCreate', false),
        };
        break;
      }
      case 'Conditions':
      case 'Scoping':
        // Accepted and not acted upon: no assertion conditions are taken from requests, and we do not proxy by IDPList.
        break;
      case 'RequestedAuthnContext':
        readRequestedAuthnContext(child, parsed);
        break;
    }
  }
  if (!parsed.issuer) {
    throw structure('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest has no saml:Issuer; it must carry the SP entityID (SAML profiles §4.1.4.1).');
  }
  return parsed;
}

function readIssuer(el: LightElement): string {
  const a = attributesOf(el, ['Format', 'NameQualifier', 'SPNameQualifier', 'SPProvidedID']);
  const format = a.get('Format');
  if (format !== undefined && format !== NAMEID_FORMAT.entity) {
    throw structure('ERR_REQUEST_ISSUER_FORMAT', `saml:Issuer Format is "${format}"; it must be omitted or ${NAMEID_FORMAT.entity}.`);
  }
  const value = textOf(el).trim();
  if (value === '') throw structure('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest saml:Issuer is empty; it must carry the SP entityID.');
  return value;
}

function readExtensions(el: LightElement, parsed: ParsedAuthnRequest): void {
  attributesOf(el, []);
  let sawSpType = false;
  let sawAttributes = false;
  for (const ext of structuralChildren(el)) {
    const ns = ext.namespaceURI;
    if (ns === NS.eidas && ext.localName === 'SPType') {
      if (sawSpType) throw structure('ERR_REQUEST_EXTENSIONS', 'samlp:Extensions contains more than one eidas:SPType.');
      sawSpType = true;
      attributesOf(ext, []);
      const v = textOf(ext).trim();
      if (v !== 'public' && v !== 'private') throw structure('ERR_REQUEST_SPTYPE', `eidas:SPType is "${v}"; expected "public" or "private".`);
      parsed.spType = v;
      parsed.eidasExtensions = true;
    } else if (ns === NS.eidas && ext.localName === 'RequestedAttributes') {
      if (sawAttributes) throw structure('ERR_REQUEST_EXTENSIONS', 'samlp:Extensions contains more than one eidas:RequestedAttributes.');
      sawAttributes = true;
      parsed.eidasExtensions = true;
      attributesOf(ext, []);
      readRequestedAttributes(ext, parsed);
    } else if (ns === NS.samlp || ns === NS.saml || ns === NS.ds || ns === NS.eidas || !ns) {
      // SAML, XML-DSig and unknown eIDAS elements have no business here (XSW: a signed copy parked in Extensions).
      throw structure(
        'ERR_REQUEST_EXTENSIONS',
        `${describe(ext)} is not accepted in samlp:Extensions; allowed are eidas:SPType, eidas:RequestedAttributes and elements of other namespaces.`,
      );
    }
    // Elements of other namespaces are ignored (SAML core §3.2.1: Extensions are for non-SAML content).
  }
}

function readRequestedAttributes(el: LightElement, parsed: ParsedAuthnRequest): void {
  const seen = new Set<string>();
  const L = REQUEST_TEXT_LIMITS;
  const children = structuralChildren(el);
  if (children.length > L.requestedAttributes) {
    throw structure('ERR_REQUEST_TOO_LONG', `eidas:RequestedAttributes lists ${children.length} attributes; at most ${L.requestedAttributes} are accepted.`);
  }
  for (const ra of children) {
    if (!isElement(ra, NS.eidas, 'RequestedAttribute')) {
      throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `${describe(ra)} is not allowed in eidas:RequestedAttributes; expected eidas:RequestedAttribute.`);
    }
    const a = attributesOf(ra, ['Name', 'FriendlyName', 'NameFormat', 'isRequired']);
    const name = a.get('Name')?.trim();
    if (!name) throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', 'eidas:RequestedAttribute has no Name attribute (the attribute URI).');
    if (name.length > L.attributeName) throw tooLong('eidas:RequestedAttribute Name', L.attributeName, name.length);
    if (seen.has(name)) throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `eidas:RequestedAttribute "${name}" is listed more than once.`);
    seen.add(name);
    const values: string[] = [];
    const valueElements = structuralChildren(ra);
    if (valueElements.length > L.valuesPerAttribute) {
      throw structure('ERR_REQUEST_TOO_LONG', `eidas:RequestedAttribute "${name}" carries ${valueElements.length} values; at most ${L.valuesPerAttribute} are accepted.`);
    }
    for (const v of valueElements) {
      if (!isElement(v, NS.eidas, 'AttributeValue')) {
        throw structure('ERR_REQUEST_REQUESTED_ATTRIBUTE', `${describe(v)} is not allowed in eidas:RequestedAttribute; expected eidas:AttributeValue.`);
      }
      attributesOf(v, [], { ns: NS.xsi, names: ['type'] });
      const value = textOf(v);
      if (value.length > L.attributeValue) throw tooLong(`A value of eidas:RequestedAttribute "${name}"`, L.attributeValue, value.length);
      values.push(value);
    }
    const friendlyName = a.get('FriendlyName');
    if (friendlyName !== undefined && friendlyName.length > L.friendlyName) {
      throw tooLong(`FriendlyName of eidas:RequestedAttribute "${name}"`, L.friendlyName, friendlyName.length);
    }
    parsed.attributes.push({
      name,
      ...(friendlyName !== undefined ? { friendlyName } : {}),
      isRequired: xsBoolean(a.get('isRequired'), `isRequired of ${name}`, false),
      values,
    });
  }
}

const COMPARISONS: readonly Comparison[] = ['exact', 'minimum', 'maximum', 'better'];

function readRequestedAuthnContext(el: LightElement, parsed: ParsedAuthnRequest): void {
  const a = attributesOf(el, ['Comparison']);
  const raw = a.get('Comparison');
  // SAML core §3.3.2.2.1: absent Comparison means "exact" (eIDAS SPs send "minimum" explicitly).
  const comparison = raw === undefined ? 'exact' : (raw.trim() as Comparison);
  if (!COMPARISONS.includes(comparison)) {
    throw structure('ERR_REQUEST_COMPARISON', `RequestedAuthnContext Comparison is "${raw}"; expected exact, minimum, maximum or better.`);
  }
  const classRefs: string[] = [];
  let declRefs = 0;
  for (const c of structuralChildren(el)) {
    if (isElement(c, NS.saml, 'AuthnContextClassRef')) {
      attributesOf(c, []);
      const v = textOf(c).trim();
      if (v === '') throw structure('ERR_REQUEST_AUTHNCONTEXT', 'saml:AuthnContextClassRef is empty.');
      if (!classRefs.includes(v)) classRefs.push(v);
    } else if (isElement(c, NS.saml, 'AuthnContextDeclRef')) {
      declRefs++;
    } else {
      throw structure('ERR_REQUEST_ELEMENT', `${describe(c)} is not allowed in samlp:RequestedAuthnContext; expected saml:AuthnContextClassRef.`);
    }
  }
  if (classRefs.length > 0 && declRefs > 0) {
    throw structure('ERR_REQUEST_AUTHNCONTEXT', 'RequestedAuthnContext mixes AuthnContextClassRef and AuthnContextDeclRef; the schema allows one kind.');
  }
  if (declRefs > 0) {
    parsed.deferred.push(
      new PasarelaError(
        'ERR_REQUEST_AUTHNCONTEXT_DECLREF',
        'AuthnContextDeclRef is not supported; request a level of assurance with AuthnContextClassRef (http://eidas.europa.eu/LoA/low|substantial|high).',
        { status: STATUS.requester, subStatus: STATUS.requestUnsupported },
      ),
    );
    return;
  }
  if (classRefs.length === 0) {
    throw structure('ERR_REQUEST_AUTHNCONTEXT', 'RequestedAuthnContext has no AuthnContextClassRef; name at least one level of assurance.');
  }
  parsed.authnContext = { comparison, classRefs };
}
