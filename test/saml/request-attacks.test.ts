import { createHmac } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { BINDING, DIGEST_ALG, LOA, NS, SIG_ALG } from '../../src/saml/constants';
import { receiveAuthnRequest, type InboundAuthnRequestMessage, type ReceiveAuthnRequestOptions, type ReceiveAuthnRequestResult } from '../../src/saml/request';
import type { AcsEndpoint } from '../../src/saml/types';
import type { ServiceProvider } from '../../src/trust/types';
import {
  buildAuthnRequestXml,
  makeServiceProvider,
  memoryReplay,
  postAcs,
  postFormFor,
  postRequest,
  rawSign,
  redirectQueryFor,
  redirectRequest,
  rsaSigner,
  signAuthnRequestXml,
  trustOf,
  type SpRequestOptions,
  type SpSigner,
} from '../support/sp-requests';

/**
 * shared/protocol/attacks.md rows that apply to request intake. Every case either is refused,
 * or (for wrapping) is shown to yield only what the SP signed.
 */

const SP_ID = 'https://sp.example/metadata';
const ACS = 'https://sp.example/acs';
const EVIL_ACS = 'https://evil.example/steal';
const EVIL_ISSUER = 'https://evil.example/metadata';
const SSO = { redirect: 'https://pasarela.example/saml/sso', post: 'https://pasarela.example/saml/sso' };
const NOW = new Date('2025-06-01T10:00:00.000Z');
const ACS_LIST: AcsEndpoint[] = [postAcs(ACS, 0, true), postAcs('https://sp.example/acs2', 1)];

let rsa: SpSigner;
let attacker: SpSigner;
let provider: ServiceProvider;

beforeAll(() => {
  rsa = rsaSigner('sp signing');
  attacker = rsaSigner('attacker self-signed');
  provider = makeServiceProvider({ entityId: SP_ID, signers: [rsa], acs: ACS_LIST });
});

function options(over: Partial<ReceiveAuthnRequestOptions> = {}): ReceiveAuthnRequestOptions {
  return { trust: trustOf(provider), replay: memoryReplay(), now: NOW, clockSkewSeconds: 60, maxRequestAgeSeconds: 300, ssoUrls: SSO, ...over };
}

const spec = (o: Partial<SpRequestOptions> = {}): SpRequestOptions => ({
  signer: rsa,
  issuer: SP_ID,
  destination: SSO.post,
  issueInstant: NOW,
  id: '_orig',
  acsUrl: ACS,
  ...o,
});

/** The signed XML a legitimate SP sent. */
function signedXml(o: Partial<SpRequestOptions> = {}): string {
  return signAuthnRequestXml(buildAuthnRequestXml(spec(o)), { signer: rsa });
}
const asPost = (xml: string): InboundAuthnRequestMessage => ({ binding: 'post', form: postFormFor(xml) });
const sigOf = (xml: string): string => /<ds:Signature[\s\S]*?<\/ds:Signature>/.exec(xml)![0];
const withoutSig = (xml: string): string => xml.replace(sigOf(xml), '');
const ROOT_OPEN = /^<saml2p:AuthnRequest [^>]*>/;
/** The original's root start tag, rewritten into an attacker's root. */
function evilOpen(xml: string, id: string): string {
  return ROOT_OPEN.exec(xml)![0].replace(/ID="[^"]+"/, `ID="${id}"`).replace(ACS, EVIL_ACS);
}
/** The signed original renamed into a foreign element, so that only the other defences can catch it. */
const renamed = (xml: string): string => xml.replace(/^<saml2p:AuthnRequest/, '<x:Copy xmlns:x="urn:x"').replace(/<\/saml2p:AuthnRequest>$/, '</x:Copy>');
const ISSUER = `<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">${SP_ID}</saml2:Issuer>`;

