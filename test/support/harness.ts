import 'reflect-metadata';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAML, generateServiceProviderMetadata, ValidateInResponseTo, type SamlConfig } from '@node-saml/node-saml';
import { InMemoryCacheProvider } from '@node-saml/node-saml/lib/in-memory-cache-provider';
import type { BrokerApp } from '../../src/app';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { makeSelfSignedRsa, pemToB64, type KeyAndCert } from '../../src/pki/self-signed';
import { buildServices, type Services } from '../../src/services';
import type { KeyValueStore } from '../../src/store/types';
import type { SpPolicy } from '../../src/trust/types';
import type { SpSigner } from './sp-requests';

export const BASE_URL = 'http://broker.test';
export const SP_ENTITY = 'https://sp.test/metadata';
export const SP_ACS = 'https://sp.test/acs';

let spKeys: KeyAndCert | undefined;
let spEncKeys: KeyAndCert | undefined;
/** One SP signing key and one SP encryption key per test file (RSA keygen is not free). */
export function testSpKeys(): { signing: KeyAndCert; encryption: KeyAndCert } {
  spKeys ??= makeSelfSignedRsa('test SP signing');
  spEncKeys ??= makeSelfSignedRsa('test SP encryption');
  return { signing: spKeys, encryption: spEncKeys };
}

/** The test SP's signing key as an sp-requests signer, to hand-build requests the harness SP trusts. */
export function testSpSigner(): SpSigner {
  const { signing } = testSpKeys();
  return { kind: 'rsa', key: createPrivateKey(signing.keyPem), publicKey: createPublicKey(signing.certPem), certPem: signing.certPem };
}

export interface BrokerUnderTest {
  app: BrokerApp;
  services: Services;
  config: Config;
  keysDir: string;
}

export interface StartOptions {
  store: KeyValueStore;
  ds: DataSource;
  /** Broker keys directory: reuse one to run two nodes with the same keys. */
  keysDir?: string;
  overrides?: Record<string, unknown>;
  spPolicy?: Partial<SpPolicy>;
  /** Register the test SP with an encryption key in its metadata. */
  spEncryption?: boolean;
  now?: () => Date;
  /** The broker's logger (default: silent). */
  log?: import('pino').Logger;
}

/** A broker on the given storage pair, with the test SP (node-saml) in its trust list. */
export async function startBroker(opts: StartOptions): Promise<BrokerUnderTest> {
  const keysDir = opts.keysDir ?? mkdtempSync(path.join(tmpdir(), 'pasarela-keys-'));
  const emptyMetadataDir = mkdtempSync(path.join(tmpdir(), 'pasarela-md-'));
  const config = loadConfig({
    root: path.resolve(__dirname, '../..'),
    env: { NODE_ENV: 'test' },
    overrides: {
      env: 'test',
      baseUrl: BASE_URL,
      keys: { dir: keysDir, generateIfMissing: true },
      secrets: { pairwise: 'p'.repeat(40), csrf: 'c'.repeat(40) },
      trust: { metadataDir: emptyMetadataDir },
      demo: { enabled: false, seedCitizen: false },
      // Tests that need certificates build their own PKI; no development CAs per broker.
      certificate: { devPki: false },
      log: { level: 'silent' },
      ...(opts.overrides ?? {}),
    },
  });
  const log = opts.log ?? pino({ level: 'silent' });
  const services = await buildServices(config, log, { store: opts.store, ds: opts.ds, now: opts.now });
  const { encryption } = testSpKeys();
  await services.trust.upsert(spMetadata(opts.spEncryption ? encryption.certPem : null), opts.spPolicy ?? {}, 'test');
  const app = createApp(services);
  return {
    app,
    services,
    config,
    keysDir,
  };
}

export function spMetadata(encryptionCertPem: string | null): string {
  const { signing, encryption } = testSpKeys();
  // node-saml writes each KeyDescriptor only when it is also given the matching private key.
  return generateServiceProviderMetadata({
    issuer: SP_ENTITY,
    callbackUrl: SP_ACS,
    publicCerts: signing.certPem,
    privateKey: signing.keyPem,
    decryptionCert: encryptionCertPem,
    decryptionPvk: encryptionCertPem ? encryption.keyPem : undefined,
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    wantAssertionsSigned: true,
  });
}

/** node-saml as the SP, with its own signature, audience, InResponseTo and time checks. */
export function nodeSamlSp(broker: BrokerUnderTest, options: Partial<SamlConfig> = {}, cache = new InMemoryCacheProvider({})): SAML {
  const { signing, encryption } = testSpKeys();
  return new SAML({
    entryPoint: broker.config.ssoUrls.redirect,
    issuer: SP_ENTITY,
    callbackUrl: SP_ACS,
    audience: SP_ENTITY,
    idpCert: pemToB64(broker.services.keys.signing.certPem),
    idpIssuer: broker.config.entityId,
    privateKey: signing.keyPem,
    decryptionPvk: encryption.keyPem,
    signatureAlgorithm: 'sha256',
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    authnContext: ['http://eidas.europa.eu/LoA/low'],
    racComparison: 'minimum',
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: true,
    validateInResponseTo: ValidateInResponseTo.always,
    cacheProvider: cache,
    ...options,
  });
}

/** Path + query of an absolute URL on the broker (supertest talks to the app directly). */
export function local(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

export function formFields(htmlText: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of htmlText.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]!] = decodeEntities(m[2]!);
  }
  return out;
}

export function formAction(htmlText: string, id?: string): string | undefined {
  const re = id ? new RegExp(`<form method="post" action="([^"]+)" id="${id}">`) : /<form method="post" action="([^"]+)"/;
  const m = htmlText.match(re);
  return m ? decodeEntities(m[1]!) : undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export type Agent = ReturnType<typeof request.agent>;

/** Follow the SP's redirect into the broker; returns the response (a redirect to the chooser, or an auto-POST). */
export async function sendRedirectRequest(agent: Agent, sp: SAML, relayState = 'rs-1'): Promise<request.Response> {
  const url = await sp.getAuthorizeUrlAsync(relayState, undefined, {});
  return agent.get(local(url));
}

/** Chooser -> method -> Permanente form -> auto-POST page. */
export async function loginWithPassword(agent: Agent, chooserPath: string, dni: string, password: string): Promise<request.Response> {
  const chooser = await agent.get(chooserPath).expect(200);
  const csrf = formFields(chooser.text)._csrf!;
  const picked = await agent.post(chooserPath).type('form').send({ _csrf: csrf, method: 'permanente' }).expect(303);
  const formPage = await agent.get(picked.headers.location!).expect(200);
  const csrf2 = formFields(formPage.text)._csrf!;
  return agent.post(picked.headers.location!).type('form').send({ _csrf: csrf2, username: dni, password });
}

export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-'));
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}
