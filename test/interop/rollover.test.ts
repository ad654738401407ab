import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { fetchBrokerMetadata, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { HttpCitizen } from '../support/http-citizen';
import { describeIfStack, makeSpFiles, SpDriver, tempDir, toolAvailable, type IdpSpec, type SpSpec, type SpStack } from './driver';
import { NodeSamlStack } from './node-saml/stack';
import { attributeValues } from './suite';

/**
 * The README's key-rollover procedure, step by step, with real SPs that keep working before,
 * during and after the switch: node-saml and pysaml2, each configured from /metadata with its
 * own signature check against the pinned metadata-signing certificate (which never changes).
 *
 *   1. publish: generate next-signing.key/.crt, set keys.nextSigningCertPath, restart
 *   2. SPs refresh our metadata (they now trust the current and the next certificate)
 *   3. switch: the next pair becomes signing.key/.crt, restart
 *   4. retire: unset keys.nextSigningCertPath, restart
 */
const LOW = 'http://eidas.europa.eu/LoA/low';
const PERSON = 'http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier';

const pysaml2 = toolAvailable('/usr/bin/python3', ['-c', 'import saml2.client; import shutil, sys; sys.exit(0 if shutil.which("xmlsec1") else 1)']);

describeIfStack('signing-key rollover with node-saml and pysaml2 SPs', pysaml2, 'python3-pysaml2 xmlsec1', () => {
  const tmp = tempDir('pasarela-rollover-');
  let broker: ProcessBroker;
  let idp: IdpSpec;
  const stacks: Array<{ stack: SpStack; sp: SpSpec }> = [];

  const spec = (name: string): SpSpec => ({
    name: `${name}-rollover`,
    entityId: `https://${name}-rollover.sp.test/metadata`,
    acsUrl: `https://${name}-rollover.sp.test/acs`,
    ...makeSpFiles(tmp.dir, `${name}-rollover`, false),
  });

  beforeAll(async () => {
    stacks.push({ stack: new NodeSamlStack(), sp: spec('node-saml') });
    stacks.push({ stack: new SpDriver('pysaml2', '/usr/bin/python3', [path.join(__dirname, 'pysaml2', 'driver.py')]), sp: spec('pysaml2') });
    const sps = [];
    for (const { stack, sp } of stacks) {
      await stack.ping();
      sps.push({ name: sp.name, metadataXml: (await stack.metadata(sp)).xml });
    }
    broker = await startProcessBroker({ sps });
    idp = { metadataUrl: broker.metadataUrl, metadataCertFile: broker.metadataSigningCertPath, entityId: broker.entityId };
    for (const { stack, sp } of stacks) await stack.configure(sp, idp);
  }, 120_000);
  afterAll(async () => {
    for (const { stack } of stacks) await stack.stop();
    await broker?.stop();
    tmp.remove();
  });

  /** A full login through each SP; returns what each SP library said (the PersonIdentifier, or its error). */
  async function loginEverySp(): Promise<string[]> {
    const out: string[] = [];
    for (const { stack, sp } of stacks) {
      const { requestId, request } = await stack.login(sp.name, 'redirect', LOW, 'rollover');
      const posted = await new HttpCitizen({ outboxPath: broker.outboxPath }).login(request);
      try {
        const login = await stack.acs(sp.name, posted, requestId);
        out.push(`${sp.name}: ${attributeValues(login, PERSON, 'PersonIdentifier')?.[0] ?? '(no PersonIdentifier)'}`);
      } catch (err) {
        out.push(`${sp.name}: refused: ${(err as Error).message.slice(0, 120)}`);
      }
    }
    return out;
  }
  const allOk = () => stacks.map(({ sp }) => `${sp.name}: ES/ES/12345678Z`);
  const signingCerts = (md: string) => [...md.matchAll(/<md:KeyDescriptor use="signing"><ds:KeyInfo[^>]*><ds:X509Data><ds:X509Certificate>([^<]+)</g)].map((m) => m[1]!);
  const b64 = (file: string) => readFileSync(file, 'utf8').replace(/-----[^-]+-----|\s/g, '');

  test('before, during and after the switch, and after retiring the old key, both SPs log in', async () => {
    const keys = broker.keysDir;
    const oldCert = b64(path.join(keys, 'signing.crt'));
    const pinned = b64(broker.metadataSigningCertPath);
    expect(await loginEverySp()).toEqual(allOk());

    // 1. publish the next key.
    const next = makeSelfSignedRsa('pasarela next signing');
    writeFileSync(path.join(keys, 'next-signing.key'), next.keyPem, { mode: 0o600 });
    writeFileSync(path.join(keys, 'next-signing.crt'), next.certPem);
    await broker.restart({ config: { keys: { nextSigningCertPath: path.join(keys, 'next-signing.crt') } } });
    const during = await fetchBrokerMetadata(broker);
    expect(signingCerts(during)).toEqual([oldCert, b64(path.join(keys, 'next-signing.crt'))]);
    // SPs that have not refreshed yet keep working: responses are still signed with the old key.
    expect(await loginEverySp()).toEqual(allOk());

    // 2. SPs refresh our metadata (checked with the same pinned metadata-signing certificate).
    for (const { stack, sp } of stacks) await stack.configure(sp, idp);
    expect(await loginEverySp()).toEqual(allOk());

    // 3. switch: the next pair becomes the signing pair.
    renameSync(path.join(keys, 'signing.key'), path.join(keys, 'old-signing.key'));
    renameSync(path.join(keys, 'signing.crt'), path.join(keys, 'old-signing.crt'));
    renameSync(path.join(keys, 'next-signing.key'), path.join(keys, 'signing.key'));
    renameSync(path.join(keys, 'next-signing.crt'), path.join(keys, 'signing.crt'));
    await broker.restart({ config: { keys: { nextSigningCertPath: path.join(keys, 'signing.crt') } } });
    expect(signingCerts(await fetchBrokerMetadata(broker))).toEqual([b64(path.join(keys, 'signing.crt'))]);
    // The SPs configured during the rollover trust the new key without refreshing again.
    expect(await loginEverySp()).toEqual(allOk());

    // 4. retire: no next certificate any more; the SPs refresh; the metadata signature never changed key.
    await broker.restart({ config: { keys: { nextSigningCertPath: '' } } });
    const after = await fetchBrokerMetadata(broker);
    expect(signingCerts(after)).toEqual([b64(path.join(keys, 'signing.crt'))]);
    expect(after).toContain(pinned);
    for (const { stack, sp } of stacks) await stack.configure(sp, idp);
    expect(await loginEverySp()).toEqual(allOk());
  }, 180_000);

  test('an SP that never refreshed during the rollover is refused after the switch (why step 2 matters)', async () => {
    // Configure a node-saml SP now (after the switch), then roll again without letting it refresh.
    const keys = broker.keysDir;
    const [{ stack, sp }] = stacks;
    await stack!.configure(sp!, idp);
    const next = makeSelfSignedRsa('pasarela next signing 2');
    renameSync(path.join(keys, 'signing.key'), path.join(keys, 'old2-signing.key'));
    renameSync(path.join(keys, 'signing.crt'), path.join(keys, 'old2-signing.crt'));
    writeFileSync(path.join(keys, 'signing.key'), next.keyPem, { mode: 0o600 });
    writeFileSync(path.join(keys, 'signing.crt'), next.certPem);
    await broker.restart();
    const [nodeSaml] = await loginEverySp();
    expect(nodeSaml).toMatch(/refused: .*signature/i);
  }, 120_000);
});
