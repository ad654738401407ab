import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './ports';

// The CI failure this guards against: a port from listen(0) is an ephemeral port, and an outgoing
// connection (to PostgreSQL, Redis, another test's server) took it before the broker bound it.
const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);

test('ports are handed out below the ephemeral range, never twice, and can be listened on', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 50; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  for (const p of ports) expect(p).toBeLessThan(ephemeralLow!);
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
  await new Promise<void>((resolve) => srv.close(() => resolve()));
});

