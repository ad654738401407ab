import { inflateRawSync } from 'node:zlib';
import { PasarelaError } from '../errors';

/**
 * Inbound SAML bindings for AuthnRequests: HTTP-Redirect (DEFLATE + base64 + URL-encoding,
 * detached signature over the raw query octets) and HTTP-POST (base64 of the XML itself).
 * Every size is capped before the work it bounds is done.
 */

export interface BindingLimits {
  /** Longest raw query string accepted by the Redirect binding (default 16 KiB), checked before decoding. */
  maxQueryLength?: number;
  /** Largest XML document after base64 / inflate (default 256 KiB). */
  maxXmlBytes?: number;
  /** Longest base64 SAMLRequest accepted by the POST binding (default 512 KiB). */
  maxPostBase64Length?: number;
}

export const DEFAULT_LIMITS: Readonly<Required<BindingLimits>> = {
  maxQueryLength: 16 * 1024,
  maxXmlBytes: 256 * 1024,
  maxPostBase64Length: 512 * 1024,
};

/** SAML bindings §3.4.3 / §3.5.3: RelayState MUST NOT exceed 80 bytes. */
export const MAX_RELAY_STATE_BYTES = 80;

export interface RedirectSignature {
  /** SigAlg, URL-decoded. */
  sigAlg: string;
  /** The decoded Signature octets. */
  value: Buffer;
  /** `SAMLRequest=<raw>[&RelayState=<raw>]&SigAlg=<raw>` exactly as received (bindings §3.4.4.1). */
  signedOctets: Buffer;
}

export interface DecodedRedirect {
  binding: 'redirect';
  xml: string;
  relayState?: string;
  /** Present when the query carried SigAlg and Signature. */
  signature?: RedirectSignature;
}

export interface DecodedPost {
  binding: 'post';
  xml: string;
  relayState?: string;
}

const SIGNED_PARAMS = ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'] as const;
type SignedParam = (typeof SIGNED_PARAMS)[number];

/**
 * Decode an HTTP-Redirect AuthnRequest. `rawQuery` is the query string exactly as received,
 * without the leading '?'. The raw (still percent-encoded) values are kept for the signature.
 */
export function decodeRedirect(rawQuery: string, limits: BindingLimits = {}): DecodedRedirect {
  const maxQuery = limits.maxQueryLength ?? DEFAULT_LIMITS.maxQueryLength;
  const maxXml = limits.maxXmlBytes ?? DEFAULT_LIMITS.maxXmlBytes;
  if (rawQuery.length > maxQuery) {
    throw new PasarelaError(
      'ERR_REDIRECT_QUERY_TOO_LONG',
      `HTTP-Redirect query string is ${rawQuery.length} characters; at most ${maxQuery} are accepted. Send large requests with the HTTP-POST binding.`,
    );
  }
  // RFC 3986: a query is ASCII; anything else was not percent-encoded and cannot be signed octets we agree on.
  if (/[^\x21-\x7e]/.test(rawQuery)) {
    throw new PasarelaError(
      'ERR_REDIRECT_QUERY_CHARS',
      'HTTP-Redirect query string contains spaces, control or non-ASCII characters; percent-encode every parameter value.',
    );
  }
  const raw: Partial<Record<SignedParam, string>> = {};
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (!(SIGNED_PARAMS as readonly string[]).includes(name)) continue; // other parameters are not ours and not signed
    const key = name as SignedParam;
    if (raw[key] !== undefined) {
      throw new PasarelaError('ERR_REDIRECT_DUPLICATE_PARAM', `HTTP-Redirect query string carries the ${key} parameter more than once.`);
    }
    raw[key] = eq === -1 ? '' : part.slice(eq + 1);
  }
  if (raw.SAMLRequest === undefined || raw.SAMLRequest === '') {
    throw new PasarelaError(
      'ERR_REDIRECT_SAMLREQUEST_MISSING',
      'HTTP-Redirect query string has no SAMLRequest parameter (an AuthnRequest, DEFLATE-compressed, base64-encoded, then URL-encoded).',
    );
  }

  const deflated = decodeBase64(percentDecode(raw.SAMLRequest, 'SAMLRequest', false), 'SAMLRequest', 'ERR_SAMLREQUEST_BASE64');
  const inflated = boundedInflate(deflated, maxXml, 'HTTP-Redirect');
  const xml = decodeUtf8(inflated);

  const relayState = raw.RelayState === undefined ? undefined : checkRelayState(percentDecode(raw.RelayState, 'RelayState', true));

  let signature: RedirectSignature | undefined;
  if (raw.SigAlg !== undefined || raw.Signature !== undefined) {
    if (raw.SigAlg === undefined || raw.SigAlg === '' || raw.Signature === undefined || raw.Signature === '') {
      throw new PasarelaError(
        'ERR_REDIRECT_SIGNATURE_INCOMPLETE',
        'HTTP-Redirect query string must carry both SigAlg and Signature, or neither.',
      );
    }
    // Exactly the octets as they appeared, in the order the binding fixes (CVE-2025-27773: never re-encode).
    const signed =
      `SAMLRequest=${raw.SAMLRequest}` + (raw.RelayState !== undefined ? `&RelayState=${raw.RelayState}` : '') + `&SigAlg=${raw.SigAlg}`;
    signature = {
      sigAlg: percentDecode(raw.SigAlg, 'SigAlg', false),
      value: decodeBase64(percentDecode(raw.Signature, 'Signature', false), 'Signature', 'ERR_SIGNATURE_BASE64'),
      signedOctets: Buffer.from(signed, 'ascii'),
    };
  }
  return { binding: 'redirect', xml, relayState: relayState === '' ? undefined : relayState, signature };
}

