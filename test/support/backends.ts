import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * Backing services a fault test can take away and give back without touching the shared ones:
 * a redis-server of the test's own, and a TCP proxy in front of the shared PostgreSQL whose
 * port refuses connections while it is "down" (the closed port a dead database leaves).
 */

/** Resolves once `host:port` accepts a TCP connection (polls, up to `timeoutMs`). */
export async function waitForPort(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface OwnRedis {
  port: number;
  url: string;
  /** Stop the server (SIGTERM, then wait for its exit): its port refuses connections. */
  stop(): Promise<void>;
  /** Start it again on the same port (empty: it keeps no data). */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  resume(): void;
  /** SIGKILL: the server dies as in a crash. */
  kill(): Promise<void>;
}

/**
 * A redis-server on `port`, no persistence; stopped at the end by the caller (`stop`).
 * `args` go before the defaults: a config file and `--sentinel` for a Sentinel, `--replicaof` for a replica.
 */
export async function startOwnRedis(port: number, args: string[] = []): Promise<OwnRedis> {
  let child: ChildProcess | undefined;
  // Its working directory: a replica's initial sync writes dump.rdb there, whatever --save says.
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-redis-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const start = async (): Promise<void> => {
    child = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const me = child;
    process.once('exit', () => me.kill('SIGKILL'));
    await waitForPort(port);
  };
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const me = child;
    if (!me || me.exitCode !== null || me.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => me.once('exit', () => resolve()));
    me.kill(signal);
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

export interface TcpProxy {
  port: number;
  /** Close the listening port and cut every open connection. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** 127.0.0.1:<port> -> target, byte for byte. */
export async function startTcpProxy(port: number, target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const up = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const srv = createServer((client) => {
        const upstream = createConnection(target);
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        server = srv;
        resolve();
      });
    });
  const down = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      const srv = server;
      server = undefined;
      srv.close(() => resolve());
    });
  await up();
  return { port, up, down, close: down };
}
