import { randomIdBytes } from '../random';
import { PasarelaError } from '../errors';
import { ATTRNAME_FORMAT_URI, CM_BEARER, CONSENT_OBTAINED, NAMEID_FORMAT, NS, STATUS } from './constants';
import { encryptAssertion } from './encrypt';
import { signCanonical, wireForm, type SignatureSpec } from './sign';
import type { AttributeValueOut, ResponseInput, SigningOptions } from './types';
import { escapeAttr, escapeText, NOT_XML_CHAR } from './xml';

/**
 * SAML Response / Assertion templates in exclusive-c14n form (see sign.ts for the rules),
 * signed with one digest + one SignedInfo + one private-key operation per signature.
 *
 * Every value that comes from outside (attribute values, NameID, URLs, IDs of the request)
 * goes through `text()` / `attr()`: checked for characters XML cannot carry, then escaped the
 * way c14n escapes. An attribute value such as `</saml:AttributeValue><saml:Attribute ...>`
 * therefore stays a string (attacks.md row 4, samlify GHSA-34r5-q4jw-r36m).
 */

const ASSERTION_OPEN = `<saml:Assertion xmlns:saml="${NS.saml}"`;
const ISSUER_IN_ASSERTION = `<saml:Issuer Format="${NAMEID_FORMAT.entity}">`;
const ISSUER_IN_RESPONSE = `<saml:Issuer xmlns:saml="${NS.saml}" Format="${NAMEID_FORMAT.entity}">`;
const EIDAS_NATURAL_PREFIX = 'eidas-natural';
/**
 * Declarations on an eIDAS-typed AttributeValue, in c14n order (sorted by prefix).
 * `xsi` is visibly used (the xsi:type attribute); `eidas-natural` is used only inside the
 * attribute value and is kept by `InclusiveNamespaces PrefixList="eidas-natural"` (sign.ts).
 */
const TYPED_VALUE_OPEN = `<saml:AttributeValue xmlns:${EIDAS_NATURAL_PREFIX}="${NS.eidasNatural}" xmlns:xsi="${NS.xsi}" xsi:type="${EIDAS_NATURAL_PREFIX}:`;

// XML 1.0 Char production: anything else cannot be written, escaped or not.
const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/**
 * Conditions/@NotBefore is this far before IssueInstant, so that an SP whose clock is a little
 * behind ours accepts the assertion on the first try (node-saml's default skew is 0 ms;
 * SimpleSAMLphp's IdP does the same). NotOnOrAfter stays now + lifetime.
 */
export const NOT_BEFORE_SKEW_SECONDS = 30;
const NAMEID_URI = new Map<string, string>([
  ['persistent', NAMEID_FORMAT.persistent],
  ['transient', NAMEID_FORMAT.transient],
  ['unspecified', NAMEID_FORMAT.unspecified],
]);

function checkChars(s: string, what: string): string {
  if (typeof s !== 'string') throw new PasarelaError('ERR_RESPONSE_VALUE', `${what} is not a string`);
  if (NOT_XML_CHAR.test(s)) {
    throw new PasarelaError('ERR_RESPONSE_VALUE', `${what} contains a character that XML cannot carry`);
  }
  return s;
}
const text = (s: string, what: string): string => escapeText(checkChars(s, what));
const attr = (s: string, what: string): string => escapeAttr(checkChars(s, what));

/** A fresh SAML ID: `_` + 32 random hex digits (128 bits). */
export function newSamlId(): string {
  return `_${randomIdBytes(16).toString('hex')}`;
}

/** Our one time format: UTC with milliseconds, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export function samlInstant(d: Date): string {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new PasarelaError('ERR_RESPONSE_VALUE', 'invalid date');
  const s = d.toISOString();
  if (s.length !== 24) throw new PasarelaError('ERR_RESPONSE_VALUE', `date out of range: ${s}`);
  return s;
}

function eidasTypeOf(a: AttributeValueOut): string | undefined {
  if (a.eidasType === undefined || a.eidasType === '') return undefined;
  const local = a.eidasType.startsWith(`${EIDAS_NATURAL_PREFIX}:`) ? a.eidasType.slice(EIDAS_NATURAL_PREFIX.length + 1) : a.eidasType;
  if (!NCNAME.test(local)) throw new PasarelaError('ERR_RESPONSE_VALUE', `attribute ${a.name}: "${a.eidasType}" is not an eIDAS type name`);
  return local;
}

function attributeXml(a: AttributeValueOut): string {
  if (!a.name) throw new PasarelaError('ERR_RESPONSE_VALUE', 'attribute without a Name');
  const type = eidasTypeOf(a);
  // c14n attribute order: FriendlyName, Name, NameFormat.
  let out =
    `<saml:Attribute FriendlyName="${attr(a.friendlyName, `FriendlyName of ${a.name}`)}"` +
    ` Name="${attr(a.name, 'attribute Name')}" NameFormat="${ATTRNAME_FORMAT_URI}">`;
  for (const v of a.values) {
    const value = text(v, `value of attribute ${a.name}`);
    out += type ? `${TYPED_VALUE_OPEN}${type}">${value}</saml:AttributeValue>` : `<saml:AttributeValue>${value}</saml:AttributeValue>`;
  }
  return `${out}</saml:Attribute>`;
}

interface AssertionParts {
  id: string;
  head: string;
  tail: string;
  /** The assertion carries QNames with the eidas-natural prefix in xsi:type values. */
  typed: boolean;
}

