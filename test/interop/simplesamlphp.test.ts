import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fetchBrokerMetadata, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';
import {
  configureSspIdp,
  convertIdpMetadata,
  removeSspSite,
  sspAvailable,
  sspSite,
  sspSpMetadata,
  startSsp,
  type SspServer,
  type SspSite,
} from '../support/simplesamlphp';
import { loginThroughSp, pageJson } from '../support/sp-login';
import { describeIfStack } from './driver';

/**
 * SimpleSAMLphp 1.19 (Debian simplesamlphp) as an SP, served by `php -S`, against the broker as
 * `npm start` runs it. The broker is given the SP metadata SimpleSAMLphp itself publishes;
 * SimpleSAMLphp is given the broker's /metadata, converted only after its signature verified
 * with the metadata-signing certificate (docs/recipes/simplesamlphp.md). Two authsources
 * (plain; encrypted assertions required), each at LoA low and substantial.
 */

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const loaUri = (l: string): string => `http://eidas.europa.eu/LoA/${l}`;

interface SspPage {
  authsource: string;
  idp: string;
  authnContext: string;
  nameId: { value: string; format: string } | null;
  attributes: Record<string, string[]>;
}

describeIfStack('SimpleSAMLphp SP (php -S) against the broker process', sspAvailable(), 'simplesamlphp php-cli php-xml', () => {
  let site: SspSite;
  let ssp: SspServer | undefined;
  let broker: ProcessBroker | undefined;

  beforeAll(async () => {
    site = await sspSite();
    ssp = await startSsp(site);
    const plain = await sspSpMetadata(site, 'pasarela');
    const enc = await sspSpMetadata(site, 'pasarela-enc');
    broker = await startProcessBroker({
      sps: [
        { name: 'simplesamlphp', metadataXml: plain },
        { name: 'simplesamlphp-enc', metadataXml: enc, policy: { encryptAssertion: true } },
      ],
    });
    await configureSspIdp(site, { entityId: broker.entityId, metadataXml: await fetchBrokerMetadata(broker), certFile: broker.metadataSigningCertPath });
  }, 60_000);

  afterAll(async () => {
    await ssp?.stop();
    await broker?.stop();
    if (site) removeSspSite(site);
  });

  test.each([
    ['pasarela', 'low'],
    ['pasarela', 'substantial'],
    ['pasarela-enc', 'low'],
    ['pasarela-enc', 'substantial'],
  ] as const)('%s at %s: signed Redirect AuthnRequest, login, requireAuth() passes with the eIDAS attributes', async (authsource, loa) => {
    const encrypted = authsource === 'pasarela-enc';
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const login = await loginThroughSp(citizen, site.pageUrl(authsource, loa), broker!.baseUrl, () => ssp!.logs());

    expect(login.request.url.pathname).toBe('/saml/sso');
    expect(login.request.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(login.request.signature).toBeTruthy();
    expect(login.request.xml).toContain(`>${site.entityId(authsource)}</saml:Issuer>`);
    expect(login.request.xml).toContain(`Format="${PERSISTENT}"`);
    expect(login.request.xml).toContain(`>${loaUri(loa)}</saml:AuthnContextClassRef>`);
    expect(login.posted.xml.includes('EncryptedAssertion')).toBe(encrypted);
    expect(login.acs.location).toBe(site.pageUrl(authsource, loa));

    const page = pageJson(login) as unknown as SspPage;
    expect(page.authsource).toBe(authsource);
    expect(page.idp).toBe(broker!.entityId);
    expect(page.authnContext).toBe(loaUri(loa));
    expect(page.attributes.PersonIdentifier).toEqual(['ES/ES/12345678Z']);
    expect(page.attributes.FirstName).toEqual(['María']);
    expect(page.attributes.FamilyName).toEqual(['García López']);
    expect(page.attributes.SelectedIdP).toEqual(['SEGSOC']);
    // The user is the persistent, pairwise NameID: not the DNI.
    expect(page.nameId?.format).toBe(PERSISTENT);
    expect(page.nameId?.value).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(page.nameId?.value).not.toContain('12345678');
  });

  test('the metadata converter refuses metadata whose signature is not by the given certificate', async () => {
    const md = path.join(site.dir, 'check-metadata.xml');
    writeFileSync(md, await fetchBrokerMetadata(broker!));
    await expect(convertIdpMetadata(site, md, path.join(broker!.keysDir, 'encryption.crt'))).rejects.toThrow(/is not signed by/);
    await expect(convertIdpMetadata(site, md, broker!.metadataSigningCertPath)).resolves.toContain(`$metadata['${broker!.entityId}']`);
  });
});
