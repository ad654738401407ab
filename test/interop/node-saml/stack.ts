import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { generateServiceProviderMetadata, SAML, type Profile } from '@node-saml/node-saml';
import { InMemoryCacheProvider } from '@node-saml/node-saml/lib/in-memory-cache-provider';
import { DOMParser } from '@xmldom/xmldom';
import type { SpAuthnRequest } from '../../support/http-citizen';
import type { IdpSpec, LoginVariant, SpLogin, SpSpec, SpStack } from '../driver';
import { idpFromMetadata, pasarelaSamlConfig, pasarelaSp, type PasarelaIdp, type PasarelaSpOptions } from './sp';

/**
 * node-saml in the test process, behind the same commands as the script drivers. Bindings:
 * "redirect", "post" (skipRequestCompression: true, plain base64) and "post-deflated"
 * (node-saml's default for HTTP-POST: deflated).
 */
const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';

interface SpState {
  sp: SpSpec;
  idp: PasarelaIdp;
  cache: InMemoryCacheProvider;
}

function requestId(samlRequest: string): string {
  const raw = Buffer.from(samlRequest, 'base64');
  let xml = raw.toString('utf8');
  if (!xml.trimStart().startsWith('<')) xml = inflateRawSync(raw).toString('utf8');
  const id = new DOMParser().parseFromString(xml, 'text/xml').documentElement?.getAttribute('ID');
  if (!id) throw new Error('node-saml produced a request without ID');
  return id;
}

export class NodeSamlStack implements SpStack {
  private readonly sps = new Map<string, SpState>();

  ping(): Promise<{ library: string; version: string }> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('@node-saml/node-saml/package.json') as { version: string };
    return Promise.resolve({ library: '@node-saml/node-saml', version: pkg.version });
  }

  metadata(sp: SpSpec): Promise<{ xml: string }> {
    return Promise.resolve({
      xml: generateServiceProviderMetadata({
        issuer: sp.entityId,
        callbackUrl: sp.acsUrl,
        publicCerts: readFileSync(sp.signing.certFile, 'utf8'),
        // node-saml writes a KeyDescriptor only when it also holds the matching private key.
        privateKey: readFileSync(sp.signing.keyFile, 'utf8'),
        decryptionCert: sp.encryption ? readFileSync(sp.encryption.certFile, 'utf8') : null,
        decryptionPvk: sp.encryption ? readFileSync(sp.encryption.keyFile, 'utf8') : undefined,
        identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        wantAssertionsSigned: true,
      }),
    });
  }

  async configure(sp: SpSpec, idp: IdpSpec): Promise<{ idpEntityId: string }> {
    const res = await fetch(idp.metadataUrl);
    if (res.status !== 200) throw new Error(`GET ${idp.metadataUrl}: ${res.status}`);
    const parsed = idpFromMetadata(await res.text(), readFileSync(idp.metadataCertFile, 'utf8'));
    if (parsed.entityId !== idp.entityId) throw new Error(`unexpected IdP ${parsed.entityId}`);
    this.sps.set(sp.name, { sp, idp: parsed, cache: new InMemoryCacheProvider({ keyExpirationPeriodMs: 10 * 60_000 }) });
    return { idpEntityId: parsed.entityId };
  }

  private options(st: SpState, loa: string, binding: string): PasarelaSpOptions {
    return {
      idp: st.idp,
      entityId: st.sp.entityId,
      acsUrl: st.sp.acsUrl,
      privateKey: readFileSync(st.sp.signing.keyFile, 'utf8'),
      publicCert: readFileSync(st.sp.signing.certFile, 'utf8'),
      decryptionPvk: st.sp.encryption ? readFileSync(st.sp.encryption.keyFile, 'utf8') : undefined,
      loa,
      binding: binding.startsWith('post') ? 'HTTP-POST' : 'HTTP-Redirect',
      skipRequestCompression: binding === 'post',
      cacheProvider: st.cache,
    };
  }

  private state(name: string): SpState {
    const st = this.sps.get(name);
    if (!st) throw new Error(`SP ${name} is not configured`);
    return st;
  }

  async login(name: string, binding: string, loa: string, relayState: string, variant?: LoginVariant): Promise<{ requestId: string; request: SpAuthnRequest }> {
    const st = this.state(name);
    const config = pasarelaSamlConfig(this.options(st, loa, binding));
    if (variant === 'sha1') Object.assign(config, { signatureAlgorithm: 'sha1', digestAlgorithm: 'sha1' });
    if (variant === 'unsigned') delete config.privateKey;
    if (variant === 'email-nameid') config.identifierFormat = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
    const sp = new SAML(config);
    if (binding === 'redirect') {
      const url = await sp.getAuthorizeUrlAsync(relayState, undefined, {});
      return { requestId: requestId(new URL(url).searchParams.get('SAMLRequest')!), request: { method: 'GET', url } };
    }
    const fields = (await sp.getAuthorizeMessageAsync(relayState, undefined, {})) as Record<string, string>;
    return { requestId: requestId(fields.SAMLRequest!), request: { method: 'POST', url: st.idp.ssoPost, fields } };
  }

  /** node-saml keeps the outstanding request IDs in its cacheProvider (validateInResponseTo: always); requestId is not needed. */
  async acs(name: string, form: { SAMLResponse: string; RelayState?: string }): Promise<SpLogin> {
    const st = this.state(name);
    const sp = pasarelaSp(this.options(st, 'http://eidas.europa.eu/LoA/low', 'redirect'));
    const body: Record<string, string> = { SAMLResponse: form.SAMLResponse };
    if (form.RelayState !== undefined) body.RelayState = form.RelayState;
    const { profile } = await sp.validatePostResponseAsync(body);
    if (!profile) throw new Error('node-saml returned no profile');
    return describe(profile);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

function describe(profile: Profile): SpLogin {
  // Attributes and the AuthnContextClassRef from the assertion node-saml verified.
  const doc = new DOMParser().parseFromString(profile.getAssertionXml?.() ?? '', 'text/xml');
  const attributes: Record<string, string[]> = {};
  for (const a of Array.from(doc.getElementsByTagNameNS(SAML_NS, 'Attribute'))) {
    attributes[a.getAttribute('Name')!] = Array.from(a.getElementsByTagNameNS(SAML_NS, 'AttributeValue')).map((v) => v.textContent ?? '');
  }
  const classRef = doc.getElementsByTagNameNS(SAML_NS, 'AuthnContextClassRef')[0]?.textContent ?? '';
  const audiences = Array.from(doc.getElementsByTagNameNS(SAML_NS, 'Audience')).map((a) => a.textContent ?? '');
  return {
    nameId: profile.nameID,
    nameIdFormat: profile.nameIDFormat,
    attributes,
    authnContextClassRef: classRef,
    issuer: profile.issuer,
    inResponseTo: String(profile.inResponseTo ?? ''),
    extra: { audiences, sessionIndex: profile.sessionIndex },
  };
}
