import { BINDING, CLAVE, DIGEST_ALG, EIDAS_ATTR, LOA, NAMEID_FORMAT, SIG_ALG, STATUS } from '../../src/saml/constants';
import {
  receiveAuthnRequest,
  selectAcs,
  type InboundAuthnRequestMessage,
  type ReceiveAuthnRequestOptions,
  type ReceiveAuthnRequestResult,
} from '../../src/saml/request';
import type { AcsEndpoint, SamlRequestFailure } from '../../src/saml/types';
import type { ServiceProvider, SpPolicy } from '../../src/trust/types';
import {
  buildAuthnRequestXml,
  CLAVE_ATTRS,
  ecSigner,
  makeServiceProvider,
  memoryReplay,
  newRequestId,
  postAcs,
  postFormFor,
  postRequest,
  redirectQueryFor,
  redirectRequest,
  rsaSigner,
  signAuthnRequestXml,
  trustOf,
  type SpRequestOptions,
  type SpSigner,
} from '../support/sp-requests';
import { xmlsecVerify } from '../support/xmlsec';

const SP_ID = 'https://sp.example/metadata';
const ACS = 'https://sp.example/acs';
const ACS2 = 'https://sp.example/acs2';
const SSO = { redirect: 'https://pasarela.example/saml/sso', post: 'https://pasarela.example/saml/sso/post' };
const NOW = new Date('2025-06-01T10:00:00.000Z');

let rsa: SpSigner;
let rsa2: SpSigner;
let ec: SpSigner;
let ec384: SpSigner;
let attacker: SpSigner;

beforeAll(() => {
  rsa = rsaSigner('sp signing');
  rsa2 = rsaSigner('sp next signing');
  ec = ecSigner('sp ec');
  ec384 = ecSigner('sp ec 384', 'secp384r1');
  attacker = rsaSigner('attacker');
});

const ACS_LIST: AcsEndpoint[] = [
  postAcs(ACS, 0, true),
  postAcs(ACS2, 1),
  { index: 2, binding: BINDING.redirect, location: 'https://sp.example/acs-redirect', isDefault: false },
];

function sp(over: { policy?: Partial<SpPolicy>; acs?: AcsEndpoint[]; signers?: SpSigner[]; authnRequestsSigned?: boolean } = {}): ServiceProvider {
  return makeServiceProvider({ entityId: SP_ID, signers: over.signers ?? [rsa, ec, ec384], acs: over.acs ?? ACS_LIST, policy: over.policy, authnRequestsSigned: over.authnRequestsSigned });
}

function options(over: Partial<ReceiveAuthnRequestOptions> & { provider?: ServiceProvider } = {}): ReceiveAuthnRequestOptions {
  const { provider, ...rest } = over;
  return {
    trust: trustOf(provider ?? sp()),
    replay: memoryReplay(),
    now: NOW,
    clockSkewSeconds: 60,
    maxRequestAgeSeconds: 300,
    ssoUrls: SSO,
    ...rest,
  };
}

const base = (binding: 'redirect' | 'post', o: Partial<SpRequestOptions>): SpRequestOptions => ({
  signer: rsa,
  issuer: SP_ID,
  destination: SSO[binding],
  issueInstant: NOW,
  ...o,
});

function redirect(o: Partial<SpRequestOptions> = {}): InboundAuthnRequestMessage {
  return { binding: 'redirect', rawQuery: redirectRequest(base('redirect', o)) };
}
function post(o: Partial<SpRequestOptions> = {}): InboundAuthnRequestMessage {
  return { binding: 'post', form: postRequest(base('post', o)) };
}
/** Decode a POST form, rewrite the (signed) XML, encode again. */
function tamper(msg: InboundAuthnRequestMessage, fn: (xml: string) => string): InboundAuthnRequestMessage {
  if (msg.binding !== 'post') throw new Error('post only');
  const xml = Buffer.from(String(msg.form.SAMLRequest), 'base64').toString('utf8');
  return { binding: 'post', form: { ...msg.form, SAMLRequest: Buffer.from(fn(xml), 'utf8').toString('base64') } };
}

function accepted(r: ReceiveAuthnRequestResult) {
  if (!r.ok) throw new Error(`expected acceptance, got ${r.failure.code}: ${r.failure.message}`);
  return r;
}

function rejected(r: ReceiveAuthnRequestResult, code: string, message: RegExp, respond: boolean): SamlRequestFailure {
  if (r.ok) throw new Error(`expected ${code}, but the request was accepted`);
  expect(r.failure.code).toBe(code);
  expect(r.failure.message).toMatch(message);
  if (respond) {
    expect(r.failure.respondTo).toBeDefined();
    expect(r.failure.respondTo!.spEntityId).toBe(SP_ID);
  } else {
    expect(r.failure.respondTo).toBeUndefined();
  }
  return r.failure;
}

// ---------------------------------------------------------------------------------------------