/**
 * DEFLATE (RFC 1951, no zlib wrapper) with the output capped before it is produced: a deflate
 * bomb stops at `maxXml` bytes (ruby-saml CVE-2025-25293).
 */
function boundedInflate(deflated: Buffer, maxXml: number, binding: 'HTTP-Redirect' | 'HTTP-POST'): Buffer {
  try {
    return inflateRawSync(deflated, { maxOutputLength: maxXml });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new PasarelaError(
        binding === 'HTTP-Redirect' ? 'ERR_REDIRECT_INFLATE_TOO_LARGE' : 'ERR_POST_INFLATE_TOO_LARGE',
        `${binding} SAMLRequest inflates to more than ${maxXml} bytes; refused.`,
      );
    }
    if (binding === 'HTTP-POST') {
      throw new PasarelaError(
        'ERR_POST_NOT_XML',
        'HTTP-POST SAMLRequest does not decode to XML. The POST binding carries base64 of the XML itself (raw DEFLATE, as node-saml sends by default, is accepted too).',
        { cause: err },
      );
    }
    const hint =
      deflated[0] === 0x78
        ? ' It starts with a zlib header (0x78): use raw DEFLATE (RFC 1951) without the zlib wrapper.'
        : deflated[0] === 0x3c
          ? ' It looks like uncompressed XML: the Redirect binding requires DEFLATE before base64.'
          : '';
    throw new PasarelaError('ERR_REDIRECT_INFLATE', `HTTP-Redirect SAMLRequest is not raw DEFLATE data (SAML bindings §3.4.4.1).${hint}`, { cause: err });
  }
}

/**
 * Decode an HTTP-POST AuthnRequest from the parsed form fields. Cl@ve 2 SPs post plain base64
 * of the XML, which is what SAML bindings §3.5.4 prescribes. node-saml deflates by default
 * (`skipRequestCompression: false`); rather than fail every such SP on its first try, a body
 * that is not XML goes through the same bounded inflate as the Redirect binding. The enveloped
 * signature covers the XML, so the compression changes nothing that is verified.
 */
