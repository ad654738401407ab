import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nothing listens on, for a server a test starts (the broker as a
 * process, Apache, shibd, openssl's OCSP responder, a browser's debugging port).
 *
 * Not `listen(0)`: the kernel hands that port out of the ephemeral range, the same range it
 * takes the local port of every outgoing connection from, so between this check and the
 * server's own bind a connection to PostgreSQL or Redis from any test process could take it
 * (CI saw exactly that: `listen EADDRINUSE 127.0.0.1:39631` from a broker started by one test
 * while other suites ran). Ports below the ephemeral range are only ever taken by a listener,
 * so a random one that binds now stays free unless another test picks the same one in the
 * same instant; one process never hands out the same port twice.
 */
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && low! > 0) return low!;
  } catch {
    /* not Linux: use IANA's dynamic range start */
  }
  return 49152;
}

const FIRST = 10_000;
const LAST = ephemeralLow() - 1;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return srv.close(() => reject(new Error('no port')));
      srv.close(() => resolve(addr.port));
    });
  });
}

export async function freePort(): Promise<number> {
  if (LAST - FIRST >= 1000) {
    for (let i = 0; i < 100; i++) {
      const port = randomInt(FIRST, LAST + 1);
      if (handedOut.has(port)) continue;
      if (await canListen(port)) {
        handedOut.add(port);
        return port;
      }
    }
  }
  // A machine whose ephemeral range starts low (or a crowded one): the kernel's choice.
  const port = await kernelPort();
  handedOut.add(port);
  return port;
}
