import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { apacheSite, filesAvailable, MELLON_MODULE, removeSite, startApache, WEB_STACKS, type Apache, type ApacheSite } from '../support/apache';
import { fetchBrokerMetadata, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';
import { mellonSiteConfig, mellonSp, type MellonSp } from '../support/mellon';
import { loginThroughSp, pageJson } from '../support/sp-login';
import { describeIfStack } from './driver';

/**
 * mod_auth_mellon 0.18 (Debian libapache2-mod-auth-mellon) in the test's own Apache, against
 * the broker as `npm start` runs it, configured with nothing but the broker's /metadata and its
 * metadata-signing certificate (docs/recipes/mellon.md). Four SPs: plain and encrypted
 * assertions, each at LoA low and substantial (mellon reads the LoA per SP endpoint). A fifth
 * SP is given the wrong certificate for the metadata signature and must refuse to work.
 */

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const loaUri = (l: string): string => `http://eidas.europa.eu/LoA/${l}`;

describeIfStack('mod_auth_mellon SP (Apache httpd) against the broker process', filesAvailable(WEB_STACKS.mellon), 'apache2 libapache2-mod-auth-mellon', () => {
  let site: ApacheSite;
  let broker: ProcessBroker | undefined;
  let apache: Apache | undefined;
  const sps: MellonSp[] = [];
  let wrongCertSp: MellonSp;

  beforeAll(async () => {
    site = await apacheSite('mellon');
    for (const encrypt of [false, true]) {
      for (const loa of ['low', 'substantial'] as const) sps.push(mellonSp(site, `${encrypt ? 'enc' : 'plain'}-${loa}`, { encrypt, loa }));
    }
    wrongCertSp = mellonSp(site, 'wrong-md-cert', { encrypt: false, loa: 'low', idpSigningCert: path.join(site.dir, 'not-the-metadata-signer.crt') });
    broker = await startProcessBroker({
      sps: [...sps, wrongCertSp].map((sp) => ({ name: `mellon-${sp.name}`, metadataXml: sp.metadataXml, policy: sp.encrypt ? { encryptAssertion: true } : undefined })),
    });
    writeFileSync(path.join(site.dir, 'idp-metadata.xml'), await fetchBrokerMetadata(broker));
    copyFileSync(broker.metadataSigningCertPath, path.join(site.dir, 'idp-metadata-signing.crt'));
    // A certificate of the broker that does not sign the metadata: its encryption certificate.
    copyFileSync(path.join(broker.keysDir, 'encryption.crt'), path.join(site.dir, 'not-the-metadata-signer.crt'));
    apache = await startApache(site, { modules: [MELLON_MODULE], site: mellonSiteConfig(site, [...sps, wrongCertSp]) });
  }, 60_000);

  afterAll(async () => {
    await apache?.stop();
    await broker?.stop();
    if (site) removeSite(site);
  });

  test.each([
    ['plain-low', 'low', false],
    ['plain-substantial', 'substantial', false],
    ['enc-low', 'low', true],
    ['enc-substantial', 'substantial', true],
  ] as const)('%s: signed Redirect AuthnRequest, login, mellon opens the protected page with the eIDAS attributes', async (name, loa, encrypted) => {
    const sp = sps.find((s) => s.name === name)!;
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const login = await loginThroughSp(citizen, sp.pageUrl, broker!.baseUrl, () => apache!.errorLog());

    // What mellon sent: a signed Redirect request for a persistent NameID at this LoA.
    expect(login.request.url.pathname).toBe('/saml/sso');
    expect(login.request.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(login.request.signature).toBeTruthy();
    expect(login.request.xml).toContain(`<saml:Issuer>${sp.entityId}</saml:Issuer>`);
    expect(login.request.xml).toContain(`Format="${PERSISTENT}"`);
    expect(login.request.xml).toContain(`<saml:AuthnContextClassRef>${loaUri(loa)}</saml:AuthnContextClassRef>`);

    // The broker encrypted exactly when the SP's metadata and policy ask for it.
    expect(login.posted.xml.includes('EncryptedAssertion')).toBe(encrypted);
    expect(login.acs.location).toBe(sp.pageUrl);

    const env = pageJson(login);
    expect(env.AUTH_TYPE).toBe('Mellon');
    expect(env.MELLON_IDP).toBe(broker!.entityId);
    expect(env.MELLON_PersonIdentifier).toBe('ES/ES/12345678Z');
    expect(env.MELLON_FirstName).toBe('María');
    expect(env.MELLON_FamilyName).toBe('García López');
    expect(env.MELLON_SelectedIdP).toBe('SEGSOC');
    // The user is the persistent, pairwise NameID: not the DNI.
    expect(env.REMOTE_USER).toBe(env.MELLON_NAME_ID);
    expect(env.REMOTE_USER).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(env.REMOTE_USER).not.toContain('12345678');
    // The assertion mellon verified (and decrypted) and keeps in its session.
    const session = Buffer.from(env.MELLON_SESSION!, 'base64').toString('utf8');
    expect(session).toContain(`<saml:AuthnContextClassRef>${loaUri(loa)}</saml:AuthnContextClassRef>`);
    expect(session).toMatch(new RegExp(`<saml:NameID Format="${PERSISTENT}"[^>]*>${env.REMOTE_USER}</saml:NameID>`));
  });

  test('metadata whose signature is not by the configured certificate: mellon refuses to use it', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const res = await citizen.get(wrongCertSp.pageUrl);
    let page = res;
    for (let i = 0; i < 3 && page.status >= 300 && page.status < 400 && page.location?.startsWith(site.baseUrl); i++) page = await citizen.get(page.location);
    expect(page.status).toBe(500);
    expect(readFileSync(path.join(site.dir, 'error_log'), 'utf8')).toContain('Lasso error: [-111] Failed to verify signature');
  });
});
