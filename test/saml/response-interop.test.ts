import { createPublicKey } from 'node:crypto';
import { SAML, ValidateInResponseTo, type CacheItem, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { EIDAS_ATTR, NAMEID_FORMAT, SIG_ALG, STATUS } from '../../src/saml/constants';
import { buildErrorResponse, buildResponse } from '../../src/saml/response';
import type { SigningOptions } from '../../src/saml/types';
import { childElements, parseXml } from '../../src/saml/xml';
import { ACS, IDP, INJECTION, LINE_SEPARATOR_VALUE, NASTY_VALUES, SP, attributes, responseInput, rsaKey } from './response-fixtures';

/**
 * A real SP library as the judge: @node-saml/node-saml 5.1 (passport-saml's core, xml-crypto +
 * xml-encryption + xmldom underneath) must accept what we build, in every signing layout.
 */

const idp = rsaKey('pasarela-idp');
const spEnc = rsaKey('sp-encryption');
const stranger = rsaKey('not-the-idp');
const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

/** A request-ID cache like an SP keeps: seeded with the AuthnRequest ID it sent. */
class Outstanding implements CacheProvider {
  private readonly items = new Map<string, string>();
  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    this.items.set(key, value);
    return { createdAt: Date.now(), value };
  }
  async getAsync(key: string): Promise<string | null> {
    return this.items.get(key) ?? null;
  }
  async removeAsync(key: string | null): Promise<string | null> {
    if (key === null) return null;
    const v = this.items.get(key) ?? null;
    this.items.delete(key);
    return v;
  }
}

async function spFor(opts: { wantAssertionsSigned: boolean; wantAuthnResponseSigned: boolean; idpCert?: string; requestId: string }): Promise<SAML> {
  const cacheProvider = new Outstanding();
  await cacheProvider.saveAsync(opts.requestId, new Date().toISOString());
  return new SAML({
    idpCert: opts.idpCert ?? idp.certPem,
    issuer: SP,
    audience: SP,
    callbackUrl: ACS,
    wantAssertionsSigned: opts.wantAssertionsSigned,
    wantAuthnResponseSigned: opts.wantAuthnResponseSigned,
    decryptionPvk: spEnc.keyPem,
    validateInResponseTo: ValidateInResponseTo.always,
    cacheProvider,
    // node-saml's default clock skew (0 ms): our NotBefore margin must be enough on its own.
  });
}

const LAYOUTS: Array<{ name: string; signing: Omit<SigningOptions, 'key' | 'algorithm'>; want: { wantAssertionsSigned: boolean; wantAuthnResponseSigned: boolean } }> = [
  { name: 'signed Response + signed Assertion', signing: { signResponse: true, signAssertion: true }, want: { wantAssertionsSigned: true, wantAuthnResponseSigned: true } },
  { name: 'signed Assertion only', signing: { signResponse: false, signAssertion: true }, want: { wantAssertionsSigned: true, wantAuthnResponseSigned: false } },
  { name: 'signed Response only', signing: { signResponse: true, signAssertion: false }, want: { wantAssertionsSigned: false, wantAuthnResponseSigned: true } },
  {
    name: 'encrypted signed Assertion in a signed Response',
    signing: { signResponse: true, signAssertion: true, encryptTo: { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) } },
    want: { wantAssertionsSigned: true, wantAuthnResponseSigned: true },
  },
  {
    name: 'encrypted unsigned Assertion in a signed Response (Cl@ve style)',
    signing: { signResponse: true, signAssertion: false, encryptTo: { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) } },
    want: { wantAssertionsSigned: false, wantAuthnResponseSigned: true },
  },
];

describe.each(LAYOUTS)('node-saml accepts our Response: $name', ({ signing, want }) => {
  let n = 0;
  const requestId = (): string => `_req${Date.now().toString(16)}${(n++).toString(16).padStart(8, '0')}`;

  it.each([
    ['RSA-SHA256', SIG_ALG.rsaSha256],
    ['RSA-SHA512', SIG_ALG.rsaSha512],
  ] as const)('%s: profile and attributes come back exactly', async (_n, algorithm) => {
    const inResponseTo = requestId();
    const xml = await buildResponse(responseInput({ inResponseTo }), { key: idp, algorithm, ...signing });
    const sp = await spFor({ ...want, requestId: inResponseTo });
    const { profile, loggedOut } = await sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') });
    expect(loggedOut).toBe(false);
    const p = profile as Profile;
    expect(p.issuer).toBe(IDP);
    expect(p.inResponseTo).toBe(inResponseTo);
    expect(p.nameID).toBe('pairwise-7f3a');
    expect(p.nameIDFormat).toBe(NAMEID_FORMAT.persistent);
    expect(p.spNameQualifier).toBe(SP);
    expect(p.sessionIndex).toBe('_sess9');

    // Attributes, read back by the SP, are exactly what we released — including the injection
    // attempt (attacks.md row 4) and every other hostile value.
    const attrs = p.attributes as Record<string, unknown>;
    const expected = attributes();
    expect(Object.keys(attrs).sort()).toEqual(expected.map((a) => a.name).sort());
    expect(attrs[EIDAS_ATTR.currentGivenName]).toEqual(NASTY_VALUES);
    expect((attrs[EIDAS_ATTR.currentGivenName] as string[])[0]).toBe(INJECTION);
    expect(attrs[EIDAS_ATTR.personIdentifier]).toBe('ES/ES/12345678Z');
    expect(attrs[EIDAS_ATTR.currentFamilyName]).toBe('García Rodríguez');
    expect(attrs[EIDAS_ATTR.dateOfBirth]).toBe('1980-01-01');
    expect(p.role).toBeUndefined();

    // The assertion the SP processed holds exactly our Attributes and no extra one.
    const assertion = parseXml(p.getAssertionXml!()).documentElement;
    const statement = childElements(assertion).find((c) => c.localName === 'AttributeStatement')!;
    const names = childElements(statement).map((a) => `${a.namespaceURI}|${a.localName}|${a.getAttribute('Name')}`);
    expect(names).toEqual(expected.map((a) => `${NS_SAML}|Attribute|${a.name}`));
  });

  it('rejects the same Response when the SP trusts another IdP certificate', async () => {
    const inResponseTo = requestId();
    const xml = await buildResponse(responseInput({ inResponseTo }), { key: idp, algorithm: SIG_ALG.rsaSha256, ...signing });
    const sp = await spFor({ ...want, requestId: inResponseTo, idpCert: stranger.certPem });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(/signature/i);
  });
});