function assertionParts(input: ResponseInput): AssertionParts {
  const id = newSamlId();
  const now = samlInstant(input.now);
  if (!Number.isFinite(input.assertionLifetimeSeconds) || input.assertionLifetimeSeconds <= 0) {
    throw new PasarelaError('ERR_RESPONSE_VALUE', 'assertionLifetimeSeconds must be a positive number');
  }
  const notOnOrAfter = samlInstant(new Date(input.now.getTime() + input.assertionLifetimeSeconds * 1000));
  const notBefore = samlInstant(new Date(input.now.getTime() - NOT_BEFORE_SKEW_SECONDS * 1000));
  const nameIdFormat = NAMEID_URI.get(input.nameId.format);
  if (nameIdFormat === undefined) throw new PasarelaError('ERR_RESPONSE_VALUE', `unknown NameID format ${String(input.nameId.format)}`);

  const head = `${ASSERTION_OPEN} ID="${id}" IssueInstant="${now}" Version="2.0">${ISSUER_IN_ASSERTION}${text(input.issuer, 'issuer')}</saml:Issuer>`;

  // NameID attributes in c14n order: Format, NameQualifier, SPNameQualifier.
  let tail = `<saml:Subject><saml:NameID Format="${nameIdFormat}"`;
  if (input.nameId.nameQualifier !== undefined) tail += ` NameQualifier="${attr(input.nameId.nameQualifier, 'NameQualifier')}"`;
  if (input.nameId.spNameQualifier !== undefined) tail += ` SPNameQualifier="${attr(input.nameId.spNameQualifier, 'SPNameQualifier')}"`;
  tail += `>${text(input.nameId.value, 'NameID')}</saml:NameID>`;
  // SubjectConfirmationData: Address, InResponseTo, NotOnOrAfter, Recipient.
  tail += `<saml:SubjectConfirmation Method="${CM_BEARER}"><saml:SubjectConfirmationData`;
  if (input.clientAddress !== undefined) tail += ` Address="${attr(input.clientAddress, 'client address')}"`;
  tail +=
    ` InResponseTo="${attr(input.inResponseTo, 'InResponseTo')}" NotOnOrAfter="${notOnOrAfter}"` +
    ` Recipient="${attr(input.destination, 'destination')}"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>`;
  tail +=
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${text(input.audience, 'audience')}</saml:Audience></saml:AudienceRestriction>` +
    (input.oneTimeUse ? '<saml:OneTimeUse></saml:OneTimeUse>' : '') +
    `</saml:Conditions>`;
  tail +=
    `<saml:AuthnStatement AuthnInstant="${samlInstant(input.authnInstant)}" SessionIndex="${attr(input.sessionIndex, 'SessionIndex')}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${text(input.achievedLoa, 'LoA')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
  let typed = false;
  if (input.attributes.length > 0) {
    tail += '<saml:AttributeStatement>';
    for (const a of input.attributes) {
      if (eidasTypeOf(a) && a.values.length > 0) typed = true;
      tail += attributeXml(a);
    }
    tail += '</saml:AttributeStatement>';
  }
  tail += '</saml:Assertion>';
  return { id, head, tail, typed };
}

function spec(signing: Pick<SigningOptions, 'key' | 'algorithm'>, typed: boolean): SignatureSpec {
  return { key: signing.key, algorithm: signing.algorithm, inclusivePrefixes: typed ? [EIDAS_NATURAL_PREFIX] : undefined };
}

/**
 * The success Response for an SP (document text, see `wireForm`). The assertion is signed first (when asked), then encrypted
 * (when `signing.encryptTo` is set), then the Response is signed (when asked) over whatever
 * it holds — the EncryptedAssertion when encrypted.
 */
