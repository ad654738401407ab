import request from 'supertest';
import { formAction, formFields, loginWithPassword, nodeSamlSp, sendRedirectRequest, SP_ACS, startBroker, type BrokerUnderTest } from '../support/harness';
import { describeEachPair } from '../support/pairs';

const BASIC = {
  dni: '11111111H',
  password: 'Basic-Citizen-42',
  givenName: 'Luis',
  firstSurname: 'Pardo',
  secondSurname: null,
  dateOfBirth: '1970-07-07',
  mobile: '+34600333444',
  registrationLevel: 'basic' as const,
};
const ADVANCED = { ...BASIC, dni: '22222222J', givenName: 'Eva', registrationLevel: 'advanced' as const };
/** A hostile value: it must come back as this exact string, never as markup. */
const HOSTILE = { ...BASIC, dni: '33333333P', givenName: `</saml:AttributeValue><saml:Attribute Name="role"><saml:AttributeValue>admin & "x"` };

const LOW = 'http://eidas.europa.eu/LoA/low';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';

function posted(text: string) {
  const f = formFields(text);
  return { action: formAction(text, 'saml-post'), samlResponse: f.SAMLResponse!, xml: Buffer.from(f.SAMLResponse ?? '', 'base64').toString('utf8') };
}

describeEachPair('SSO session, step-up and attribute escaping', (pair) => {
  let broker: BrokerUnderTest;

  beforeAll(async () => {
    // Policy as data: with this table the password alone reaches substantial for advanced registrations.
    broker = await startBroker({
      store: await pair.makeStore(),
      ds: await pair.makeDataSource(),
      overrides: { loaPolicy: { 'permanente.password': { basic: 'low', advanced: 'substantial' } } },
    });
    for (const c of [BASIC, ADVANCED, HOSTILE]) await broker.services.citizens.create(c);
  });

  test('a session at low does not satisfy a later substantial request: the citizen steps up', async () => {
    const agent = request.agent(broker.app);
    const low = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW] }));
    const first = await loginWithPassword(agent, low.headers.location!, BASIC.dni, BASIC.password);
    expect(posted(first.text).xml).toContain(`<saml:AuthnContextClassRef>${LOW}</saml:AuthnContextClassRef>`);

    const sp = nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] });
    const substantial = await sendRedirectRequest(agent, sp);
    expect(substantial.status).toBe(303); // not a free pass: back to the chooser
    const chooser = await agent.get(`${substantial.headers.location!}?lang=en`);
    expect(chooser.text).toContain('You signed in at level low');

    // The basic registration cannot reach substantial: told why, nothing is posted.
    const refused = await loginWithPassword(agent, substantial.headers.location!, BASIC.dni, BASIC.password);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('advanced registration');
    expect(refused.text).not.toContain('SAMLResponse');

    const stepped = await loginWithPassword(agent, substantial.headers.location!, ADVANCED.dni, ADVANCED.password);
    const out = posted(stepped.text);
    expect(out.xml).toContain(`<saml:AuthnContextClassRef>${SUBSTANTIAL}</saml:AuthnContextClassRef>`);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: 'rs-1' });
    expect(profile!['http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier']).toBe(`ES/ES/${ADVANCED.dni}`);

    // The raised session now answers substantial requests without interaction.
    const again = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [SUBSTANTIAL] }));
    expect(again.status).toBe(200);
    expect(posted(again.text).action).toBe(SP_ACS);
  });

  test('exact comparison is answered with the requested level, never an over-claim', async () => {
    const agent = request.agent(broker.app);
    const start = await sendRedirectRequest(agent, nodeSamlSp(broker, { authnContext: [LOW], racComparison: 'exact' }));
    const done = await loginWithPassword(agent, start.headers.location!, ADVANCED.dni, ADVANCED.password);
    expect(posted(done.text).xml).toContain(`<saml:AuthnContextClassRef>${LOW}</saml:AuthnContextClassRef>`);
  });

  test('attribute values with XML metacharacters come back as the exact string', async () => {
    const agent = request.agent(broker.app);
    const sp = nodeSamlSp(broker);
    const start = await sendRedirectRequest(agent, sp);
    const done = await loginWithPassword(agent, start.headers.location!, HOSTILE.dni, HOSTILE.password);
    const out = posted(done.text);
    expect(out.xml).not.toContain('<saml:Attribute Name="role">');
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: out.samlResponse, RelayState: 'rs-1' });
    expect(profile!['http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName']).toBe(HOSTILE.givenName);
    expect(profile!.role).toBeUndefined();
  });

  if (pair.sharedStore) {
    test('a login started on one broker node finishes on another (shared Redis and PostgreSQL)', async () => {
      const nodeB = await startBroker({ store: await pair.makeStore(), ds: await pair.makeDataSource(), keysDir: broker.keysDir });
      const sp = nodeSamlSp(broker);
      const url = new URL(await sp.getAuthorizeUrlAsync('cross', undefined, {}));
      const onA = request.agent(broker.app);
      const start = await onA.get(url.pathname + url.search).expect(303);
      // Same browser, other node: carry the cookies over explicitly.
      const jar = new Map<string, string>();
      const keep = (res: request.Response) => {
        for (const c of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
          const [k, v] = c.split(';')[0]!.split('=');
          jar.set(k!, v!);
        }
        return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      };
      keep(start);
      const chooser = await request(nodeB.app).get(start.headers.location!).set('Cookie', keep(start)).expect(200);
      const picked = await request(nodeB.app)
        .post(start.headers.location!)
        .set('Cookie', keep(chooser))
        .type('form')
        .send({ _csrf: formFields(chooser.text)._csrf, method: 'permanente' })
        .expect(303);
      // ... and back to node A for the password.
      const done = await loginWithPassword(onA, start.headers.location!, ADVANCED.dni, ADVANCED.password);
      expect(picked.headers.location).toBe(`${start.headers.location!}/permanente`);
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: posted(done.text).samlResponse, RelayState: 'cross' });
      expect(profile!['http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName']).toBe('Eva');
      // A replayed AuthnRequest is refused on the other node too (replay cache in Redis).
      const replay = await request(nodeB.app).get(url.pathname + url.search);
      expect(posted(replay.text).xml).toContain('already');
    });
  }
});
