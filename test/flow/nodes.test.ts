import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { freePort, startProcessBroker, type ProcessBroker } from '../support/broker-process';
import { formAction, formFields } from '../support/harness';
import { HttpCitizen, posted } from '../support/http-citizen';
import { describeWithProductionServices, freshPostgresDatabase, TEST_REDIS_URL } from '../support/pairs';

/**
 * Issue 10 "Several nodes": two broker processes (`node dist/main.js`, as `npm start`) on the
 * same PostgreSQL database and Redis, same keys and secrets, one public BASE_URL, behind a small
 * round-robin HTTP proxy started here. A request with `x-node: a|b` goes to that node (the test
 * steers attempts); every other request alternates, so each multi-step login crosses nodes.
 */
describeWithProductionServices('two broker nodes behind a round-robin proxy', () => {
  let a: ProcessBroker;
  let b: ProcessBroker;
  let proxy: Server;
  let base: string;
  let db: { url: string; drop: () => Promise<void> };
  const served = { a: 0, b: 0 };

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    const proxyPort = await freePort();
    base = `http://127.0.0.1:${proxyPort}`;
    const shared = { REDIS_URL: TEST_REDIS_URL, DATABASE_URL: db.url, BASE_URL: base };
    const config = { store: { keyPrefix: `pasarela-nodes-${randomBytes(4).toString('hex')}:` } };
    a = await startProcessBroker({ env: shared, config, startTimeoutMs: 60_000 });
    // Node b: the same keys (signing, metadata, demo SP) as node a, as nodes of one deployment have.
    b = await startProcessBroker({ env: { ...shared, KEYS_DIR: a.keysDir }, config, startTimeoutMs: 60_000 });
    let next = 0;
    proxy = createServer((req, res) => {
      const forced = req.headers['x-node'];
      const node = forced === 'a' || forced === 'b' ? forced : next++ % 2 === 0 ? 'a' : 'b';
      served[node]++;
      const target = node === 'a' ? a : b;
      const upstream = httpRequest({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-served-by': node });
        up.pipe(res);
      });
      upstream.on('error', () => {
        res.writeHead(502).end();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(proxyPort, '127.0.0.1', resolve));
  }, 120_000);
  afterAll(async () => {
    await new Promise((r) => proxy?.close(r));
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  test('a login crosses nodes at every step and completes; the SSO session made on one node serves the other', async () => {
    const before = { ...served };
    const citizen = new HttpCitizen({ outboxPath: a.outboxPath });
    const first = await citizen.get((await citizen.get(`${base}/demo/login?loa=low`)).location!);
    const out = await citizen.signIn(first);
    expect((await citizen.post(out.action, out.fields)).text).toContain('<td>ES/ES/12345678Z</td>');
    expect(served.a - before.a).toBeGreaterThanOrEqual(2);
    expect(served.b - before.b).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 4; i++) {
      const again = await citizen.get((await citizen.get(`${base}/demo/login?loa=low`)).location!);
      expect(posted(again.text)?.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:Success');
    }
  }, 60_000);

  test('an AuthnRequest accepted by one node is refused as a replay by the other', async () => {
    const headers: Record<string, string> = { 'x-node': 'a' };
    const citizen = new HttpCitizen({ outboxPath: a.outboxPath, headers });
    const sso = (await citizen.get(`${base}/demo/login?loa=low`)).location!;
    const first = await citizen.get(sso);
    expect(first.headers.get('x-served-by')).toBe('a');
    expect(first.status).toBe(303);
    headers['x-node'] = 'b';
    const replayed = await citizen.get(sso);
    expect(replayed.headers.get('x-served-by')).toBe('b');
    const answer = posted(replayed.text);
    expect(answer?.action).toBe(`${base}/demo/acs`);
    expect(answer?.xml).toContain('urn:oasis:names:tc:SAML:2.0:status:RequestDenied');
    expect(answer?.xml).toContain('was already received');
  }, 60_000);

  test('password failures on either node count against the same DNI: "N tries left" goes down across nodes, then locked', async () => {
    const headers: Record<string, string> = { 'accept-language': 'en' };
    const citizen = new HttpCitizen({ outboxPath: a.outboxPath, headers });
    const toChooser = await citizen.get((await citizen.get(`${base}/demo/login?loa=low`)).location!);
    const chooser = await citizen.get(toChooser.location!);
    const chose = await citizen.post(new URL(formAction(chooser.text)!, chooser.url).toString(), { ...formFields(chooser.text), method: 'permanente' });
    let page = await citizen.get(chose.location!);
    const left: (number | 'locked')[] = [];
    // An unregistered DNI (valid check letter): the shadow counter in Redis answers as for a registered one.
    for (let i = 0; i < 8 && left.at(-1) !== 'locked'; i++) {
      headers['x-node'] = i % 2 === 0 ? 'a' : 'b';
      page = await citizen.post(new URL(formAction(page.text)!, page.url).toString(), { ...formFields(page.text), username: '00000000T', password: `wrong-${i}` });
      expect(page.headers.get('x-served-by')).toBe(headers['x-node']);
      if (page.text.includes('Your password is locked')) left.push('locked');
      else {
        const m = /You have (\d+) attempts? left|You have 1 attempt left/.exec(page.text);
        expect(m).not.toBeNull();
        left.push(m![1] === undefined ? 1 : Number(m![1]));
      }
    }
    expect(left.at(-1)).toBe('locked');
    const counts = left.filter((x): x is number => x !== 'locked');
    expect(counts.length).toBeGreaterThanOrEqual(2);
    // Strictly one fewer at each attempt, whichever node took it.
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBe(counts[i - 1]! - 1);
  }, 60_000);
});