export async function buildResponse(input: ResponseInput, signing: SigningOptions): Promise<string> {
  if (!signing.signResponse && !signing.signAssertion) {
    throw new PasarelaError('ERR_RESPONSE_UNSIGNED', 'refusing to build an unsigned Response: set signResponse or signAssertion');
  }
  const a = assertionParts(input);
  let assertion = signing.signAssertion ? await signCanonical(a, spec(signing, a.typed)) : a.head + a.tail;
  let typedInResponse = a.typed;
  if (signing.encryptTo) {
    // The SP parses the decrypted assertion as a document of its own: send it in wire form.
    assertion = await encryptAssertion(wireForm(assertion), signing.encryptTo);
    typedInResponse = false;
  }

  const id = newSamlId();
  // Response attributes in c14n order: Consent, Destination, ID, InResponseTo, IssueInstant, Version.
  const head =
    `<samlp:Response xmlns:samlp="${NS.samlp}" Consent="${CONSENT_OBTAINED}" Destination="${attr(input.destination, 'destination')}"` +
    ` ID="${id}" InResponseTo="${attr(input.inResponseTo, 'InResponseTo')}" IssueInstant="${samlInstant(input.now)}" Version="2.0">` +
    `${ISSUER_IN_RESPONSE}${text(input.issuer, 'issuer')}</saml:Issuer>`;
  const tail = `<samlp:Status><samlp:StatusCode Value="${STATUS.success}"></samlp:StatusCode></samlp:Status>${assertion}</samlp:Response>`;
  return wireForm(signing.signResponse ? await signCanonical({ id, head, tail }, spec(signing, typedInResponse)) : head + tail);
}

export interface ErrorResponseInput {
  issuer: string;
  destination: string;
  /** The request's ID; absent only when the request's ID could not be read. */
  inResponseTo?: string;
  now: Date;
  /** Top-level status code URI (Requester, Responder, VersionMismatch). */
  status: string;
  /** Second-level status code URI (NoAuthnContext, RequestDenied, AuthnFailed, ...). */
  subStatus?: string;
  /** A message the SP's developer can act on. */
  message?: string;
}

const TOP_LEVEL_STATUS = new Set<string>([STATUS.requester, STATUS.responder, STATUS.versionMismatch]);
const STATUS_PREFIX = 'urn:oasis:names:tc:SAML:2.0:status:';

/** A signed error Response: nested StatusCode, optional StatusMessage, no assertion. Always signed. */
export async function buildErrorResponse(input: ErrorResponseInput, signing: Pick<SigningOptions, 'key' | 'algorithm'>): Promise<string> {
  if (!TOP_LEVEL_STATUS.has(input.status)) {
    throw new PasarelaError('ERR_RESPONSE_STATUS', `"${input.status}" is not a top-level SAML error status (Requester, Responder, VersionMismatch)`);
  }
  if (input.subStatus !== undefined && (!input.subStatus.startsWith(STATUS_PREFIX) || TOP_LEVEL_STATUS.has(input.subStatus))) {
    throw new PasarelaError('ERR_RESPONSE_STATUS', `"${input.subStatus}" is not a second-level SAML status code`);
  }
  const id = newSamlId();
  // Attributes in c14n order: Destination, ID, InResponseTo, IssueInstant, Version.
  let head = `<samlp:Response xmlns:samlp="${NS.samlp}" Destination="${attr(input.destination, 'destination')}" ID="${id}"`;
  if (input.inResponseTo !== undefined) head += ` InResponseTo="${attr(input.inResponseTo, 'InResponseTo')}"`;
  head += ` IssueInstant="${samlInstant(input.now)}" Version="2.0">${ISSUER_IN_RESPONSE}${text(input.issuer, 'issuer')}</saml:Issuer>`;
  let status = `<samlp:Status><samlp:StatusCode Value="${input.status}">`;
  if (input.subStatus !== undefined) status += `<samlp:StatusCode Value="${attr(input.subStatus, 'status')}"></samlp:StatusCode>`;
  status += '</samlp:StatusCode>';
  if (input.message !== undefined && input.message !== '') {
    // Messages quote parts of the request; a character XML cannot carry becomes U+FFFD rather than failing the answer.
    const message = input.message.replace(new RegExp(NOT_XML_CHAR.source, 'gu'), '\uFFFD');
    status += `<samlp:StatusMessage>${text(message, 'StatusMessage')}</samlp:StatusMessage>`;
  }
  status += '</samlp:Status>';
  return wireForm(await signCanonical({ id, head, tail: `${status}</samlp:Response>` }, { key: signing.key, algorithm: signing.algorithm }));
}