describe('node-saml strictness around our output', () => {
  it('accepts our Response when our clock is 20 s ahead of the SP (NotBefore margin, default skew 0)', async () => {
    const xml = await buildResponse(responseInput({ inResponseTo: '_ahead', now: new Date(Date.now() + 20_000) }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_ahead' });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') });
    expect(profile?.inResponseTo).toBe('_ahead');
  });

  it('rejects an expired assertion', async () => {
    const xml = await buildResponse(responseInput({ inResponseTo: '_old', now: new Date(Date.now() - 600_000), authnInstant: new Date(Date.now() - 600_000) }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_old' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(/expired|NotOnOrAfter|subject confirmation/i);
  });

  it('rejects a Response whose InResponseTo it never issued', async () => {
    const xml = await buildResponse(responseInput({ inResponseTo: '_unknown' }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_other' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(/InResponseTo/);
  });

  it('rejects a Response-only signature when it wants signed assertions', async () => {
    const xml = await buildResponse(responseInput({ inResponseTo: '_r1' }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: false,
    });
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_r1' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(/signature/i);
  });

  it('rejects an assertion for another audience', async () => {
    const xml = await buildResponse(responseInput({ inResponseTo: '_r2', audience: 'https://other.example' }), {
      key: idp,
      algorithm: SIG_ALG.rsaSha256,
      signResponse: true,
      signAssertion: true,
    });
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_r2' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(/audience/i);
  });

  it('reads our signed error Response as a SAML status error with our message', async () => {
    const xml = await buildErrorResponse(
      {
        issuer: IDP,
        destination: ACS,
        inResponseTo: '_r3',
        now: new Date(),
        status: STATUS.responder,
        subStatus: STATUS.noAuthnContext,
        message: 'Requested LoA high; Cl@ve PIN reaches substantial',
      },
      { key: idp, algorithm: SIG_ALG.rsaSha256 },
    );
    const sp = await spFor({ wantAssertionsSigned: true, wantAuthnResponseSigned: true, requestId: '_r3' });
    await expect(sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') })).rejects.toThrow(
      /Responder.*Requested LoA high; Cl@ve PIN reaches substantial/,
    );
  });
});

describe('U+0085 / U+2028 in a value (sent as character references)', () => {
  it('node-saml verifies every signature; when it re-parses its own canonical output it reads LF (its xmldom, not us)', async () => {
    const values = [LINE_SEPARATOR_VALUE];
    for (const [signing, want, expected] of [
      // node-saml re-parses xml-crypto's canonical output (literal characters) with xmldom -> LF.
      [{ signResponse: true, signAssertion: true }, { wantAssertionsSigned: true, wantAuthnResponseSigned: true }, 'nel\nls\nend'],
      // Encrypted + Response-signed: it parses our decrypted wire text, where the references survive.
      [
        { signResponse: true, signAssertion: false, encryptTo: { certPem: spEnc.certPem, key: createPublicKey(spEnc.key) } },
        { wantAssertionsSigned: false, wantAuthnResponseSigned: true },
        LINE_SEPARATOR_VALUE,
      ],
    ] as const) {
      const inResponseTo = `_ls${Math.random().toString(16).slice(2)}`;
      const xml = await buildResponse(
        responseInput({ inResponseTo, attributes: [{ name: EIDAS_ATTR.currentGivenName, friendlyName: 'FirstName', eidasType: 'CurrentGivenNameType', values }] }),
        { key: idp, algorithm: SIG_ALG.rsaSha256, ...signing },
      );
      expect(xml).not.toMatch(/[\u0085\u2028]/);
      const sp = await spFor({ ...want, requestId: inResponseTo });
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') });
      expect(((profile as Profile).attributes as Record<string, unknown>)[EIDAS_ATTR.currentGivenName]).toBe(expected);
    }
  });
});
