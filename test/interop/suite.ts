import { fetchBrokerMetadata, startProcessBroker, type ProcessBroker, type SpRegistration } from '../support/broker-process';
import { HttpCitizen, posted as autoPost, type PostedResponse } from '../support/http-citizen';
import { describeIfStack, makeSpFiles, SpDriver, tempDir, toolAvailable, type IdpSpec, type LoginVariant, type SpLogin, type SpSpec, type SpStack } from './driver';

/**
 * The interop matrix one SP stack goes through, against the broker started as `npm start`
 * starts it (one process per test file, reused by every case, cases run in order):
 *
 *   request binding (Redirect, POST) x assertion (plain, encrypted) x LoA (low, substantial)
 *
 * Two SPs of the stack are registered the operators' way (their own metadata in the metadata
 * dir; the encrypted one with `{"encryptAssertion": true}`), each configured from the broker's
 * /metadata with the library's own metadata signature check. Every response goes through the
 * library's own checks (signature, InResponseTo, audience, destination, time); the test then
 * asserts on what the library handed back. Then the refusals the stack gives cheaply.
 */

export const LOA = {
  low: 'http://eidas.europa.eu/LoA/low',
  substantial: 'http://eidas.europa.eu/LoA/substantial',
} as const;
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

function decodeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
const EIDAS = 'http://eidas.europa.eu/attributes/naturalperson/';
const CLAVE = 'http://es.minhafp.clave/';

/** Attribute Name -> the FriendlyName some libraries key it by instead. */
const EXPECTED_ATTRIBUTES: Array<{ name: string; friendly: string; value: string }> = [
  { name: `${EIDAS}PersonIdentifier`, friendly: 'PersonIdentifier', value: 'ES/ES/12345678Z' },
  { name: `${EIDAS}CurrentGivenName`, friendly: 'FirstName', value: 'María' },
  { name: `${EIDAS}CurrentFamilyName`, friendly: 'FamilyName', value: 'García López' },
  { name: `${CLAVE}SelectedIdP`, friendly: 'SelectedIdP', value: 'SEGSOC' },
];

export function attributeValues(login: SpLogin, name: string, friendly: string): string[] | undefined {
  return login.attributes[name] ?? login.attributes[friendly];
}

export interface StackOptions {
  /** describe title, e.g. "pysaml2 7.0.1 (Debian python3-pysaml2)". */
  title: string;
  /** Short name: SP entity IDs, metadata file names. */
  stack: string;
  /** The driver process (JSON lines, see driver.ts)… */
  command?: string;
  args?: string[];
  /** …or an in-process stack. */
  inProcess?: () => SpStack;
  /** A command that exits 0 when the stack is installed (none: always available). */
  probe?: { command: string; args: string[] };
  /** Debian packages the stack needs (named when it is missing). */
  packages?: string;
  /** Request bindings: "redirect", "post", or stack variants starting with either (e.g. "post-deflated"). */
  bindings: string[];
  /**
   * What the stack says about eIDAS-typed attribute values, when it refuses them: a third SP
   * with policy `{"profile": "eidas"}` is then registered and refused (the recipes' table row).
   */
  eidasProfileRefusal?: RegExp;
  /** The stack drops the outstanding request when a response for it fails its checks (node-saml). */
  failureSpendsRequest?: boolean;
  /** What the stack says when it refuses (matched against the driver's error). */
  refusals: { replay: RegExp; otherSp: RegExp; tampered: RegExp };
}

export interface StackContext {
  broker: ProcessBroker;
  driver: SpStack;
  sps: { plain: SpSpec; enc: SpSpec; eidas?: SpSpec };
  /** A fresh browser (no SSO session). */
  citizen(): HttpCitizen;
  /** SP login request -> citizen -> auto-POST fields (not yet given to the SP). */
  loginAtBroker(sp: SpSpec, binding: string, loa: string, relayState: string): Promise<{ requestId: string; posted: PostedResponse }>;
}