function refused(r: ReceiveAuthnRequestResult, code: string, message?: RegExp): void {
  if (r.ok) throw new Error(`expected ${code}, but the request was accepted with ACS ${r.request.acs.location}`);
  expect(r.failure.code).toBe(code);
  if (message) expect(r.failure.message).toMatch(message);
  // A request whose authenticity is not proven never steers where we post.
  expect(r.failure.respondTo).toBeUndefined();
  expect(JSON.stringify(r)).not.toContain(EVIL_ACS);
}

// ---------------------------------------------------------------------------------------------

describe('XML signature wrapping, adapted to AuthnRequests', () => {
  const cases: Array<[string, () => string, string]> = [
    [
      'signed request wrapped inside an evil one (evil root, its own ID, original signature)',
      () => {
        const orig = signedXml();
        return `${evilOpen(orig, '_evil')}${ISSUER}${sigOf(orig)}<saml2p:Extensions><x:Wrap xmlns:x="urn:x">${withoutSig(orig)}</x:Wrap></saml2p:Extensions></saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_NESTED',
    ],
    [
      'XSW1: evil root, original placed inside the moved Signature',
      () => {
        const orig = signedXml();
        const sig = sigOf(orig).replace('</ds:Signature>', `${withoutSig(orig)}</ds:Signature>`);
        return `${evilOpen(orig, '_evil')}${ISSUER}${sig}</saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_NESTED',
    ],
    [
      'XSW2: evil root, original beside the Signature',
      () => {
        const orig = signedXml();
        return `${evilOpen(orig, '_evil')}${ISSUER}${sigOf(orig)}${withoutSig(orig)}</saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_NESTED',
    ],
    [
      'XSW7: signed original (with its Signature) parked in Extensions of an unsigned evil root',
      () => {
        const orig = signedXml();
        return `${evilOpen(orig, '_evil')}${ISSUER}<saml2p:Extensions><x:Ext xmlns:x="urn:x">${orig}</x:Ext></saml2p:Extensions></saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_NESTED',
    ],
    [
      'XSW8: original inside ds:Object of the Signature',
      () => {
        const orig = signedXml();
        const sig = sigOf(orig).replace('</ds:Signature>', `<ds:Object>${withoutSig(orig)}</ds:Object></ds:Signature>`);
        return `${evilOpen(orig, '_evil')}${ISSUER}${sig}</saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_NESTED',
    ],
    [
      'evil root reusing the signed ID, original copy kept elsewhere (duplicate ID)',
      () => {
        const orig = signedXml();
        const copy = withoutSig(orig).replace(ROOT_OPEN, (m) => m.replace('saml2p:AuthnRequest', 'x:Copy xmlns:x="urn:x"')).replace('</saml2p:AuthnRequest>', '</x:Copy>');
        return `${evilOpen(orig, '_orig')}${ISSUER}${sigOf(orig)}<saml2p:Extensions>${copy}</saml2p:Extensions></saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_DUPLICATE_ID',
    ],
    [
      'the same ID on an Id attribute of a foreign element (xml-crypto resolves ID, Id and id)',
      () => signedXml({ spType: 'public' }).replace('</saml2p:Extensions>', `<x:E xmlns:x="urn:x" Id="_orig" acs="${EVIL_ACS}"/></saml2p:Extensions>`),
      'ERR_REQUEST_DUPLICATE_ID',
    ],
    [
      'evil root with the signed ID and no copy: the digest no longer matches',
      () => {
        const orig = signedXml();
        return orig.replace(ROOT_OPEN, evilOpen(orig, '_orig'));
      },
      'ERR_REQUEST_SIGNATURE_INVALID',
    ],
    [
      'XSW1 with the copy renamed (no nested AuthnRequest): foreign element inside ds:Signature',
      () => {
        const orig = signedXml();
        const sig = sigOf(orig).replace('</ds:Signature>', `${renamed(withoutSig(orig))}</ds:Signature>`);
        return `${evilOpen(orig, '_evil')}${ISSUER}${sig}</saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_SIGNATURE_STRUCTURE',
    ],
    [
      'XSW8 with the copy renamed: ds:Object',
      () => {
        const orig = signedXml();
        const sig = sigOf(orig).replace('</ds:Signature>', `<ds:Object>${renamed(withoutSig(orig))}</ds:Object></ds:Signature>`);
        return `${evilOpen(orig, '_evil')}${ISSUER}${sig}</saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_SIGNATURE_STRUCTURE',
    ],
    [
      'original moved into Extensions, evil root signed by reference to it (no nested AuthnRequest, renamed copy)',
      () => {
        const orig = signedXml();
        return `${evilOpen(orig, '_evil')}${ISSUER}${sigOf(orig)}<saml2p:Extensions>${renamed(withoutSig(orig))}</saml2p:Extensions></saml2p:AuthnRequest>`;
      },
      'ERR_REQUEST_SIGNATURE_REFERENCE',
    ],
  ];

  it.each(cases)('%s', async (_name, build, code) => {
    const xml = build();
    expect(xml).toContain(EVIL_ACS);
    refused(await receiveAuthnRequest(asPost(xml), options()), code);
  });

  it('content outside the signed reference (inside KeyInfo) is never read', async () => {
    const orig = signedXml();
    const evil = orig.replace(
      /<ds:X509Data>/,
      `<ds:X509Data><x:Evil xmlns:x="urn:x" AssertionConsumerServiceURL="${EVIL_ACS}"><saml2:Issuer>${EVIL_ISSUER}</saml2:Issuer><saml2:AuthnContextClassRef>${LOA.high}</saml2:AuthnContextClassRef></x:Evil>`,
    );
    expect(evil).not.toBe(orig);
    const r = await receiveAuthnRequest(asPost(evil), options());
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.request.issuer).toBe(SP_ID);
    expect(r.request.acs.location).toBe(ACS);
    expect(r.request.requestedLoa.classRefs).toEqual([LOA.substantial]);
    expect(JSON.stringify(r.request)).not.toContain('evil');
  });

  it('comments added to a signed request do not change what is read (values come from the canonical signed node)', async () => {
    const orig = signedXml({ spType: 'public' });
    const commented = orig
      .replace('>public<', '>pub<!--x-->lic<')
      .replace(`>${LOA.substantial}<`, `>http://eidas.europa.eu/LoA/sub<!---->stantial<`);
    expect(commented).not.toBe(orig);
    const r = await receiveAuthnRequest(asPost(commented), options());
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.request.spType).toBe('public');
    expect(r.request.requestedLoa.classRefs).toEqual([LOA.substantial]);
  });

  it('comment injection in Issuer is refused (it is read before the trust lookup)', async () => {
    const orig = signedXml();
    const injected = orig.replace(`>${SP_ID}<`, `>${SP_ID}<!---->.evil.example<`);
    refused(await receiveAuthnRequest(asPost(injected), options()), 'ERR_XML_MIXED_CONTENT', /<Issuer> must contain text only/);
    const unsigned = buildAuthnRequestXml(spec()).replace(`>${SP_ID}<`, `>https://evil.example<!---->${SP_ID}<`);
    refused(await receiveAuthnRequest(asPost(unsigned), options()), 'ERR_XML_MIXED_CONTENT');
  });
});

describe('XML-DSig structure (xml-crypto CVE classes)', () => {
  it('two Signatures', async () => {
    const orig = signedXml();
    const second = signAuthnRequestXml(buildAuthnRequestXml(spec()), { signer: attacker });
    const xml = orig.replace('</saml2p:AuthnRequest>', `<saml2p:Scoping>${sigOf(second)}</saml2p:Scoping></saml2p:AuthnRequest>`);
    refused(await receiveAuthnRequest(asPost(xml), options()), 'ERR_REQUEST_SIGNATURE_COUNT', /contains 2 ds:Signature elements/);
  });

  it('a ds:Signature in a fake namespace does not count as one', async () => {
    const xml = signedXml().replace('<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"', '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#evil"');
    refused(await receiveAuthnRequest(asPost(xml), options()), 'ERR_REQUEST_UNSIGNED');
  });

  it('two SignedInfo (CVE-2025-29774)', async () => {
    const orig = signedXml();
    const si = /<ds:SignedInfo>[\s\S]*?<\/ds:SignedInfo>/.exec(orig)![0];
    refused(await receiveAuthnRequest(asPost(orig.replace(si, si + si)), options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE', /exactly one ds:SignedInfo \(found 2\)/);
  });

  it('two References (CVE-2025-29774)', async () => {
    const orig = signedXml();
    const ref = /<ds:Reference [\s\S]*?<\/ds:Reference>/.exec(orig)![0];
    refused(await receiveAuthnRequest(asPost(orig.replace(ref, ref + ref)), options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE', /exactly one ds:Reference/);
  });

  it('a comment inside DigestValue (CVE-2025-29775)', async () => {
    const xml = signedXml().replace('<ds:DigestValue>', '<ds:DigestValue><!--x-->');
    refused(await receiveAuthnRequest(asPost(xml), options()), 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT', /DigestValue must contain base64 text only/);
  });

  it('a comment inside SignatureValue', async () => {
    const xml = signedXml().replace('<ds:SignatureValue>', '<ds:SignatureValue><!--x-->');
    refused(await receiveAuthnRequest(asPost(xml), options()), 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT', /SignatureValue must contain base64 text only/);
  });

  it('DigestValue outside SignedInfo (ruby-saml CVE-2024-45409)', async () => {
    const orig = signedXml();
    const dv = /<ds:DigestValue>[^<]*<\/ds:DigestValue>/.exec(orig)![0];
    const moved = orig.replace(dv, '').replace('</ds:Signature>', `${dv}</ds:Signature>`);
    refused(await receiveAuthnRequest(asPost(moved), options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE');
    const extra = orig.replace('</ds:Signature>', `${dv}</ds:Signature>`);
    refused(await receiveAuthnRequest(asPost(extra), options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE', /<ds:DigestValue> is not allowed in ds:Signature/);
    const stray = orig.replace('</saml2p:AuthnRequest>', `<saml2p:Scoping>${dv.replace('<ds:DigestValue>', `<ds:DigestValue xmlns:ds="${NS.ds}">`)}</saml2p:Scoping></saml2p:AuthnRequest>`);
    refused(await receiveAuthnRequest(asPost(stray), options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE', /ds:DigestValue found outside a ds:Signature/);
  });
});

describe('keys and algorithms', () => {
  it('HMAC-SHA1 keyed with the SP certificate (POST)', async () => {
    const sx = new SignedXml({ privateKey: rsa.certPem, signatureAlgorithm: 'http://www.w3.org/2000/09/xmldsig#hmac-sha1', canonicalizationAlgorithm: NS.exc14n });
    sx.enableHMAC();
    sx.addReference({ xpath: '/*', transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', NS.exc14n], digestAlgorithm: DIGEST_ALG.sha256 });
    sx.computeSignature(buildAuthnRequestXml(spec()), { prefix: 'ds', location: { reference: "/*/*[local-name()='Issuer']", action: 'after' } });
    refused(await receiveAuthnRequest(asPost(sx.getSignedXml()), options()), 'ERR_REQUEST_SIGNATURE_ALGORITHM', /hmac-sha1" is not accepted \(HMAC signatures are never accepted\)/);
  });

  it('HMAC-SHA1 keyed with the SP certificate (Redirect)', async () => {
    let q = redirectQueryFor(buildAuthnRequestXml(spec({ destination: SSO.redirect })), {});
    q += `&SigAlg=${encodeURIComponent('http://www.w3.org/2000/09/xmldsig#hmac-sha1')}`;
    q += `&Signature=${encodeURIComponent(createHmac('sha1', rsa.certPem).update(q).digest('base64'))}`;
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options()), 'ERR_REQUEST_SIGALG', /HMAC signatures are never accepted/);
  });

  it('RSA-SHA1 without the operator opt-in, both bindings', async () => {
    const q = redirectRequest(spec({ destination: SSO.redirect, sigAlg: SIG_ALG.rsaSha1 }));
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options()), 'ERR_REQUEST_SIGALG', /SHA-1 is refused unless the operator enables allowSha1/);
    const form = postRequest(spec({ sigAlg: SIG_ALG.rsaSha1 }));
    refused(await receiveAuthnRequest({ binding: 'post', form }, options()), 'ERR_REQUEST_SIGNATURE_ALGORITHM', /SHA-1 is refused/);
  });

  it('a self-signed certificate in KeyInfo that is not in the metadata', async () => {
    const xml = signAuthnRequestXml(buildAuthnRequestXml(spec()), { signer: attacker, keyInfo: true });
    expect(xml).toContain('<ds:X509Certificate>');
    refused(await receiveAuthnRequest(asPost(xml), options()), 'ERR_REQUEST_SIGNATURE_INVALID', /a certificate in KeyInfo is never trusted/);
  });

  it('KeyInfo is not consulted at all: the SP signature verifies with the attacker certificate in KeyInfo', async () => {
    const b64 = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
    const xml = signedXml().replace(b64(rsa.certPem), b64(attacker.certPem));
    expect(xml).toContain(b64(attacker.certPem));
    const r = await receiveAuthnRequest(asPost(xml), options());
    expect(r.ok).toBe(true);
  });

  it('an open redirect through AssertionConsumerServiceURL is refused even from an SP that need not sign', async () => {
    const lax = makeServiceProvider({ entityId: SP_ID, acs: ACS_LIST, policy: { requireSignedRequests: false } });
    const form = postRequest(spec({ sign: false, acsUrl: EVIL_ACS }));
    const r = await receiveAuthnRequest({ binding: 'post', form }, options({ trust: trustOf(lax) }));
    if (r.ok) throw new Error('accepted');
    expect(r.failure.code).toBe('ERR_REQUEST_ACS_URL_UNKNOWN');
    expect(r.failure.respondTo).toBeUndefined();
  });
});

describe('parser and size limits', () => {
  const raw = (xml: string) => receiveAuthnRequest(asPost(xml), options());

  it('billion laughs', async () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>${buildAuthnRequestXml(spec({ providerName: '&lol3;' })).replace('&amp;lol3;', '&lol3;')}`;
    refused(await raw(lol), 'ERR_XML_DOCTYPE', /DOCTYPE or ENTITY/);
  });

  it('external entity', async () => {
    const xxe = `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${buildAuthnRequestXml(spec({ providerName: 'x' })).replace('ProviderName="x"', 'ProviderName="&xxe;"')}`;
    refused(await raw(xxe), 'ERR_XML_DOCTYPE');
    // Parameter entity smuggled without a DOCTYPE keyword is still an ENTITY declaration.
    refused(await raw(`<!ENTITY % p SYSTEM "http://evil.example/x.dtd">${buildAuthnRequestXml(spec())}`), 'ERR_XML_DOCTYPE');
  });

  it('two roots', async () => {
    const one = signedXml();
    refused(await raw(`${one}${buildAuthnRequestXml(spec({ id: '_second', acsUrl: EVIL_ACS }))}`), 'ERR_XML_MALFORMED', /only one root/);
  });

  it('a processing instruction', async () => {
    refused(await raw(`<?xml-stylesheet href="x"?>${signedXml()}`), 'ERR_XML_PI');
  });

  it('deflate bomb through the Redirect binding', async () => {
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 }).toString('base64');
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: `SAMLRequest=${encodeURIComponent(bomb)}` }, options()), 'ERR_REDIRECT_INFLATE_TOO_LARGE');
  });

  it('oversize Redirect query', async () => {
    const big = redirectRequest(spec({ destination: SSO.redirect, providerName: Array.from({ length: 4000 }, (_, i) => (i * 7919).toString(36)).join('') }));
    expect(big.length).toBeGreaterThan(16 * 1024);
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: big }, options()), 'ERR_REDIRECT_QUERY_TOO_LONG');
  });

  it('oversize POST', async () => {
    refused(await receiveAuthnRequest({ binding: 'post', form: { SAMLRequest: 'PA=='.repeat(140_000) } }, options()), 'ERR_POST_TOO_LARGE');
  });
});

describe('Redirect signature over the raw octets (SimpleSAMLphp CVE-2025-27773)', () => {
  const xml = () => buildAuthnRequestXml(spec({ destination: SSO.redirect }));
  const lower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

  function signedQuery(parts: { samlRequest: string; relayState?: string; sigAlg: string }, signOver?: string): string {
    let q = `SAMLRequest=${parts.samlRequest}`;
    if (parts.relayState !== undefined) q += `&RelayState=${parts.relayState}`;
    q += `&SigAlg=${parts.sigAlg}`;
    const sig = rawSign(SIG_ALG.rsaSha256, Buffer.from(signOver ?? q, 'ascii'), rsa.key).toString('base64');
    return `${q}&Signature=${encodeURIComponent(sig)}`;
  }
  const sr = () => encodeURIComponent(deflateRawSync(Buffer.from(xml())).toString('base64'));
  const sa = encodeURIComponent(SIG_ALG.rsaSha256);

  it('an SP that percent-encodes in lowercase verifies (we use the octets as received)', async () => {
    const q = signedQuery({ samlRequest: lower(sr()), relayState: lower(encodeURIComponent('a/b c')), sigAlg: lower(sa) });
    expect(q).toMatch(/%2f|%3a/);
    const r = await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options());
    expect(r.ok).toBe(true);
  });

  it('a signature over re-encoded (normalised) octets does not verify the octets actually sent', async () => {
    const parts = { samlRequest: lower(sr()), relayState: lower(encodeURIComponent('a/b c')), sigAlg: lower(sa) };
    const normalised = `SAMLRequest=${sr()}&RelayState=${encodeURIComponent('a/b c')}&SigAlg=${sa}`;
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: signedQuery(parts, normalised) }, options()), 'ERR_REQUEST_SIGNATURE_INVALID');
  });

  it('a signature over the parameters in another order does not verify', async () => {
    const parts = { samlRequest: sr(), relayState: 'rs', sigAlg: sa };
    const reordered = `RelayState=rs&SAMLRequest=${sr()}&SigAlg=${sa}`;
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: signedQuery(parts, reordered) }, options()), 'ERR_REQUEST_SIGNATURE_INVALID');
  });

  it('a RelayState added after signing breaks the signature', async () => {
    const signedWithout = signedQuery({ samlRequest: sr(), sigAlg: sa });
    const withRelay = signedWithout.replace('&SigAlg=', '&RelayState=injected&SigAlg=');
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: withRelay }, options()), 'ERR_REQUEST_SIGNATURE_INVALID');
    // ...and appending a second RelayState is a duplicate parameter.
    refused(await receiveAuthnRequest({ binding: 'redirect', rawQuery: `${signedQuery({ samlRequest: sr(), relayState: 'a', sigAlg: sa })}&RelayState=b` }, options()), 'ERR_REDIRECT_DUPLICATE_PARAM');
  });

  it('the binding of the ACS is enforced for Redirect requests too', async () => {
    const q = redirectRequest(spec({ destination: SSO.redirect, acsUrl: undefined, acsIndex: 5 }));
    const lax = makeServiceProvider({ entityId: SP_ID, signers: [rsa], acs: [...ACS_LIST, { index: 5, binding: BINDING.redirect, location: EVIL_ACS, isDefault: false }] });
    const r = await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options({ trust: trustOf(lax) }));
    if (r.ok) throw new Error('accepted');
    expect(r.failure.code).toBe('ERR_REQUEST_ACS_INDEX_BINDING');
    expect(r.failure.respondTo).toBeUndefined();
  });
});
