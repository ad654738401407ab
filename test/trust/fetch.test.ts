import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchMetadata, isInternalAddress } from '../../src/trust/fetch';

/**
 * Metadata URLs are set by operators, but a URL (or a redirect from an outside server) must not
 * turn the broker against its own network (SSRF): with `privateAddresses: 'refuse'` (production)
 * no connection goes to loopback, private, link-local or unspecified addresses, by IP literal,
 * by a name that resolves there, or by a redirect.
 */
let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/redirect-to-loopback') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/md` });
      return res.end();
    }
    if (req.url === '/drip') {
      // A byte every 50 ms, for ever: never idle, never done.
      res.writeHead(200, { 'content-type': 'application/xml' });
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write('<x>' + 'a'.repeat(5000));
      return res.end('</x>');
    }
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    res.end('<EntityDescriptor/>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections(); // a /drip answer still open (when a fetch was not cut) must not hold the run
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

const limits = { maxBytes: 1024, timeoutMs: 3000 };

test('allowed (development, tests): a local server is fetched, redirects followed, size capped', async () => {
  expect(await fetchMetadata(`http://127.0.0.1:${port}/md`, { ...limits, privateAddresses: 'allow' })).toBe('<EntityDescriptor/>');
  expect(await fetchMetadata(`http://127.0.0.1:${port}/redirect-to-loopback`, limits)).toBe('<EntityDescriptor/>');
  await expect(fetchMetadata(`http://127.0.0.1:${port}/big`, limits)).rejects.toThrow(/larger than 1024 bytes/);
});

test('refused: an internal IP literal, a name resolving to loopback, and a redirect there, each with its reason', async () => {
  const refuse = { ...limits, privateAddresses: 'refuse' as const };
  await expect(fetchMetadata(`http://127.0.0.1:${port}/md`, refuse)).rejects.toThrow(/127\.0\.0\.1 is an internal address, which metadata fetches may not reach/);
  await expect(fetchMetadata(`http://[::1]:${port}/md`, refuse)).rejects.toThrow(/::1 is an internal address/);
  await expect(fetchMetadata(`http://localhost:${port}/md`, refuse)).rejects.toThrow(/localhost resolves only to internal addresses/);
  await expect(fetchMetadata('http://169.254.169.254/latest/meta-data/', refuse)).rejects.toThrow(/169\.254\.169\.254 is an internal address/);
});

test('the address classes', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '224.0.0.1']) {
    expect([a, isInternalAddress(a)]).toEqual([a, true]);
  }
  for (const a of ['8.8.8.8', '172.32.0.1', '193.146.1.1', '2001:db8::1', '2a00:1450::1', '::ffff:8.8.8.8']) expect([a, isInternalAddress(a)]).toEqual([a, false]);
});

test('the time limit holds for the whole exchange: a server dripping a byte every 50 ms is cut at the deadline', async () => {
  const started = Date.now();
  await expect(fetchMetadata(`http://127.0.0.1:${port}/drip`, { maxBytes: 1024 * 1024, timeoutMs: 400 })).rejects.toThrow(/no complete answer within 400 ms/);
  expect(Date.now() - started).toBeLessThan(5000);
});