export function interopSuite(opts: StackOptions, extra?: (ctx: () => StackContext) => void): void {
  const available = opts.probe ? toolAvailable(opts.probe.command, opts.probe.args) : ({ ok: true } as const);
  describeIfStack(opts.title, available, opts.packages ?? '', () => {
    let ctx: StackContext | undefined;
    const tmp = tempDir(`pasarela-${opts.stack}-`);
    const nameIds = new Map<string, Set<string>>();

    beforeAll(async () => {
      const driver: SpStack = opts.inProcess ? opts.inProcess() : new SpDriver(opts.stack, opts.command!, opts.args ?? []);
      const spec = (name: 'plain' | 'enc' | 'eidas'): SpSpec => ({
        name: `${opts.stack}-${name}`,
        entityId: `https://${opts.stack}-${name}.sp.test/metadata`,
        acsUrl: `https://${opts.stack}-${name}.sp.test/acs`,
        ...makeSpFiles(tmp.dir, `${opts.stack}-${name}`, name === 'enc'),
      });
      const sps = { plain: spec('plain'), enc: spec('enc'), ...(opts.eidasProfileRefusal ? { eidas: spec('eidas') } : {}) };
      let broker: ProcessBroker | undefined;
      try {
        await driver.ping();
        const registrations: SpRegistration[] = [
          { name: sps.plain.name, metadataXml: (await driver.metadata(sps.plain)).xml },
          { name: sps.enc.name, metadataXml: (await driver.metadata(sps.enc)).xml, policy: { encryptAssertion: true } },
        ];
        if (sps.eidas) registrations.push({ name: sps.eidas.name, metadataXml: (await driver.metadata(sps.eidas)).xml, policy: { profile: 'eidas' } });
        broker = await startProcessBroker({ sps: registrations });
        const idp: IdpSpec = { metadataUrl: broker.metadataUrl, metadataCertFile: broker.metadataSigningCertPath, entityId: broker.entityId };
        for (const sp of [sps.plain, sps.enc, ...(sps.eidas ? [sps.eidas] : [])]) await driver.configure(sp, idp);
      } catch (err) {
        await broker?.stop();
        await driver.stop();
        throw err;
      }
      const b = broker;
      const citizen = () => new HttpCitizen({ outboxPath: b.outboxPath });
      ctx = {
        broker: b,
        driver,
        sps,
        citizen,
        async loginAtBroker(sp, binding, loa, relayState) {
          const { requestId, request } = await driver.login(sp.name, binding, loa, relayState);
          expect(request.method).toBe(binding.startsWith('redirect') ? 'GET' : 'POST');
          expect(request.url.startsWith(b.ssoUrl)).toBe(true);
          const posted = await citizen().login(request);
          return { requestId, posted };
        },
      };
    }, 90_000);

    afterAll(async () => {
      await ctx?.driver.stop();
      await ctx?.broker.stop();
      tmp.remove();
    });

    const c = (): StackContext => {
      if (!ctx) throw new Error('the stack did not start (see beforeAll)');
      return ctx;
    };

    test('the SP loads /metadata only with its signature check passing (metadata-signing certificate; a wrong one is refused)', async () => {
      const { broker, driver, sps } = c();
      const md = await fetchBrokerMetadata(broker);
      expect(md).toContain('<ds:Signature');
      const idp = { metadataUrl: broker.metadataUrl, metadataCertFile: broker.metadataSigningCertPath, entityId: broker.entityId };
      // A scratch SP name, so the configured SPs keep their state.
      const probe = { ...sps.plain, name: `${sps.plain.name}-probe` };
      expect(await driver.configure(probe, idp)).toEqual({ idpEntityId: broker.entityId });
      await expect(driver.configure(probe, { ...idp, metadataCertFile: sps.plain.signing.certFile })).rejects.toThrow();
    });

    const matrix: Array<[string, 'plain' | 'enc', keyof typeof LOA]> = [];
    for (const binding of opts.bindings) for (const kind of ['plain', 'enc'] as const) for (const loa of ['low', 'substantial'] as const) matrix.push([binding, kind, loa]);

    test.each(matrix)('%s request, %s assertion, LoA %s: the SP accepts the response and reads the citizen', async (binding, kind, loa) => {
      const { sps, driver, broker } = c();
      const sp = sps[kind];
      const relayState = `rs-${binding}-${kind}-${loa}`;
      const { requestId, posted } = await c().loginAtBroker(sp, binding, LOA[loa], relayState);
      expect(posted.action).toBe(sp.acsUrl);
      expect(posted.RelayState).toBe(relayState);
      if (kind === 'enc') {
        expect(posted.xml).toContain('EncryptedAssertion');
        expect(posted.xml).not.toMatch(/<(\w+:)?Assertion[\s>]/);
      } else {
        expect(posted.xml).not.toContain('EncryptedAssertion');
        // Plain SAML profile (the request had no eIDAS extensions): untyped values, no OneTimeUse.
        expect(posted.xml).not.toContain('xsi:type');
        expect(posted.xml).not.toContain('OneTimeUse');
      }

      const login = await driver.acs(sp.name, posted, requestId);
      expect(login.issuer).toBe(broker.entityId);
      expect(login.inResponseTo).toBe(requestId);
      expect(login.nameIdFormat).toBe(PERSISTENT);
      expect(login.nameId).not.toContain('12345678');
      expect(login.nameId.length).toBeGreaterThanOrEqual(16);
      expect(login.authnContextClassRef).toBe(LOA[loa]);
      for (const a of EXPECTED_ATTRIBUTES) expect([a.name, attributeValues(login, a.name, a.friendly)]).toEqual([a.name, [a.value]]);
      if (!nameIds.has(sp.name)) nameIds.set(sp.name, new Set());
      nameIds.get(sp.name)!.add(login.nameId);
    });

    test('persistent NameID: one value per SP across the logins above, different between the two SPs', () => {
      const plain = nameIds.get(c().sps.plain.name);
      const enc = nameIds.get(c().sps.enc.name);
      expect(plain?.size).toBe(1);
      expect(enc?.size).toBe(1);
      expect([...plain!][0]).not.toBe([...enc!][0]);
    });

    test('the same SAMLResponse posted twice: the second is refused', async () => {
      const { sps, driver } = c();
      const { requestId, posted } = await c().loginAtBroker(sps.plain, opts.bindings[0]!, LOA.low, 'rs-replay');
      await driver.acs(sps.plain.name, posted, requestId);
      const again = driver.acs(sps.plain.name, posted, requestId);
      await expect(again).rejects.toThrow(opts.refusals.replay);
    });

    test("a response for another SP (the demo SP) is refused, even with a login of this SP's outstanding", async () => {
      const { sps, driver, broker } = c();
      const { requestId } = await driver.login(sps.plain.name, opts.bindings[0]!, LOA.low, 'rs-other');
      const browser = c().citizen();
      const demo = await browser.get(`${broker.baseUrl}/demo/login?loa=low`);
      const posted = await browser.login({ method: 'GET', url: demo.location! });
      expect(posted.action).toBe(`${broker.baseUrl}/demo/acs`);
      await expect(driver.acs(sps.plain.name, posted, requestId)).rejects.toThrow(opts.refusals.otherSp);
    });

    test('a tampered response (PersonIdentifier changed) is refused by the signature check; the untouched one is then accepted', async () => {
      const { sps, driver } = c();
      const { requestId, posted } = await c().loginAtBroker(sps.plain, opts.bindings[0]!, LOA.low, 'rs-tamper');
      expect(posted.xml).toContain('ES/ES/12345678Z');
      const forged = Buffer.from(posted.xml.replace('ES/ES/12345678Z', 'ES/ES/87654321X'), 'utf8').toString('base64');
      await expect(driver.acs(sps.plain.name, { ...posted, SAMLResponse: forged }, requestId)).rejects.toThrow(opts.refusals.tampered);
      if (opts.failureSpendsRequest) {
        // This stack forgets the outstanding request on any failure: the untouched response is now unsolicited.
        await expect(driver.acs(sps.plain.name, posted, requestId)).rejects.toThrow(opts.refusals.replay);
        return;
      }
      const ok = await driver.acs(sps.plain.name, posted, requestId);
      expect(attributeValues(ok, `${EIDAS}PersonIdentifier`, 'PersonIdentifier')).toEqual(['ES/ES/12345678Z']);
    });

    // The misconfigurations docs/recipes/*.md warn about, and what the broker says to each.
    const refusalCases: Array<{ what: string; variant?: LoginVariant; loa?: string; page?: RegExp; status?: string; library?: RegExp }> = [
      { what: 'an RSA-SHA1 signature', variant: 'sha1', page: /SHA-1 is refused unless the operator enables allowSha1 for this SP/ },
      { what: 'an unsigned request', variant: 'unsigned', page: /must be signed \(AuthnRequestsSigned="true" in its metadata\)/ },
      { what: 'PasswordProtectedTransport instead of an eIDAS LoA', loa: PASSWORD_PROTECTED_TRANSPORT, status: 'NoAuthnContext', library: /AuthnContextClassRef "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" is not a known level of assurance/ },
      { what: 'an emailAddress NameID', variant: 'email-nameid', status: 'InvalidNameIDPolicy', library: /NameIDPolicy Format "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" is not supported/ },
    ];
    const refusals = opts.bindings.flatMap((binding) => refusalCases.map((r) => ({ ...r, binding })));
    test.each(refusals)('$binding request with $what: refused, and the SP developer is told why', async ({ binding, variant, loa, page, status, library }) => {
      const { sps, driver, broker } = c();
      const { requestId, request } = await driver.login(sps.plain.name, binding, loa ?? LOA.low, 'rs-refused', variant);
      const answer = await c().citizen().send(request);
      if (page) {
        // No SAML answer is possible (the request is not trusted): an error page that says why.
        expect(answer.status).toBe(400);
        expect(decodeHtml(answer.text)).toMatch(page);
        return;
      }
      // A signed SAML error Response to the SP's ACS, which the SP library reports.
      const posted = answer.status === 200 ? autoPost(answer.text) : undefined;
      expect(posted?.action).toBe(sps.plain.acsUrl);
      expect(posted!.xml).toContain(`urn:oasis:names:tc:SAML:2.0:status:${status}`);
      expect(posted!.xml).toContain(broker.entityId);
      await expect(driver.acs(sps.plain.name, posted!, requestId)).rejects.toThrow(library!);
    });

    if (opts.eidasProfileRefusal) {
      test('an SP whose policy forces the eIDAS profile gets eIDAS-typed values, which this stack refuses', async () => {
        const { sps, driver } = c();
        const { requestId, posted } = await c().loginAtBroker(sps.eidas!, opts.bindings[0]!, LOA.low, 'rs-eidas');
        expect(posted.xml).toContain('xsi:type="eidas-natural:PersonIdentifierType"');
        expect(posted.xml).toContain('OneTimeUse');
        await expect(driver.acs(sps.eidas!.name, posted, requestId)).rejects.toThrow(opts.eidasProfileRefusal);
      });
    }

    extra?.(c);
  });
}
