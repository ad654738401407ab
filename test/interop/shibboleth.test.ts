import { readFileSync } from 'node:fs';
import { apacheSite, filesAvailable, removeSite, SHIB_MODULE, startApache, WEB_STACKS, type Apache, type ApacheSite } from '../support/apache';
import { startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';
import { configureShib, debianConffileStatus, shibEnv, shibSiteConfig, shibSp, startShibd, type ShibSp, type Shibd } from '../support/shibboleth';
import { loginThroughSp, pageJson } from '../support/sp-login';
import { describeIfStack } from './driver';

/**
 * Shibboleth SP 3.4 (Debian shibd + libapache2-mod-shib) with the SHIPPED security policy
 * (/etc/shibboleth/security-policy.xml, untouched), configured with nothing but the broker's
 * /metadata (signature checked against the metadata-signing certificate) and an attribute map
 * for the eIDAS / Cl@ve names (docs/recipes/shibboleth.md). shibd and Apache are the test's
 * own processes; shibd fetches /metadata itself. Two applications (plain; encrypted
 * assertions), each at LoA low and substantial, and a third registered with the broker policy
 * profile "eidas".
 *
 * This is the stack that answered HTTP 500 after a successful login while the broker put
 * OneTimeUse in every assertion (shibd.log: "OneTimeUse condition not successfully validated
 * by policy"): the login must end on the protected page, with shibd having created a session.
 */

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const loaUri = (l: string): string => `http://eidas.europa.eu/LoA/${l}`;

describeIfStack('Shibboleth SP (shibd + mod_shib, shipped security policy) against the broker process', filesAvailable(WEB_STACKS.shibboleth), 'apache2 libapache2-mod-shib', () => {
  let site: ApacheSite;
  let sp: ShibSp;
  let broker: ProcessBroker | undefined;
  let shibd: Shibd | undefined;
  let apache: Apache | undefined;
  const logs = (): string => [apache?.errorLog(40) ?? '', shibd?.log(60) ?? ''].join('\n');

  beforeAll(async () => {
    site = await apacheSite('shib');
    sp = await shibSp(site, { eidasApp: true });
    broker = await startProcessBroker({ sps: sp.apps.map((a) => ({ name: `shibboleth-${a.id}`, metadataXml: a.metadataXml, policy: a.policy })) });
    configureShib(sp, {
      entityId: broker.entityId,
      metadataUrl: broker.metadataUrl,
      metadataSigningCertPem: readFileSync(broker.metadataSigningCertPath, 'utf8'),
    });
    shibd = await startShibd(sp);
    apache = await startApache(site, { modules: [SHIB_MODULE], site: shibSiteConfig(sp), env: shibEnv(sp, 'native'), extraLogs: [sp.nativeLog, sp.shibdLog] });
  }, 60_000);

  afterAll(async () => {
    await apache?.stop();
    await shibd?.stop();
    await broker?.stop();
    if (site) removeSite(site);
  });

  test('shibd runs with the security policy Debian ships, unchanged, and the signed /metadata it fetched', () => {
    const policy = '/etc/shibboleth/security-policy.xml';
    const status = debianConffileStatus(policy, 'shibboleth-sp-common');
    expect(status.shipped).toMatch(/^[0-9a-f]{32}$/);
    expect(status.actual).toBe(status.shipped);
    expect(readFileSync(`${sp.dir}/shibboleth2.xml`, 'utf8')).toContain(`<SecurityPolicyProvider type="XML" validate="true" path="${policy}"/>`);
    const log = readFileSync(sp.shibdLog, 'utf8');
    expect(log).toContain(`loaded XML resource (${policy})`);
    expect(log).toContain(`loaded XML resource (${broker!.metadataUrl})`);
    expect(log).toContain('applying metadata filter (Signature)');
  });

  test.each([
    ['default', '/plain', 'low'],
    ['default', '/plain', 'substantial'],
    ['enc', '/enc', 'low'],
    ['enc', '/enc', 'substantial'],
  ] as const)('application %s (%s) at %s: signed Redirect AuthnRequest, login, no HTTP 500, shibd accepts the assertion', async (appId, prefix, loa) => {
    const app = sp.apps.find((a) => a.id === appId)!;
    const pageUrl = `${site.baseUrl}${prefix}/${loa}/env`;
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const shibdLogBefore = readFileSync(sp.shibdLog, 'utf8').length;
    const login = await loginThroughSp(citizen, pageUrl, broker!.baseUrl, logs);

    expect(login.request.url.pathname).toBe('/saml/sso');
    expect(login.request.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(login.request.signature).toBeTruthy();
    expect(login.request.xml).toContain(`>${app.entityId}</saml:Issuer>`);
    expect(login.request.xml).toContain(`Format="${PERSISTENT}"`);
    expect(login.request.xml).toContain(`>${loaUri(loa)}</saml:AuthnContextClassRef>`);
    expect(login.posted.xml.includes('EncryptedAssertion')).toBe(app.encrypt);

    // mod_shib's ACS answered with the redirect to the page (a rejected assertion is a 500 page).
    expect(login.acs.status).toBe(302);
    expect(login.acs.location).toBe(pageUrl);

    // mod_shib's variables as a CGI script sees them (Apache turns '-' into '_').
    const env = pageJson(login);
    expect(env.AUTH_TYPE).toBe('shibboleth');
    expect(env.Shib_Application_ID).toBe(app.id);
    expect(env.Shib_Identity_Provider).toBe(broker!.entityId);
    expect(env.Shib_AuthnContext_Class).toBe(loaUri(loa));
    expect(env.PersonIdentifier).toBe('ES/ES/12345678Z');
    expect(env.FirstName).toBe('María');
    expect(env.FamilyName).toBe('García López');
    expect(env.SelectedIdP).toBe('SEGSOC');
    // REMOTE_USER is the persistent NameID (IdP!SP!value), not the DNI.
    expect(env.REMOTE_USER).toBe(env.persistent_id);
    const [idp, spName, nameId] = env.REMOTE_USER!.split('!');
    expect(idp).toBe(broker!.entityId);
    expect(spName).toBe(app.entityId);
    expect(nameId).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(env.REMOTE_USER).not.toContain('12345678');

    // shibd itself: a new session for this login, no assertion problem.
    const shibdLog = readFileSync(sp.shibdLog, 'utf8').slice(shibdLogBefore);
    expect(shibdLog).not.toContain('error processing incoming assertion');
    expect(shibdLog).toContain(`new session created: ID (${env.Shib_Session_ID})`);
  });

  test('a session at low does not open the substantial page (Require authnContextClassRef)', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const login = await loginThroughSp(citizen, `${site.baseUrl}/plain/low/env`, broker!.baseUrl, logs);
    expect(pageJson(login).Shib_AuthnContext_Class).toBe(loaUri('low'));
    const higher = await citizen.get(`${site.baseUrl}/plain/substantial/env`);
    expect(higher.status).toBe(401);
    expect(higher.text).not.toContain('ES/ES/12345678Z');
  });

  test('an SP registered with profile "eidas" gets OneTimeUse, and the shipped policy refuses it (HTTP 500): why the broker no longer sends it to generic SPs', async () => {
    const citizen = new HttpCitizen({ outboxPath: broker!.outboxPath });
    const shibdLogBefore = readFileSync(sp.shibdLog, 'utf8').length;
    const refused = await loginThroughSp(citizen, `${site.baseUrl}/eidas/low/env`, broker!.baseUrl, () => '').then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/^the SP did not accept the Response at its ACS: 500 .*\/eidas\/Shibboleth\.sso\/SAML2\/POST/);
    expect(refused).toContain('OneTimeUse condition not successfully validated by policy.');
    const shibdLog = readFileSync(sp.shibdLog, 'utf8').slice(shibdLogBefore);
    expect(shibdLog).toMatch(/WARN Shibboleth\.SSO\.SAML2 \[\d+\] \[eidas\]: error processing incoming assertion: OneTimeUse condition not successfully validated by policy\./);
    expect(shibdLog).not.toContain('new session created');
  });
});
