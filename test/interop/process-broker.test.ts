import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fetchBrokerMetadata, REPO_ROOT, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';

/**
 * The helpers the interop tests stand on: the broker started as `npm start` starts it (a child
 * process on its own ports and temp files), and a citizen's HTTP client that gets through the
 * chooser, Cl@ve Permanente and the SMS code. Driven here by the demo SP, which is itself a
 * real SP (node-saml) mounted by the broker.
 */
const sent = (b: ProcessBroker): number => (existsSync(b.outboxPath) ? readFileSync(b.outboxPath, 'utf8').split('\n').filter(Boolean).length : 0);

describe('broker process + HTTP citizen', () => {
  let broker: ProcessBroker;
  beforeAll(async () => {
    broker = await startProcessBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  test('isolated: own port, files in a temp dir, nothing written to the repository var/', async () => {
    expect(broker.stdout()).toContain(`Pasarela is listening on ${broker.baseUrl}`);
    expect(existsSync(broker.sqlitePath)).toBe(true);
    // Secrets come from the environment, so the development fallback (var/secrets.json) never runs.
    expect(broker.stdout()).not.toContain('var/secrets.json');
    expect(broker.stdout()).not.toContain(path.join(REPO_ROOT, 'var'));
    expect(existsSync(broker.metadataSigningCertPath)).toBe(true);
    expect(broker.stdout()).toContain(broker.outboxPath);
    expect(path.relative(REPO_ROOT, broker.dir).startsWith('..')).toBe(true);
    expect(broker.stdout()).toContain(`${broker.operatorUrl}/metrics`);
    expect((await fetch(`${broker.operatorUrl}/healthz`)).status).toBe(200);
    const md = await fetchBrokerMetadata(broker);
    expect(md).toContain(`entityID="${broker.entityId}"`);
    expect(md).toContain(`Location="${broker.ssoUrl}"`);
    // The metadata-signing certificate is the one in the metadata's signature.
    const certB64 = readFileSync(broker.metadataSigningCertPath, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    expect(md.replace(/\s/g, '')).toContain(certB64);
  });

  test.each(['low', 'substantial'])('demo SP at %s: chooser, Permanente (+ SMS code), auto-POST accepted by the demo SP', async (loa) => {
    const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
    const smsBefore = sent(broker);
    const sp = await citizen.get(`${broker.baseUrl}/demo/login?loa=${loa}`);
    expect(sp.status).toBe(302);
    const first = await citizen.get(sp.location!);
    expect(first.status).toBe(303);
    expect(new URL(first.location!).pathname).toMatch(/^\/login\/[^/]+$/);
    const out = await citizen.signIn(first);
    expect(out.action).toBe(`${broker.baseUrl}/demo/acs`);
    expect(out.RelayState).toBe('demo');
    // The SMS code is asked for only when the password alone does not reach the LoA.
    expect(sent(broker) - smsBefore).toBe(loa === 'substantial' ? 1 : 0);
    const acs = await citizen.post(out.action, out.fields);
    expect(acs.status).toBe(200);
    expect(acs.text).toContain(`<strong id="loa">http://eidas.europa.eu/LoA/${loa}</strong>`);
    expect(acs.text).toContain('<td>ES/ES/12345678Z</td>');
  });
});
