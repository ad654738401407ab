import { execFileSync } from 'node:child_process';
import { constants, createHash, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { SignedXml, type HashAlgorithm, type SignatureAlgorithm } from 'xml-crypto';
import { BINDING, CLAVE, DIGEST_ALG, LOA, NS, SIG_ALG, type Comparison, type LoaUri, type SignatureAlgorithmUri } from '../../src/saml/constants';
import type { AcsEndpoint } from '../../src/saml/types';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import type { ServiceProvider, SpPolicy, TrustRegistry } from '../../src/trust/types';

/**
 * Test-side SP: builds AuthnRequests the way real SP libraries do, signs them for either
 * binding, and assembles ServiceProvider objects for the trust list. The signing code here
 * uses node:crypto directly (not src/saml/algorithms.ts) so that it is an independent check.
 *
 *   const signer = rsaSigner();
 *   const sp = makeServiceProvider({ entityId: 'https://sp.example/metadata', signers: [signer] });
 *   const query = redirectRequest({ signer, issuer: sp.entityId, destination: SSO_REDIRECT, loa: LOA.substantial });
 *   const form  = postRequest({ signer, issuer: sp.entityId, destination: SSO_POST, acsUrl: 'https://sp.example/acs' });
 */

export interface SpSigner {
  kind: 'rsa' | 'ec';
  key: KeyObject;
  publicKey: KeyObject;
  certPem: string;
}

/** RSA key + self-signed certificate (node:crypto key, node-forge certificate). */
export function rsaSigner(commonName = 'test SP', bits = 2048): SpSigner {
  const { keyPem, certPem } = makeSelfSignedRsa(commonName, { bits, days: 2 });
  return { kind: 'rsa', key: createPrivateKey(keyPem), publicKey: createPublicKey(certPem), certPem };
}

/** EC key + self-signed certificate made by `openssl req` in a temp dir. */
export function ecSigner(commonName = 'test SP EC', curve: 'prime256v1' | 'secp384r1' = 'prime256v1'): SpSigner {
  const dir = mkdtempSync(join(tmpdir(), 'pasarela-ec-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${commonName}`, '-days', '2'],
      { stdio: 'ignore' },
    );
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { kind: 'ec', key: createPrivateKey(readFileSync(join(dir, 'key.pem'))), publicKey: createPublicKey(certPem), certPem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------
// Raw signing, independent of src/saml/algorithms.ts.

/** The digest each signature algorithm uses (also the oracle tests' table). */
export const HASH_OF: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  [SIG_ALG.rsaSha1]: 'sha1',
  [SIG_ALG.rsaSha256]: 'sha256',
  [SIG_ALG.rsaSha384]: 'sha384',
  [SIG_ALG.rsaSha512]: 'sha512',
  [SIG_ALG.rsaPssSha256]: 'sha256',
  [SIG_ALG.rsaPssSha384]: 'sha384',
  [SIG_ALG.rsaPssSha512]: 'sha512',
  [SIG_ALG.ecdsaSha256]: 'sha256',
  [SIG_ALG.ecdsaSha384]: 'sha384',
  [SIG_ALG.ecdsaSha512]: 'sha512',
};

/** Sign `data` as XML-DSig / the Redirect binding expect for `sigAlg` (ECDSA as r||s, PSS salt = hash length). */
export function rawSign(sigAlg: string, data: Buffer | string, key: KeyObject): Buffer {
  const hash = HASH_OF[sigAlg];
  if (!hash) throw new Error(`test signer does not know ${sigAlg}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (sigAlg.includes('rsa-MGF1')) {
    return sign(hash, bytes, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  }
  if (sigAlg.includes('ecdsa')) return sign(hash, bytes, { key, dsaEncoding: 'ieee-p1363' });
  return sign(hash, bytes, key);
}

export function defaultSigAlg(signer: SpSigner): SignatureAlgorithmUri {
  return signer.kind === 'ec' ? SIG_ALG.ecdsaSha256 : SIG_ALG.rsaSha256;
}

// ------------------------------------------------------------------------------------------
// AuthnRequest XML.

export interface RequestedAttributeSpec {
  name: string;
  friendlyName?: string;
  isRequired?: boolean;
  values?: string[];
}

export interface AuthnRequestSpec {
  issuer: string;
  destination: string;
  id?: string;
  issueInstant?: Date | string;
  version?: string;
  acsUrl?: string;
  acsIndex?: number;
  protocolBinding?: string;
  /** One or more ClassRefs; null omits RequestedAuthnContext. Default: substantial. */
  loa?: LoaUri | string | Array<LoaUri | string> | null;
  /** Comparison attribute; null omits it (SAML default "exact"). Default: minimum. */
  comparison?: Comparison | string | null;
  forceAuthn?: boolean;
  isPassive?: boolean;
  /** NameIDPolicy Format; null omits NameIDPolicy. Default: unspecified. */
  nameIdFormat?: string | null;
  allowCreate?: boolean;
  providerName?: string;
  spType?: 'public' | 'private';
  requestedAttributes?: RequestedAttributeSpec[];
  /** Raw XML appended inside samlp:Extensions. */
  extensionsXml?: string;
  /** Raw XML appended as last children of the AuthnRequest. */
  trailingXml?: string;
  /** Protocol namespace prefix: SimpleSAMLphp-style `samlp` or OpenSAML-style `saml2p`. */
  prefix?: 'samlp' | 'saml2p';
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function newRequestId(): string {
  return `_${randomBytes(20).toString('hex')}`;
}

/** An unsigned AuthnRequest, Cl@ve 2 / eIDAS style. */
export function buildAuthnRequestXml(spec: AuthnRequestSpec): string {
  const p = spec.prefix ?? 'saml2p';
  const a = p === 'saml2p' ? 'saml2' : 'saml';
  const instant = spec.issueInstant ?? new Date();
  const attrs: string[] = [
    `xmlns:${p}="${NS.samlp}"`,
    `xmlns:${a}="${NS.saml}"`,
    `ID="${esc(spec.id ?? newRequestId())}"`,
    `Version="${esc(spec.version ?? '2.0')}"`,
    `IssueInstant="${typeof instant === 'string' ? esc(instant) : instant.toISOString()}"`,
    `Destination="${esc(spec.destination)}"`,
  ];
  if (spec.acsUrl !== undefined) attrs.push(`AssertionConsumerServiceURL="${esc(spec.acsUrl)}"`);
  if (spec.acsIndex !== undefined) attrs.push(`AssertionConsumerServiceIndex="${spec.acsIndex}"`);
  if (spec.protocolBinding !== undefined) attrs.push(`ProtocolBinding="${esc(spec.protocolBinding)}"`);
  if (spec.providerName !== undefined) attrs.push(`ProviderName="${esc(spec.providerName)}"`);
  if (spec.forceAuthn !== undefined) attrs.push(`ForceAuthn="${spec.forceAuthn}"`);
  if (spec.isPassive !== undefined) attrs.push(`IsPassive="${spec.isPassive}"`);
  attrs.push('Consent="urn:oasis:names:tc:SAML:2.0:consent:unspecified"');

  let xml = `<${p}:AuthnRequest ${attrs.join(' ')}>`;
  xml += `<${a}:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">${esc(spec.issuer)}</${a}:Issuer>`;
  const ras = spec.requestedAttributes ?? [];
  if (spec.spType || ras.length > 0 || spec.extensionsXml) {
    xml += `<${p}:Extensions>`;
    if (spec.spType) xml += `<eidas:SPType xmlns:eidas="${NS.eidas}">${spec.spType}</eidas:SPType>`;
    if (ras.length > 0) {
      xml += `<eidas:RequestedAttributes xmlns:eidas="${NS.eidas}" xmlns:eidas-natural="${NS.eidasNatural}">`;
      for (const ra of ras) {
        xml += `<eidas:RequestedAttribute Name="${esc(ra.name)}"`;
        if (ra.friendlyName) xml += ` FriendlyName="${esc(ra.friendlyName)}"`;
        xml += ` NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" isRequired="${ra.isRequired ? 'true' : 'false'}"`;
        if (ra.values && ra.values.length > 0) {
          xml += '>';
          for (const v of ra.values) {
            xml += `<eidas:AttributeValue xmlns:xsi="${NS.xsi}" xsi:type="eidas-natural:PersonIdentifierType">${esc(v)}</eidas:AttributeValue>`;
          }
          xml += '</eidas:RequestedAttribute>';
        } else xml += '/>';
      }
      xml += '</eidas:RequestedAttributes>';
    }
    if (spec.extensionsXml) xml += spec.extensionsXml;
    xml += `</${p}:Extensions>`;
  }
  const nameIdFormat = spec.nameIdFormat === undefined ? 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' : spec.nameIdFormat;
  if (nameIdFormat !== null) {
    xml += `<${p}:NameIDPolicy AllowCreate="${spec.allowCreate ?? true}" Format="${esc(nameIdFormat)}"/>`;
  }
  const loa = spec.loa === undefined ? LOA.substantial : spec.loa;
  if (loa !== null) {
    const refs = Array.isArray(loa) ? loa : [loa];
    const comparison = spec.comparison === undefined ? 'minimum' : spec.comparison;
    xml += `<${p}:RequestedAuthnContext${comparison === null ? '' : ` Comparison="${esc(comparison)}"`}>`;
    for (const r of refs) xml += `<${a}:AuthnContextClassRef>${esc(r)}</${a}:AuthnContextClassRef>`;
    xml += `</${p}:RequestedAuthnContext>`;
  }
  if (spec.trailingXml) xml += spec.trailingXml;
  xml += `</${p}:AuthnRequest>`;
  return xml;
}

// ------------------------------------------------------------------------------------------
// Enveloped signature (HTTP-POST), with xml-crypto and our own algorithm classes.

export interface XmlSigningOptions {
  signer: SpSigner;
  sigAlg?: string;
  digestAlg?: string;
  /** Put the signer's certificate in KeyInfo (default true, as Cl@ve SPs do). */
  keyInfo?: boolean;
  /** Namespace prefix of the XML-DSig elements (default `ds`; '' declares it as the default namespace). */
  dsPrefix?: string;
  /** ec:InclusiveNamespaces PrefixList of SignedInfo's CanonicalizationMethod. */
  signedInfoPrefixes?: string[];
  /** ec:InclusiveNamespaces PrefixList of the Reference's exc-c14n Transform. */
  referencePrefixes?: string[];
}

const DIGEST_HASH: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  [DIGEST_ALG.sha1]: 'sha1',
  [DIGEST_ALG.sha256]: 'sha256',
  [DIGEST_ALG.sha384]: 'sha384',
  [DIGEST_ALG.sha512]: 'sha512',
};

function signerClass(sigAlg: string): new () => SignatureAlgorithm {
  return class TestSigner implements SignatureAlgorithm {
    getSignature(signedInfo: string | Buffer | NodeJS.TypedArray | DataView, privateKey: unknown): string {
      return rawSign(sigAlg, Buffer.from(signedInfo as string), privateKey as KeyObject).toString('base64');
    }
    verifySignature(): boolean {
      throw new Error('signing only');
    }
    getAlgorithmName(): string {
      return sigAlg;
    }
  };
}

function hashClass(uri: string): new () => HashAlgorithm {
  const h = DIGEST_HASH[uri];
  if (!h) throw new Error(`test signer does not know digest ${uri}`);
  return class TestHash implements HashAlgorithm {
    getHash(xml: string): string {
      return createHash(h).update(xml, 'utf8').digest('base64');
    }
    getAlgorithmName(): string {
      return uri;
    }
  };
}

/** Sign an AuthnRequest: enveloped signature right after Issuer, exc-c14n, Reference to the root ID. */
export function signAuthnRequestXml(xml: string, o: XmlSigningOptions): string {
  const sigAlg = o.sigAlg ?? defaultSigAlg(o.signer);
  const digestAlg = o.digestAlg ?? DIGEST_ALG.sha256;
  const sx = new SignedXml({
    privateKey: o.signer.key,
    publicCert: o.signer.certPem,
    signatureAlgorithm: sigAlg,
    canonicalizationAlgorithm: NS.exc14n,
    ...(o.keyInfo === false ? { getKeyInfoContent: () => null } : {}),
    ...(o.signedInfoPrefixes ? { inclusiveNamespacesPrefixList: o.signedInfoPrefixes } : {}),
  });
  sx.SignatureAlgorithms = { [sigAlg]: signerClass(sigAlg) };
  sx.HashAlgorithms = { ...sx.HashAlgorithms, [digestAlg]: hashClass(digestAlg) };
  sx.addReference({
    xpath: '/*',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', NS.exc14n],
    digestAlgorithm: digestAlg,
    ...(o.referencePrefixes ? { inclusiveNamespacesPrefixList: o.referencePrefixes } : {}),
  });
  const hasIssuer = /<(\w+:)?Issuer[\s>]/.test(xml);
  sx.computeSignature(xml, {
    prefix: o.dsPrefix ?? 'ds',
    location: hasIssuer ? { reference: "/*/*[local-name()='Issuer']", action: 'after' } : { reference: '/*', action: 'prepend' },
  });
  return sx.getSignedXml();
}

// ------------------------------------------------------------------------------------------
// Binding encoders.

export interface SpRequestOptions extends AuthnRequestSpec {
  /** The SP's key and certificate; omit (or sign: false) for an unsigned request. */
  signer?: SpSigner;
  sign?: boolean;
  sigAlg?: string;
  digestAlg?: string;
  keyInfo?: boolean;
  relayState?: string;
  /** Rewrite the XML before it is signed / encoded. */
  mutateXml?: (xml: string) => string;
}

export function deflateBase64(xml: string): string {
  return deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64');
}

/** The raw query string (without '?') of an HTTP-Redirect AuthnRequest, signed over the exact octets sent. */
export function redirectRequest(o: SpRequestOptions): string {
  let xml = buildAuthnRequestXml(o);
  if (o.mutateXml) xml = o.mutateXml(xml);
  return redirectQueryFor(xml, o);
}

/** Encode (and sign) a given XML for the Redirect binding. */
export function redirectQueryFor(xml: string, o: { signer?: SpSigner; sign?: boolean; sigAlg?: string; relayState?: string }): string {
  let q = `SAMLRequest=${encodeURIComponent(deflateBase64(xml))}`;
  if (o.relayState !== undefined) q += `&RelayState=${encodeURIComponent(o.relayState)}`;
  if (o.signer && o.sign !== false) {
    const sigAlg = o.sigAlg ?? defaultSigAlg(o.signer);
    q += `&SigAlg=${encodeURIComponent(sigAlg)}`;
    q += `&Signature=${encodeURIComponent(rawSign(sigAlg, Buffer.from(q, 'ascii'), o.signer.key).toString('base64'))}`;
  }
  return q;
}

/** The form fields of an HTTP-POST AuthnRequest (plain base64, not deflated, as Cl@ve 2 SPs send it). */
export function postRequest(o: SpRequestOptions): { SAMLRequest: string; RelayState?: string } {
  let xml = buildAuthnRequestXml(o);
  if (o.mutateXml) xml = o.mutateXml(xml);
  if (o.signer && o.sign !== false) {
    xml = signAuthnRequestXml(xml, { signer: o.signer, sigAlg: o.sigAlg, digestAlg: o.digestAlg, keyInfo: o.keyInfo });
  }
  return postFormFor(xml, o.relayState);
}

export function postFormFor(xml: string, relayState?: string): { SAMLRequest: string; RelayState?: string } {
  return { SAMLRequest: Buffer.from(xml, 'utf8').toString('base64'), ...(relayState !== undefined ? { RelayState: relayState } : {}) };
}

/** Either binding, for integration tests that run the same case twice. */
export function spRequest(binding: 'redirect', o: SpRequestOptions): string;
export function spRequest(binding: 'post', o: SpRequestOptions): { SAMLRequest: string; RelayState?: string };
export function spRequest(binding: 'redirect' | 'post', o: SpRequestOptions): string | { SAMLRequest: string; RelayState?: string } {
  return binding === 'redirect' ? redirectRequest(o) : postRequest(o);
}

/** The Cl@ve 2 control attributes, for building requests like the skeleton in clave-eidas.md §1.2. */
export const CLAVE_ATTRS = {
  excludePermanente: { name: CLAVE.gissIdP, friendlyName: 'GISSIdP' },
  excludePin: { name: CLAVE.aeatIdP, friendlyName: 'AEATIdP' },
  excludeCertificate: { name: CLAVE.afirmaIdP, friendlyName: 'AFirmaIdP' },
  excludeEidas: { name: CLAVE.eidasIdP, friendlyName: 'EIDASIdP' },
  excludeMovil: { name: CLAVE.clvMovilIdP, friendlyName: 'CLVMOVILIdP' },
  relayState: (value: string): RequestedAttributeSpec => ({ name: CLAVE.relayState, friendlyName: 'RelayState', values: [value] }),
} as const;

// ------------------------------------------------------------------------------------------
// Trust-list side.

export const TEST_POLICY: SpPolicy = {
  requireSignedRequests: true,
  minLoa: 'low',
  maxLoa: 'high',
  nameIdFormats: ['persistent', 'transient', 'unspecified'],
  encryptAssertion: false,
  signResponse: true,
  signAssertion: true,
  signatureAlgorithm: SIG_ALG.rsaSha256,
  allowSha1: false,
  profile: 'auto',
};

export function postAcs(location: string, index = 0, isDefault = false): AcsEndpoint {
  return { index, binding: BINDING.post, location, isDefault };
}

export function makeServiceProvider(o: {
  entityId: string;
  signers?: SpSigner[];
  keys?: KeyObject[];
  acs?: AcsEndpoint[];
  policy?: Partial<SpPolicy>;
  authnRequestsSigned?: boolean;
}): ServiceProvider {
  return {
    entityId: o.entityId,
    acs: o.acs ?? [postAcs(new URL('/acs', o.entityId).toString(), 0, true)],
    signingKeys: [...(o.keys ?? []), ...(o.signers ?? []).map((s) => s.publicKey)],
    authnRequestsSigned: o.authnRequestsSigned ?? false,
    metadataNameIdFormats: [],
    policy: { ...TEST_POLICY, ...o.policy },
  };
}

export function trustOf(...sps: ServiceProvider[]): Pick<TrustRegistry, 'get'> {
  const byId = new Map(sps.map((s) => [s.entityId, s]));
  return { get: (id: string) => byId.get(id) };
}

/** In-memory replay cache with the store's setIfAbsent semantics; `keys` records what was stored. */
export function memoryReplay(): ((key: string, ttlMs: number) => Promise<boolean>) & { keys: Map<string, number> } {
  const keys = new Map<string, number>();
  const fn = async (key: string, ttlMs: number): Promise<boolean> => {
    if (keys.has(key)) return false;
    keys.set(key, ttlMs);
    return true;
  };
  return Object.assign(fn, { keys });
}