export function decodePost(form: { SAMLRequest?: unknown; RelayState?: unknown }, limits: BindingLimits = {}): DecodedPost {
  const maxB64 = limits.maxPostBase64Length ?? DEFAULT_LIMITS.maxPostBase64Length;
  const maxXml = limits.maxXmlBytes ?? DEFAULT_LIMITS.maxXmlBytes;
  const field = (name: 'SAMLRequest' | 'RelayState'): string | undefined => {
    const v = form[name];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) {
      throw new PasarelaError('ERR_POST_DUPLICATE_FIELD', `HTTP-POST form carries the ${name} field more than once.`);
    }
    if (typeof v !== 'string') {
      throw new PasarelaError('ERR_POST_FIELD_TYPE', `HTTP-POST form field ${name} must be a plain string.`);
    }
    return v;
  };
  const b64 = field('SAMLRequest');
  const rawRelay = field('RelayState');
  if (b64 === undefined || b64 === '') {
    throw new PasarelaError(
      'ERR_POST_SAMLREQUEST_MISSING',
      'HTTP-POST form has no SAMLRequest field (the AuthnRequest XML, base64-encoded).',
    );
  }
  if (b64.length > maxB64) {
    throw new PasarelaError(
      'ERR_POST_TOO_LARGE',
      `HTTP-POST SAMLRequest is ${b64.length} base64 characters; at most ${maxB64} are accepted.`,
    );
  }
  const bytes = decodeBase64(b64, 'SAMLRequest', 'ERR_SAMLREQUEST_BASE64');
  if (bytes.length > maxXml) {
    throw new PasarelaError('ERR_POST_TOO_LARGE', `HTTP-POST SAMLRequest decodes to ${bytes.length} bytes; at most ${maxXml} are accepted.`);
  }
  const xmlBytes = looksLikeXml(bytes) ? bytes : boundedInflate(bytes, maxXml, 'HTTP-POST');
  if (!looksLikeXml(xmlBytes)) {
    throw new PasarelaError('ERR_POST_NOT_XML', 'HTTP-POST SAMLRequest does not decode to XML (base64 of the AuthnRequest XML, optionally raw DEFLATE-compressed first).');
  }
  const xml = decodeUtf8(xmlBytes);
  const relayState = rawRelay === undefined ? undefined : checkRelayState(rawRelay);
  return { binding: 'post', xml, relayState: relayState === '' ? undefined : relayState };
}

function checkRelayState(value: string): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_RELAY_STATE_BYTES) {
    throw new PasarelaError(
      'ERR_RELAYSTATE_TOO_LONG',
      `RelayState is ${bytes} bytes; SAML bindings allow at most ${MAX_RELAY_STATE_BYTES}. Keep a short reference to your state instead of the state itself.`,
    );
  }
  return value;
}

/** Percent-decoding of one query value; `plusIsSpace` for form-style text values (RelayState). */
function percentDecode(raw: string, name: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? raw.replace(/\+/g, ' ') : raw);
  } catch {
    throw new PasarelaError('ERR_REDIRECT_PERCENT_ENCODING', `HTTP-Redirect ${name} parameter has malformed percent-encoding.`);
  }
}

/**
 * Strict base64 (RFC 4648 §4, padded). Line breaks are tolerated (MIME-wrapped output of
 * some Java encoders); anything else outside the alphabet is refused with a hint.
 */
export function decodeBase64(value: string, name: string, code: string): Buffer {
  const compact = value.indexOf('\n') === -1 ? value : value.replace(/\r?\n/g, '');
  if (compact === '') throw new PasarelaError(code, `${name} is empty.`);
  // One pass over the value when it is valid (the hot path: a POST body is kilobytes); the hints only for a refusal.
  if (compact.length % 4 === 0 && BASE64.test(compact)) return Buffer.from(compact, 'base64');
  if (/[ \t]/.test(compact)) {
    throw new PasarelaError(code, `${name} is not valid base64: it contains spaces (was a '+' sent without percent-encoding as %2B?).`);
  }
  if (/[-_]/.test(compact)) {
    throw new PasarelaError(code, `${name} is not valid base64: it uses the base64url alphabet ('-', '_'); use standard base64.`);
  }
  throw new PasarelaError(code, `${name} is not valid base64 (standard alphabet, padded with '=' to a multiple of 4 characters).`);
}
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function looksLikeXml(bytes: Buffer): boolean {
  let i = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x3c;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new PasarelaError('ERR_SAMLREQUEST_UTF8', 'SAMLRequest XML is not valid UTF-8.');
  }
}