describe('accepted requests', () => {
  it('HTTP-Redirect, RSA-SHA256, with RelayState', async () => {
    const id = newRequestId();
    const replay = memoryReplay();
    const r = accepted(await receiveAuthnRequest(redirect({ id, relayState: 'state 1' }), options({ replay })));
    expect(r.sp.entityId).toBe(SP_ID);
    expect(r.request).toEqual({
      id,
      issuer: SP_ID,
      issueInstant: NOW,
      destination: SSO.redirect,
      binding: 'redirect',
      acs: ACS_LIST[0],
      forceAuthn: false,
      isPassive: false,
      nameIdFormat: 'persistent',
      allowCreate: true,
      requestedLoa: { comparison: 'minimum', classRefs: [LOA.substantial] },
      eidasExtensions: false,
      requestedAttributes: [],
      excludedMethods: [],
      relayState: 'state 1',
    });
    expect([...replay.keys]).toEqual([[`req:${SP_ID}:${id}`, (300 + 2 * 60) * 1000]]);
  });

  const algs: Array<[string, () => SpSigner, string]> = [
    ['RSA-SHA256', () => rsa, SIG_ALG.rsaSha256],
    ['RSA-SHA384', () => rsa, SIG_ALG.rsaSha384],
    ['RSA-SHA512', () => rsa, SIG_ALG.rsaSha512],
    ['RSASSA-PSS SHA-256', () => rsa, SIG_ALG.rsaPssSha256],
    ['RSASSA-PSS SHA-384', () => rsa, SIG_ALG.rsaPssSha384],
    ['RSASSA-PSS SHA-512', () => rsa, SIG_ALG.rsaPssSha512],
    ['ECDSA P-256 SHA-256', () => ec, SIG_ALG.ecdsaSha256],
    ['ECDSA P-384 SHA-384', () => ec384, SIG_ALG.ecdsaSha384],
    ['ECDSA P-256 SHA-512', () => ec, SIG_ALG.ecdsaSha512],
  ];
  it.each(algs)('HTTP-Redirect signed with %s', async (_n, signer, sigAlg) => {
    const r = accepted(await receiveAuthnRequest(redirect({ signer: signer(), sigAlg }), options()));
    expect(r.request.binding).toBe('redirect');
  });
  it.each(algs)('HTTP-POST signed with %s', async (_n, signer, sigAlg) => {
    const r = accepted(await receiveAuthnRequest(post({ signer: signer(), sigAlg, relayState: 'rs' }), options()));
    expect(r.request.binding).toBe('post');
    expect(r.request.relayState).toBe('rs');
  });
  it.each([DIGEST_ALG.sha384, DIGEST_ALG.sha512])('HTTP-POST with DigestMethod %s', async (digestAlg) => {
    accepted(await receiveAuthnRequest(post({ digestAlg }), options()));
  });

  it('the test SP signs POST requests the way xmlsec1 (an independent implementation) verifies them', async () => {
    for (const [signer, sigAlg] of [
      [rsa, SIG_ALG.rsaSha256],
      [rsa, SIG_ALG.rsaSha512],
      [ec, SIG_ALG.ecdsaSha256],
    ] as const) {
      const msg = post({ signer, sigAlg });
      const xml = Buffer.from(String(msg.binding === 'post' && msg.form.SAMLRequest), 'base64').toString('utf8');
      const v = await xmlsecVerify(xml, { certPem: signer.certPem, node: 'request' });
      expect({ sigAlg, ok: v.ok, err: v.ok ? '' : v.stderr }).toEqual({ sigAlg, ok: true, err: '' });
      accepted(await receiveAuthnRequest(msg, options()));
    }
  });

  it('a Cl@ve 2 style POST request (clave-eidas.md §1.2)', async () => {
    const msg = post({
      prefix: 'saml2p',
      sigAlg: SIG_ALG.rsaSha512,
      digestAlg: DIGEST_ALG.sha512,
      acsUrl: ACS2,
      providerName: 's0000000x_e00000000;MiApp',
      forceAuthn: true,
      isPassive: false,
      spType: 'public',
      nameIdFormat: NAMEID_FORMAT.unspecified,
      loa: LOA.low,
      comparison: 'minimum',
      requestedAttributes: [
        { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', isRequired: true },
        { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', isRequired: true },
        { name: CLAVE.firstSurname, friendlyName: 'FirstSurname', isRequired: false },
        { ...CLAVE_ATTRS.excludePermanente, isRequired: false },
        { ...CLAVE_ATTRS.excludeEidas, isRequired: true }, // isRequired means nothing on selector attributes
        { ...CLAVE_ATTRS.excludeMovil },
        CLAVE_ATTRS.relayState('Xy7Ab9Qz'),
      ],
      relayState: 'dummyvalue',
    });
    const r = accepted(await receiveAuthnRequest(msg, options()));
    expect(r.request).toMatchObject({
      acs: ACS_LIST[1],
      providerName: 's0000000x_e00000000;MiApp',
      forceAuthn: true,
      isPassive: false,
      spType: 'public',
      eidasExtensions: true,
      nameIdFormat: 'persistent',
      requestedLoa: { comparison: 'minimum', classRefs: [LOA.low] },
      excludedMethods: ['permanente', 'eidas', 'movil'],
      claveRelayState: 'Xy7Ab9Qz',
      relayState: 'dummyvalue',
    });
    expect(r.request.requestedAttributes).toEqual([
      { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', isRequired: true, values: [] },
      { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', isRequired: true, values: [] },
      { name: CLAVE.firstSurname, friendlyName: 'FirstSurname', isRequired: false, values: [] },
    ]);
  });

  it('key rollover: any signing key in the metadata verifies', async () => {
    const provider = sp({ signers: [rsa, rsa2] });
    accepted(await receiveAuthnRequest(redirect({ signer: rsa2 }), options({ provider })));
    accepted(await receiveAuthnRequest(post({ signer: rsa2 }), options({ provider })));
  });

  it('unsigned requests when neither policy nor metadata require a signature', async () => {
    const provider = sp({ policy: { requireSignedRequests: false } });
    accepted(await receiveAuthnRequest(redirect({ sign: false }), options({ provider })));
    accepted(await receiveAuthnRequest(post({ sign: false }), options({ provider })));
  });

  it('RSA-SHA1 only for an SP the operator opted in', async () => {
    const provider = sp({ policy: { allowSha1: true } });
    accepted(await receiveAuthnRequest(redirect({ sigAlg: SIG_ALG.rsaSha1 }), options({ provider })));
    accepted(await receiveAuthnRequest(post({ sigAlg: SIG_ALG.rsaSha1, digestAlg: DIGEST_ALG.sha1 }), options({ provider })));
  });

  it('parses xs:boolean 1/0 and keeps ForceAuthn / IsPassive', async () => {
    const mutateXml = (x: string) => x.replace('Consent=', 'ForceAuthn="1" IsPassive=" 0 " Consent=');
    const r = accepted(await receiveAuthnRequest(post({ mutateXml }), options()));
    expect(r.request).toMatchObject({ forceAuthn: true, isPassive: false });
    const r2 = accepted(await receiveAuthnRequest(redirect({ isPassive: true }), options()));
    expect(r2.request.isPassive).toBe(true);
  });

  it('absent Comparison means exact (SAML core), absent RequestedAuthnContext means minimum of the SP policy', async () => {
    const r = accepted(await receiveAuthnRequest(post({ comparison: null, loa: LOA.high }), options()));
    expect(r.request.requestedLoa).toEqual({ comparison: 'exact', classRefs: [LOA.high] });
    const provider = sp({ policy: { minLoa: 'substantial' } });
    const r2 = accepted(await receiveAuthnRequest(post({ loa: null }), options({ provider })));
    expect(r2.request.requestedLoa).toEqual({ comparison: 'minimum', classRefs: [LOA.substantial] });
  });

  it('NameIDPolicy: unspecified or absent -> first policy format; persistent/transient as asked; AllowCreate kept', async () => {
    const provider = sp({ policy: { nameIdFormats: ['transient', 'persistent'] } });
    const o = options({ provider });
    expect(accepted(await receiveAuthnRequest(post({ nameIdFormat: NAMEID_FORMAT.unspecified }), o)).request.nameIdFormat).toBe('transient');
    expect(accepted(await receiveAuthnRequest(post({ nameIdFormat: null }), o)).request).toMatchObject({ nameIdFormat: 'transient', allowCreate: true });
    const r = accepted(await receiveAuthnRequest(post({ nameIdFormat: NAMEID_FORMAT.persistent, allowCreate: false }), o));
    expect(r.request).toMatchObject({ nameIdFormat: 'persistent', allowCreate: false });
  });

  it('non-required attributes we do not release are kept as requested (not refused)', async () => {
    const gender = 'http://eidas.europa.eu/attributes/naturalperson/Gender';
    const r = accepted(await receiveAuthnRequest(post({ requestedAttributes: [{ name: gender, isRequired: false }] }), options()));
    expect(r.request.requestedAttributes).toEqual([{ name: gender, isRequired: false, values: [] }]);
    // eidas:RequestedAttributes alone (no SPType) marks an eIDAS SP too.
    expect(r.request.eidasExtensions).toBe(true);
  });

  it('foreign-namespace extensions are ignored', async () => {
    const r = accepted(
      await receiveAuthnRequest(post({ spType: 'private', extensionsXml: '<x:Hint xmlns:x="urn:example:ext"><x:Deep a="1">v</x:Deep></x:Hint>' }), options()),
    );
    expect(r.request.spType).toBe('private');
    expect(r.request.eidasExtensions).toBe(true);
  });

  it('Conditions and Scoping are accepted in schema order', async () => {
    const trailingXml =
      '<saml2p:Scoping ProxyCount="1"><saml2p:IDPList><saml2p:IDPEntry ProviderID="https://idp.example"/></saml2p:IDPList></saml2p:Scoping>';
    accepted(await receiveAuthnRequest(post({ trailingXml }), options()));
  });
});

// ---------------------------------------------------------------------------------------------

describe('ACS selection', () => {
  it('exact AssertionConsumerServiceURL, index, isDefault, lowest index', async () => {
    expect(accepted(await receiveAuthnRequest(post({ acsUrl: ACS2 }), options())).request.acs).toEqual(ACS_LIST[1]);
    expect(accepted(await receiveAuthnRequest(redirect({ acsIndex: 1 }), options())).request.acs).toEqual(ACS_LIST[1]);
    expect(accepted(await receiveAuthnRequest(redirect({}), options())).request.acs).toEqual(ACS_LIST[0]);
    const noDefault = [postAcs(ACS2, 7), postAcs(ACS, 3)];
    expect(selectAcs(noDefault, {})).toEqual(noDefault[1]);
    expect(selectAcs(noDefault, { protocolBinding: BINDING.post, acsUrl: ACS2 })).toEqual(noDefault[0]);
  });

  it('both URL and index -> error page', async () => {
    const r = await receiveAuthnRequest(post({ acsUrl: ACS, acsIndex: 0 }), options());
    rejected(r, 'ERR_REQUEST_ACS_AMBIGUOUS', /both AssertionConsumerServiceURL and AssertionConsumerServiceIndex/, false);
  });

  it.each([
    ['unlisted', 'https://evil.example/acs'],
    ['trailing slash', `${ACS}/`],
    ['other case', ACS.toUpperCase()],
    ['listed only with the Redirect binding', 'https://sp.example/acs-redirect'],
  ])('an AssertionConsumerServiceURL that is %s -> error page, never a POST', async (_n, url) => {
    const r = await receiveAuthnRequest(post({ acsUrl: url }), options());
    rejected(r, 'ERR_REQUEST_ACS_URL_UNKNOWN', /is not an HTTP-POST AssertionConsumerService in the SP metadata \(registered: /, false);
  });

  it('unknown index / index of a non-POST endpoint', async () => {
    rejected(await receiveAuthnRequest(post({ acsIndex: 9 }), options()), 'ERR_REQUEST_ACS_INDEX_UNKNOWN', /index 9 does not exist/i, false);
    rejected(await receiveAuthnRequest(post({ acsIndex: 2 }), options()), 'ERR_REQUEST_ACS_INDEX_BINDING', /index 2 uses .*HTTP-Redirect/, false);
  });

  it('ProtocolBinding other than HTTP-POST', async () => {
    const r = await receiveAuthnRequest(post({ protocolBinding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact' }), options());
    rejected(r, 'ERR_REQUEST_PROTOCOL_BINDING', /HTTP-Artifact" is not supported/, false);
  });

  it('metadata without any POST ACS', async () => {
    const provider = sp({ acs: [ACS_LIST[2]!] });
    rejected(await receiveAuthnRequest(post({}), options({ provider })), 'ERR_REQUEST_ACS_NONE', /no HTTP-POST AssertionConsumerService/, false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('refused before the SP is trusted (error page, no respondTo)', () => {
  it('binding errors surface with their own code', async () => {
    rejected(await receiveAuthnRequest({ binding: 'redirect', rawQuery: 'RelayState=x' }, options()), 'ERR_REDIRECT_SAMLREQUEST_MISSING', /no SAMLRequest/, false);
    rejected(await receiveAuthnRequest({ binding: 'post', form: { SAMLRequest: ['a', 'b'] } }, options()), 'ERR_POST_DUPLICATE_FIELD', /more than once/, false);
  });

  it('malformed XML and excessive nesting', async () => {
    rejected(await receiveAuthnRequest({ binding: 'post', form: postFormFor('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID=></samlp:AuthnRequest>') }, options()), 'ERR_XML_MALFORMED', /not well-formed/, false);
    const deep = `${'<x>'.repeat(100)}${'</x>'.repeat(100)}`;
    rejected(await receiveAuthnRequest({ binding: 'post', form: postFormFor(deep) }, options()), 'ERR_XML_DEPTH', /deeper than 64/, false);
  });

  it('root must be samlp:AuthnRequest by namespace, not by prefix', async () => {
    const logout = postFormFor('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"/>');
    rejected(await receiveAuthnRequest({ binding: 'post', form: logout }, options()), 'ERR_REQUEST_NOT_AUTHNREQUEST', /LogoutRequest.*expected AuthnRequest/, false);
    const fakeNs = post({ mutateXml: (x) => x.replace('xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"', 'xmlns:saml2p="urn:evil"') });
    rejected(await receiveAuthnRequest(fakeNs, options()), 'ERR_REQUEST_NOT_AUTHNREQUEST', /\{urn:evil\}AuthnRequest/, false);
  });

  it('Issuer missing, empty, or with a wrong Format', async () => {
    const noIssuer = post({ sign: false, mutateXml: (x) => x.replace(/<saml2:Issuer[^>]*>[^<]*<\/saml2:Issuer>/, '') });
    rejected(await receiveAuthnRequest(noIssuer, options()), 'ERR_REQUEST_ISSUER_MISSING', /no saml:Issuer/, false);
    const format = post({ mutateXml: (x) => x.replace('nameid-format:entity', 'nameid-format:persistent') });
    rejected(await receiveAuthnRequest(format, options()), 'ERR_REQUEST_ISSUER_FORMAT', /must be omitted or urn:oasis:names:tc:SAML:2.0:nameid-format:entity/, false);
  });

  it('unknown Issuer -> error page', async () => {
    const r = await receiveAuthnRequest(post({ issuer: 'https://stranger.example/metadata' }), options());
    const f = rejected(r, 'ERR_REQUEST_UNKNOWN_SP', /"https:\/\/stranger.example\/metadata" is not a registered service provider/, false);
    expect(f.status).toBe(STATUS.requester);
  });

  it('unsigned when the policy or the metadata requires a signature', async () => {
    rejected(await receiveAuthnRequest(redirect({ sign: false }), options()), 'ERR_REQUEST_UNSIGNED', /must be signed \(operator policy\); sign the query string/, false);
    rejected(await receiveAuthnRequest(post({ sign: false }), options()), 'ERR_REQUEST_UNSIGNED', /enveloped ds:Signature right after saml:Issuer/, false);
    const provider = sp({ policy: { requireSignedRequests: false }, authnRequestsSigned: true });
    rejected(await receiveAuthnRequest(post({ sign: false }), options({ provider })), 'ERR_REQUEST_UNSIGNED', /AuthnRequestsSigned="true"/, false);
  });

  it('a present signature is verified even when none is required', async () => {
    const provider = sp({ policy: { requireSignedRequests: false } });
    rejected(await receiveAuthnRequest(redirect({ signer: attacker }), options({ provider })), 'ERR_REQUEST_SIGNATURE_INVALID', /does not verify/, false);
  });

  it('Redirect: SigAlg outside the allow-list', async () => {
    const q = redirectRequest(base('redirect', {})).replace(/SigAlg=[^&]+/, `SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-md5')}`);
    rejected(await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options()), 'ERR_REQUEST_SIGALG', /rsa-md5" is not accepted \(it is not on the allow-list\)\. Accepted: .*rsa-sha256/, false);
  });

  it('Redirect: signature by a key that is not in the metadata', async () => {
    const r = await receiveAuthnRequest(redirect({ signer: attacker }), options());
    rejected(r, 'ERR_REQUEST_SIGNATURE_INVALID', /SAMLRequest=<value>&RelayState=<value>&SigAlg=<value>/, false);
  });

  it('Redirect: tampered RelayState breaks the signature', async () => {
    const q = redirectRequest(base('redirect', { relayState: 'good' })).replace('RelayState=good', 'RelayState=evil');
    rejected(await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options()), 'ERR_REQUEST_SIGNATURE_INVALID', /does not verify/, false);
  });

  it('no signing key in the metadata, or none of the right type', async () => {
    const none = makeServiceProvider({ entityId: SP_ID, acs: ACS_LIST });
    rejected(await receiveAuthnRequest(redirect(), options({ provider: none })), 'ERR_REQUEST_NO_SIGNING_KEY', /has no signing certificate/, false);
    const rsaOnly = sp({ signers: [rsa] });
    rejected(await receiveAuthnRequest(post({ signer: ec }), options({ provider: rsaOnly })), 'ERR_REQUEST_NO_SIGNING_KEY', /fits .*ecdsa-sha256 \(an EC key is needed\)/, false);
  });

  it('Redirect message carrying an enveloped ds:Signature', async () => {
    const signed = signAuthnRequestXml(buildAuthnRequestXml(base('redirect', {})), { signer: rsa });
    const q = redirectQueryFor(signed, { signer: rsa });
    rejected(await receiveAuthnRequest({ binding: 'redirect', rawQuery: q }, options()), 'ERR_REQUEST_REDIRECT_ENVELOPED_SIGNATURE', /must not contain a ds:Signature/, false);
  });

  it('POST: signature not placed right after Issuer', async () => {
    const msg = tamper(post(), (x) => {
      const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(x)![0];
      return x.replace(sig, '').replace('</saml2p:AuthnRequest>', `${sig}</saml2p:AuthnRequest>`);
    });
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_PLACEMENT', /direct child of the AuthnRequest placed right after saml:Issuer/, false);
  });

  it('POST: ds:Object inside the signature', async () => {
    const msg = tamper(post(), (x) => x.replace('</ds:Signature>', '<ds:Object><x>y</x></ds:Object></ds:Signature>'));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_STRUCTURE', /ds:Object is not accepted/, false);
  });

  it('POST: Reference not to the AuthnRequest ID', async () => {
    const msg = tamper(post(), (x) => x.replace(/URI="#[^"]+"/, 'URI=""'));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_REFERENCE', /URI is ""; it must be "#_/, false);
  });

  it('POST: transforms other than enveloped-signature + exc-c14n', async () => {
    const msg = tamper(post(), (x) => x.replace(/<ds:Transform Algorithm="http:\/\/www.w3.org\/2000\/09\/xmldsig#enveloped-signature"\/>/, ''));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_TRANSFORMS', /exactly enveloped-signature then exclusive c14n/, false);
    const xslt = tamper(post(), (x) => x.replace(/(<ds:Transforms>)/, '$1<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>'));
    rejected(await receiveAuthnRequest(xslt, options()), 'ERR_REQUEST_SIGNATURE_TRANSFORMS', /REC-xslt/, false);
  });

  it('POST: CanonicalizationMethod other than exc-c14n', async () => {
    const msg = tamper(post(), (x) =>
      x.replace('<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"', '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"'),
    );
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_C14N', /WithComments" is not accepted; use exclusive canonicalization/, false);
  });

  it('POST: SignatureMethod outside the allow-list', async () => {
    const msg = tamper(post(), (x) => x.replace(SIG_ALG.rsaSha256, 'http://www.w3.org/2001/04/xmldsig-more#rsa-md5'));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_ALGORITHM', /SignatureMethod "http:\/\/www.w3.org\/2001\/04\/xmldsig-more#rsa-md5" is not accepted/, false);
  });

  it('POST: DigestMethod SHA-1 without opt-in', async () => {
    rejected(await receiveAuthnRequest(post({ digestAlg: DIGEST_ALG.sha1 }), options()), 'ERR_REQUEST_DIGEST_ALGORITHM', /DigestMethod ".*#sha1" is not accepted; use SHA-256/, false);
  });

  it('POST: SignatureValue that is not base64', async () => {
    const msg = tamper(post(), (x) => x.replace(/<ds:SignatureValue>/, '<ds:SignatureValue>!!'));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_VALUE_FORMAT', /ds:SignatureValue is not valid base64/, false);
  });

  it('POST: content changed after signing', async () => {
    const msg = tamper(post(), (x) => x.replace('Consent=', 'ForceAuthn="true" Consent='));
    rejected(await receiveAuthnRequest(msg, options()), 'ERR_REQUEST_SIGNATURE_INVALID', /DigestValue does not match the AuthnRequest/, false);
  });

  it('POST: signed by a key that is not in the metadata', async () => {
    rejected(await receiveAuthnRequest(post({ signer: attacker }), options()), 'ERR_REQUEST_SIGNATURE_INVALID', /SignatureValue does not verify with any signing key in the SP metadata/, false);
  });

  it('a comment inside a value of a request read from the received document (Redirect / unsigned POST)', async () => {
    const mutateXml = (x: string) => x.replace('>public<', '>pub<!-- x -->lic<');
    rejected(await receiveAuthnRequest(redirect({ spType: 'public', mutateXml }), options()), 'ERR_XML_MIXED_CONTENT', /<SPType> must contain text only/, false);
    const provider = sp({ policy: { requireSignedRequests: false } });
    rejected(await receiveAuthnRequest(post({ sign: false, spType: 'public', mutateXml }), options({ provider })), 'ERR_XML_MIXED_CONTENT', /<SPType>/, false);
  });

  describe('structural allow-list', () => {
    const cases: Array<[string, (x: string) => string, string, RegExp]> = [
      ['unknown root attribute', (x) => x.replace('Consent=', 'Foo="bar" Consent='), 'ERR_REQUEST_ATTRIBUTE', /Attribute Foo is not allowed on <samlp:AuthnRequest> \(allowed: ID, Version/],
      ['namespaced root attribute', (x) => x.replace('Consent=', 'xmlns:x="urn:x" x:Foo="bar" Consent='), 'ERR_REQUEST_ATTRIBUTE', /Attribute x:Foo is not allowed/],
      ['missing IssueInstant', (x) => x.replace(/IssueInstant="[^"]+"/, ''), 'ERR_REQUEST_MISSING_ATTRIBUTE', /no IssueInstant/],
      ['missing Version', (x) => x.replace('Version="2.0"', ''), 'ERR_REQUEST_MISSING_ATTRIBUTE', /no Version attribute; it must be "2.0"/],
      ['ID not an NCName', (x) => x.replace(/ID="_/, 'ID="1'), 'ERR_REQUEST_ID', /is not an xs:ID/],
      ['IssueInstant with an offset', (x) => x.replace(/IssueInstant="[^"]+"/, 'IssueInstant="2025-06-01T12:00:00+02:00"'), 'ERR_REQUEST_ISSUE_INSTANT_FORMAT', /not an xs:dateTime in UTC/],
      ['IssueInstant impossible date', (x) => x.replace(/IssueInstant="[^"]+"/, 'IssueInstant="2025-02-30T10:00:00Z"'), 'ERR_REQUEST_ISSUE_INSTANT_FORMAT', /2025-02-30/],
      ['ForceAuthn not a boolean', (x) => x.replace('Consent=', 'ForceAuthn="yes" Consent='), 'ERR_REQUEST_BOOLEAN', /ForceAuthn is "yes"; an xs:boolean is true, false, 1 or 0/],
      ['AssertionConsumerServiceIndex not unsignedShort', (x) => x.replace('Consent=', 'AssertionConsumerServiceIndex="70000" Consent='), 'ERR_REQUEST_UNSIGNED_SHORT', /70000.*0 to 65535/],
      ['unknown child element', (x) => x.replace('<saml2p:NameIDPolicy', '<saml2p:Foo/><saml2p:NameIDPolicy'), 'ERR_REQUEST_ELEMENT', /<samlp:Foo> is not allowed in an AuthnRequest; expected, in this order/],
      ['children out of schema order', (x) => x.replace(/(<saml2p:NameIDPolicy[^>]*\/>)(<saml2p:RequestedAuthnContext[\s\S]*<\/saml2p:RequestedAuthnContext>)/, '$2$1'), 'ERR_REQUEST_ELEMENT_ORDER', /samlp:NameIDPolicy must come before samlp:RequestedAuthnContext/],
      ['a child twice', (x) => x.replace(/(<saml2p:NameIDPolicy[^>]*\/>)/, '$1$1'), 'ERR_REQUEST_ELEMENT_ORDER', /more than one samlp:NameIDPolicy/],
      ['text in the AuthnRequest', (x) => x.replace('</saml2p:AuthnRequest>', 'loose text</saml2p:AuthnRequest>'), 'ERR_REQUEST_TEXT', /must not contain text/],
      ['attribute on NameIDPolicy', (x) => x.replace('<saml2p:NameIDPolicy', '<saml2p:NameIDPolicy Foo="1"'), 'ERR_REQUEST_ATTRIBUTE', /Foo is not allowed on <samlp:NameIDPolicy>/],
      ['SAML element in Extensions', (x) => x.replace('</saml2p:Extensions>', '<saml2:Assertion/></saml2p:Extensions>'), 'ERR_REQUEST_EXTENSIONS', /<saml:Assertion> is not accepted in samlp:Extensions/],
      ['unknown eIDAS element in Extensions', (x) => x.replace('</saml2p:Extensions>', `<eidas:Foo xmlns:eidas="http://eidas.europa.eu/saml-extensions"/></saml2p:Extensions>`), 'ERR_REQUEST_EXTENSIONS', /<eidas:Foo> is not accepted/],
      ['SPType outside public|private', (x) => x.replace('>public<', '>government<'), 'ERR_REQUEST_SPTYPE', /"government"; expected "public" or "private"/],
      ['RequestedAttribute without Name', (x) => x.replace(/<eidas:RequestedAttribute Name="[^"]+"/, '<eidas:RequestedAttribute'), 'ERR_REQUEST_REQUESTED_ATTRIBUTE', /has no Name attribute/],
      ['RequestedAttribute listed twice', (x) => x.replace(/(<eidas:RequestedAttribute [^>]*\/>)/, '$1$1'), 'ERR_REQUEST_REQUESTED_ATTRIBUTE', /listed more than once/],
      ['isRequired not a boolean', (x) => x.replace('isRequired="true"', 'isRequired="maybe"'), 'ERR_REQUEST_BOOLEAN', /isRequired of .* is "maybe"/],
      ['bad Comparison', (x) => x.replace('Comparison="minimum"', 'Comparison="atleast"'), 'ERR_REQUEST_COMPARISON', /"atleast"; expected exact, minimum, maximum or better/],
      ['empty RequestedAuthnContext', (x) => x.replace(/<saml2:AuthnContextClassRef>[^<]*<\/saml2:AuthnContextClassRef>/, ''), 'ERR_REQUEST_AUTHNCONTEXT', /no AuthnContextClassRef/],
    ];
    it.each(cases)('%s', async (_name, mutateXml, code, message) => {
      const msg = post({ spType: 'public', requestedAttributes: [{ name: EIDAS_ATTR.personIdentifier, isRequired: true }], mutateXml });
      rejected(await receiveAuthnRequest(msg, options()), code, message, false);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('refused with a SAML error Response (SP and ACS trusted)', () => {
  function expectRespondTo(f: SamlRequestFailure, status: string, subStatus: string | undefined, acs = ACS_LIST[0]): void {
    expect(f.status).toBe(status);
    expect(f.subStatus).toBe(subStatus);
    expect(f.respondTo).toMatchObject({ spEntityId: SP_ID, acs });
    expect(f.respondTo!.inResponseTo).toMatch(/^_/);
  }

  it('Version other than 2.0 -> VersionMismatch', async () => {
    const f = rejected(await receiveAuthnRequest(post({ version: '1.1', relayState: 'rs' }), options()), 'ERR_REQUEST_VERSION', /Version is "1.1"; only SAML "2.0"/, true);
    expectRespondTo(f, STATUS.versionMismatch, undefined);
    expect(f.respondTo!.relayState).toBe('rs');
  });

  it('saml:Subject -> Requester/RequestUnsupported', async () => {
    const mutateXml = (x: string) => x.replace('<saml2p:NameIDPolicy', '<saml2:Subject><saml2:NameID>someone</saml2:NameID></saml2:Subject><saml2p:NameIDPolicy');
    const f = rejected(await receiveAuthnRequest(post({ mutateXml, acsUrl: ACS2 }), options()), 'ERR_REQUEST_SUBJECT', /saml:Subject; requesting a specific subject is not supported/, true);
    expectRespondTo(f, STATUS.requester, STATUS.requestUnsupported, ACS_LIST[1]);
  });

  it('AuthnContextDeclRef -> Requester/RequestUnsupported', async () => {
    const mutateXml = (x: string) =>
      x.replace(/<saml2:AuthnContextClassRef>[^<]*<\/saml2:AuthnContextClassRef>/, '<saml2:AuthnContextDeclRef>urn:decl</saml2:AuthnContextDeclRef>');
    const f = rejected(await receiveAuthnRequest(post({ mutateXml }), options()), 'ERR_REQUEST_AUTHNCONTEXT_DECLREF', /AuthnContextDeclRef is not supported/, true);
    expectRespondTo(f, STATUS.requester, STATUS.requestUnsupported);
  });

  it('Destination missing', async () => {
    const mutateXml = (x: string) => x.replace(/Destination="[^"]+"/, '');
    const f = rejected(await receiveAuthnRequest(redirect({ mutateXml }), options()), 'ERR_REQUEST_DESTINATION_MISSING', /no Destination attribute; it must be "https:\/\/pasarela.example\/saml\/sso"/, true);
    expectRespondTo(f, STATUS.requester, STATUS.requestDenied);
  });

  it('Destination of the other binding / another IdP', async () => {
    const f = rejected(
      await receiveAuthnRequest(redirect({ destination: SSO.post }), options()),
      'ERR_REQUEST_DESTINATION',
      /Destination "https:\/\/pasarela.example\/saml\/sso\/post" is not this endpoint; expected "https:\/\/pasarela.example\/saml\/sso"/,
      true,
    );
    expectRespondTo(f, STATUS.requester, STATUS.requestDenied);
    rejected(await receiveAuthnRequest(post({ destination: 'https://other-idp.example/sso' }), options()), 'ERR_REQUEST_DESTINATION', /other-idp/, true);
  });

  it('IssueInstant too far in the future or too old; the window edges are accepted', async () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    const f = rejected(await receiveAuthnRequest(post({ issueInstant: at(61_000) }), options()), 'ERR_REQUEST_ISSUE_INSTANT_FUTURE', /is in the future .*60 s skew/, true);
    expectRespondTo(f, STATUS.requester, STATUS.requestDenied);
    rejected(await receiveAuthnRequest(post({ issueInstant: at(-361_000) }), options()), 'ERR_REQUEST_EXPIRED', /older than 300 s/, true);
    accepted(await receiveAuthnRequest(post({ issueInstant: at(60_000) }), options()));
    accepted(await receiveAuthnRequest(post({ issueInstant: at(-360_000) }), options()));
  });

  it('NameIDPolicy with an unsupported or disallowed Format', async () => {
    const email = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
    const f = rejected(await receiveAuthnRequest(post({ nameIdFormat: email }), options()), 'ERR_REQUEST_NAMEID_POLICY', /emailAddress" is not supported/, true);
    expectRespondTo(f, STATUS.requester, STATUS.invalidNameIdPolicy);
    const provider = sp({ policy: { nameIdFormats: ['transient'] } });
    rejected(await receiveAuthnRequest(post({ nameIdFormat: NAMEID_FORMAT.persistent }), options({ provider })), 'ERR_REQUEST_NAMEID_POLICY', /persistent" is not enabled for this SP \(enabled: transient\)/, true);
    const spnq = (x: string) => x.replace('<saml2p:NameIDPolicy', '<saml2p:NameIDPolicy SPNameQualifier="https://other.example"');
    rejected(await receiveAuthnRequest(post({ mutateXml: spnq }), options()), 'ERR_REQUEST_NAMEID_POLICY', /SPNameQualifier "https:\/\/other.example" is not the requesting SP/, true);
  });

  it('unknown AuthnContextClassRef -> Requester/NoAuthnContext naming it', async () => {
    const ppt = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const f = rejected(await receiveAuthnRequest(post({ loa: [LOA.low, ppt] }), options()), 'ERR_REQUEST_UNKNOWN_LOA', new RegExp(`"${ppt}" is not a known level of assurance`), true);
    expectRespondTo(f, STATUS.requester, STATUS.noAuthnContext);
  });

  it('a request no level within the SP policy can satisfy -> Requester/NoAuthnContext', async () => {
    const provider = sp({ policy: { maxLoa: 'substantial' } });
    const f = rejected(await receiveAuthnRequest(post({ loa: LOA.high }), options({ provider })), 'ERR_REQUEST_LOA_UNSATISFIABLE', /\(low to substantial\) satisfies Comparison="minimum" with http:\/\/eidas.europa.eu\/LoA\/high/, true);
    expectRespondTo(f, STATUS.requester, STATUS.noAuthnContext);
    rejected(await receiveAuthnRequest(post({ loa: LOA.nnSubstantial }), options()), 'ERR_REQUEST_LOA_UNSATISFIABLE', /NotNotified/, true);
    rejected(await receiveAuthnRequest(post({ loa: LOA.high, comparison: 'better' }), options()), 'ERR_REQUEST_LOA_UNSATISFIABLE', /better/, true);
  });

  it('a required attribute we cannot release -> Responder/RequestDenied naming it', async () => {
    const gender = 'http://eidas.europa.eu/attributes/naturalperson/Gender';
    const f = rejected(
      await receiveAuthnRequest(post({ requestedAttributes: [{ name: gender, friendlyName: 'Gender', isRequired: true }] }), options()),
      'ERR_REQUEST_ATTRIBUTE_UNAVAILABLE',
      new RegExp(`Required attribute "${gender}" \\(Gender\\) cannot be released`),
      true,
    );
    expectRespondTo(f, STATUS.responder, STATUS.requestDenied);
    const provider = sp({ policy: { releasedAttributes: [EIDAS_ATTR.personIdentifier] } });
    const dob = post({ requestedAttributes: [{ name: EIDAS_ATTR.dateOfBirth, isRequired: true }] });
    rejected(await receiveAuthnRequest(dob, options({ provider })), 'ERR_REQUEST_ATTRIBUTE_UNAVAILABLE', /DateOfBirth" cannot be released to this SP; releasable: http:\/\/eidas.europa.eu\/attributes\/naturalperson\/PersonIdentifier\./, true);
  });

  it('a replayed ID; a request rejected for another reason does not burn its ID', async () => {
    const replay = memoryReplay();
    const id = newRequestId();
    const rejectedFirst = await receiveAuthnRequest(redirect({ id, destination: 'https://wrong.example/sso' }), options({ replay }));
    rejected(rejectedFirst, 'ERR_REQUEST_DESTINATION', /wrong.example/, true);
    expect(replay.keys.size).toBe(0);
    const msg = redirect({ id });
    accepted(await receiveAuthnRequest(msg, options({ replay })));
    const f = rejected(await receiveAuthnRequest(msg, options({ replay })), 'ERR_REQUEST_REPLAY', new RegExp(`ID "${id}" was already received`), true);
    expectRespondTo(f, STATUS.requester, STATUS.requestDenied);
    // The same ID through the other binding is the same request.
    rejected(await receiveAuthnRequest(post({ id }), options({ replay })), 'ERR_REQUEST_REPLAY', /already received/, true);
  });
});
