import { deflateRawSync, deflateSync } from 'node:zlib';
import { PasarelaError } from '../../src/errors';
import { decodePost, decodeRedirect, DEFAULT_LIMITS } from '../../src/saml/bindings';

const XML = '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0"/>';
const enc = encodeURIComponent;
const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');
const redirectValue = (xml: string): string => enc(b64(deflateRawSync(Buffer.from(xml, 'utf8'))));

function errorOf(fn: () => unknown): PasarelaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PasarelaError) return err;
    throw err;
  }
  throw new Error('expected a PasarelaError');
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  const err = errorOf(fn);
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}

describe('decodeRedirect', () => {
  it('decodes an unsigned request with RelayState (form-style "+" is a space in RelayState)', () => {
    const out = decodeRedirect(`SAMLRequest=${redirectValue(XML)}&RelayState=a+b%2Fc`);
    expect(out).toEqual({ binding: 'redirect', xml: XML, relayState: 'a b/c', signature: undefined });
  });

  it('keeps the raw octets of the signed parameters, in binding order whatever the query order', () => {
    const sr = redirectValue(XML);
    const rs = 'token%20one';
    const sa = enc('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const sig = enc(b64('not really a signature'));
    const out = decodeRedirect(`Signature=${sig}&foo=bar&SigAlg=${sa}&RelayState=${rs}&SAMLRequest=${sr}`);
    expect(out.signature?.signedOctets.toString('ascii')).toBe(`SAMLRequest=${sr}&RelayState=${rs}&SigAlg=${sa}`);
    expect(out.signature?.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(out.signature?.value.toString()).toBe('not really a signature');
    expect(out.relayState).toBe('token one');
  });

  it('keeps lowercase percent-encoding as received in the signed octets (never re-encodes)', () => {
    const sr = redirectValue(XML).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const sa = 'http%3a%2f%2fwww.w3.org%2f2001%2f04%2fxmldsig-more%23rsa-sha256';
    const out = decodeRedirect(`SAMLRequest=${sr}&SigAlg=${sa}&Signature=AAAA`);
    expect(out.signature?.signedOctets.toString('ascii')).toBe(`SAMLRequest=${sr}&SigAlg=${sa}`);
    expect(out.xml).toBe(XML);
  });

  it('an empty RelayState parameter is part of the signed octets but not a RelayState value', () => {
    const sr = redirectValue(XML);
    const out = decodeRedirect(`SAMLRequest=${sr}&RelayState=&SigAlg=x&Signature=AAAA`);
    expect(out.signature?.signedOctets.toString('ascii')).toBe(`SAMLRequest=${sr}&RelayState=&SigAlg=x`);
    expect(out.relayState).toBeUndefined();
  });

  it('caps the raw query length before decoding anything', () => {
    const long = `SAMLRequest=${'A'.repeat(DEFAULT_LIMITS.maxQueryLength)}`;
    expectError(() => decodeRedirect(long), 'ERR_REDIRECT_QUERY_TOO_LONG', /at most 16384 .*HTTP-POST/);
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}`, { maxQueryLength: 10 }), 'ERR_REDIRECT_QUERY_TOO_LONG', /at most 10/);
  });

  it('refuses characters that were not percent-encoded', () => {
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}&RelayState=é`), 'ERR_REDIRECT_QUERY_CHARS', /percent-encode/);
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}&RelayState=a b`), 'ERR_REDIRECT_QUERY_CHARS', /percent-encode/);
  });

  it.each(['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'])('refuses a duplicated %s parameter', (name) => {
    const q = `SAMLRequest=${redirectValue(XML)}&RelayState=r&SigAlg=s&Signature=AAAA&${name}=again`;
    expectError(() => decodeRedirect(q), 'ERR_REDIRECT_DUPLICATE_PARAM', new RegExp(`${name} parameter more than once`));
  });

  it('requires SAMLRequest', () => {
    expectError(() => decodeRedirect('SAMLResponse=abc&RelayState=x'), 'ERR_REDIRECT_SAMLREQUEST_MISSING', /no SAMLRequest/);
    expectError(() => decodeRedirect('SAMLRequest='), 'ERR_REDIRECT_SAMLREQUEST_MISSING', /no SAMLRequest/);
  });

  it('refuses malformed percent-encoding', () => {
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}&RelayState=%E0%A4%A`), 'ERR_REDIRECT_PERCENT_ENCODING', /RelayState/);
  });

  it.each([
    ['spaces (an unencoded + turned into a space)', 'abc%20def', /spaces/],
    ['base64url', 'ab-_', /base64url/],
    ['missing padding', 'abc', /padded/],
    ['foreign characters', 'ab*d', /not valid base64/],
  ])('refuses SAMLRequest with %s', (_n, value, message) => {
    expectError(() => decodeRedirect(`SAMLRequest=${value}`), 'ERR_SAMLREQUEST_BASE64', message);
  });

  it('refuses data that is not raw DEFLATE, with a hint for the zlib wrapper and for uncompressed XML', () => {
    expectError(() => decodeRedirect(`SAMLRequest=${enc(b64(deflateSync(XML)))}`), 'ERR_REDIRECT_INFLATE', /zlib header/);
    expectError(() => decodeRedirect(`SAMLRequest=${enc(b64(XML))}`), 'ERR_REDIRECT_INFLATE', /uncompressed XML/);
    expectError(() => decodeRedirect(`SAMLRequest=${enc(b64('garbage!'))}`), 'ERR_REDIRECT_INFLATE', /not raw DEFLATE/);
  });

  it('stops a deflate bomb at 256 KiB of output', () => {
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 });
    const q = `SAMLRequest=${enc(b64(bomb))}`;
    expect(q.length).toBeLessThan(DEFAULT_LIMITS.maxQueryLength);
    expectError(() => decodeRedirect(q), 'ERR_REDIRECT_INFLATE_TOO_LARGE', /more than 262144 bytes/);
  });

  it('refuses XML that is not UTF-8', () => {
    const latin1 = Buffer.from('<a>caf\xe9</a>', 'latin1');
    expectError(() => decodeRedirect(`SAMLRequest=${enc(b64(deflateRawSync(latin1)))}`), 'ERR_SAMLREQUEST_UTF8', /UTF-8/);
  });

  it('needs SigAlg and Signature together', () => {
    const sr = redirectValue(XML);
    expectError(() => decodeRedirect(`SAMLRequest=${sr}&SigAlg=x`), 'ERR_REDIRECT_SIGNATURE_INCOMPLETE', /both SigAlg and Signature/);
    expectError(() => decodeRedirect(`SAMLRequest=${sr}&Signature=AAAA`), 'ERR_REDIRECT_SIGNATURE_INCOMPLETE', /both SigAlg and Signature/);
  });

  it('refuses a Signature that is not base64', () => {
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}&SigAlg=x&Signature=%%%`), 'ERR_REDIRECT_PERCENT_ENCODING', /Signature/);
    expectError(() => decodeRedirect(`SAMLRequest=${redirectValue(XML)}&SigAlg=x&Signature=abc`), 'ERR_SIGNATURE_BASE64', /Signature is not valid base64/);
  });

  it('allows RelayState up to 80 bytes, counted in UTF-8', () => {
    const sr = redirectValue(XML);
    expect(decodeRedirect(`SAMLRequest=${sr}&RelayState=${'r'.repeat(80)}`).relayState).toHaveLength(80);
    expectError(() => decodeRedirect(`SAMLRequest=${sr}&RelayState=${'r'.repeat(81)}`), 'ERR_RELAYSTATE_TOO_LONG', /81 bytes.*at most 80/);
    expectError(() => decodeRedirect(`SAMLRequest=${sr}&RelayState=${enc('é'.repeat(41))}`), 'ERR_RELAYSTATE_TOO_LONG', /82 bytes/);
  });
});

describe('decodePost', () => {
  it('decodes plain base64 (not deflated) and RelayState', () => {
    expect(decodePost({ SAMLRequest: b64(XML), RelayState: 'xyz' })).toEqual({ binding: 'post', xml: XML, relayState: 'xyz' });
    expect(decodePost({ SAMLRequest: b64(XML) })).toEqual({ binding: 'post', xml: XML, relayState: undefined });
  });

  it('accepts MIME line-wrapped base64 and a UTF-8 BOM', () => {
    const wrapped = b64(`\ufeff${XML}`).replace(/.{76}/g, '$&\r\n');
    expect(wrapped).toContain('\r\n');
    expect(decodePost({ SAMLRequest: wrapped }).xml).toBe(XML);
  });

  it('requires SAMLRequest', () => {
    expectError(() => decodePost({}), 'ERR_POST_SAMLREQUEST_MISSING', /no SAMLRequest/);
    expectError(() => decodePost({ SAMLRequest: '' }), 'ERR_POST_SAMLREQUEST_MISSING', /no SAMLRequest/);
  });

  it('refuses duplicated or non-string fields', () => {
    expectError(() => decodePost({ SAMLRequest: [b64(XML), b64(XML)] }), 'ERR_POST_DUPLICATE_FIELD', /SAMLRequest field more than once/);
    expectError(() => decodePost({ SAMLRequest: b64(XML), RelayState: ['a', 'b'] }), 'ERR_POST_DUPLICATE_FIELD', /RelayState/);
    expectError(() => decodePost({ SAMLRequest: { nested: 'x' } }), 'ERR_POST_FIELD_TYPE', /plain string/);
    expectError(() => decodePost({ SAMLRequest: b64(XML), RelayState: 7 }), 'ERR_POST_FIELD_TYPE', /RelayState/);
  });

  it('caps the base64 length before decoding, and the decoded size', () => {
    expectError(() => decodePost({ SAMLRequest: 'A'.repeat(512 * 1024 + 4) }), 'ERR_POST_TOO_LARGE', /at most 524288/);
    expectError(() => decodePost({ SAMLRequest: b64(XML) }, { maxXmlBytes: 20 }), 'ERR_POST_TOO_LARGE', /at most 20 are accepted/);
  });

  it('uses the strict base64 alphabet', () => {
    expectError(() => decodePost({ SAMLRequest: b64(XML).replace(/\+/g, ' ') + ' ' }), 'ERR_SAMLREQUEST_BASE64', /spaces/);
    expectError(() => decodePost({ SAMLRequest: `${b64(XML)}!` }), 'ERR_SAMLREQUEST_BASE64', /not valid base64/);
  });

  it('accepts a raw-DEFLATE POST body (node-saml default) through the same bounded inflate', () => {
    expect(decodePost({ SAMLRequest: b64(deflateRawSync(XML)), RelayState: 'r' })).toEqual({ binding: 'post', xml: XML, relayState: 'r' });
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    expectError(() => decodePost({ SAMLRequest: b64(bomb) }), 'ERR_POST_INFLATE_TOO_LARGE', /inflates to more than 262144 bytes/);
  });

  it('refuses a body that is neither XML nor raw DEFLATE of XML', () => {
    expectError(() => decodePost({ SAMLRequest: b64(Buffer.from('not xml at all')) }), 'ERR_POST_NOT_XML', /does not decode to XML/);
    expectError(() => decodePost({ SAMLRequest: b64(deflateSync(XML)) }), 'ERR_POST_NOT_XML', /does not decode to XML/);
    expectError(() => decodePost({ SAMLRequest: b64(deflateRawSync('plain text')) }), 'ERR_POST_NOT_XML', /does not decode to XML/);
  });

  it('refuses XML that is not UTF-8', () => {
    expectError(() => decodePost({ SAMLRequest: b64(Buffer.from('<a>caf\xe9</a>', 'latin1')) }), 'ERR_SAMLREQUEST_UTF8', /UTF-8/);
  });

  it('limits RelayState to 80 bytes', () => {
    expectError(() => decodePost({ SAMLRequest: b64(XML), RelayState: 'x'.repeat(81) }), 'ERR_RELAYSTATE_TOO_LONG', /at most 80/);
  });
});
