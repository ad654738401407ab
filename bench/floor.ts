/**
 * The floor of an SSO round trip on this machine: a bare `node:http` server that, per request,
 * reads the request, makes the two RSA-2048 signatures a response carries (sequentially, as the
 * Response's signature covers the Assertion's, on the libuv pool in one process or inline in
 * cluster workers, exactly as the broker does) and answers with the broker's own auto-POST page,
 * headers and body byte for byte, captured from the broker in the same run. No parsing, no
 * store, no XML, no middleware: what is left is Node's HTTP, the kernel's loopback and the two
 * signatures. `npm run bench` drives it with the same client, messages and concurrency as the
 * broker, so its efficiency, its 2-worker scaling and its p99 are the ceiling any server on
 * Node's HTTP stack can reach here — the figure the broker's own are read against.
 *
 * Run as a child: `node --import tsx bench/floor.ts <port> <workers> <capture.json> pool|inline`; it prints
 * `PASARELA_FLOOR {"pids":[…]}` when every process listens. CPU is read from /proc/<pid>/stat
 * (user + system of every thread, pool threads included) by `floorCpuSeconds`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { procCpuSeconds } from './proc';

export interface Capture {
  /** The broker's response headers for one SSO (name → value; Set-Cookie as a list), Date and Content-Length left out. */
  headers: Record<string, string | string[]>;
  body: string;
}

export interface Floor {
  child: ChildProcess;
  pids: number[];
}

/** `inline`: one process signing on its event loop with one pool thread, as one cluster worker (and the broker's RSA_SIGNING=inline). */
export async function startFloor(port: number, workers: number, capturePath: string, inline = false): Promise<Floor> {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, String(port), String(workers), capturePath, inline ? 'inline' : 'pool'], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, UV_THREADPOOL_SIZE: inline ? '1' : String(availableParallelism()) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /PASARELA_FLOOR (\{.*\})/.exec(out);
      if (m) resolve((JSON.parse(m[1]!) as { pids: number[] }).pids);
    });
    child.once('exit', (code) => reject(new Error(`the floor server exited with ${code}`)));
  });
  return { child, pids };
}

/** CPU seconds (user + system, every thread) of the floor's processes so far. */
export function floorCpuSeconds(floor: Floor): number {
  return floor.pids.reduce((sum, pid) => sum + procCpuSeconds(`/proc/${pid}/stat`), 0);
}

export async function stopFloor(floor: Floor): Promise<void> {
  if (floor.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    floor.child.once('exit', () => resolve());
    floor.child.kill('SIGTERM');
  });
}

function serve(port: number, inline: boolean, capture: Capture): void {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  // A SignedInfo is about 600 bytes; the digests over the Assertion and Response are part of the
  // broker's own cost, not of the floor.
  const signedInfo = Buffer.alloc(600, 1);
  const body = Buffer.from(capture.body);
  const headers = { ...capture.headers, 'content-length': String(body.length) };
  const css = Buffer.from('body{}');
  const signTwice = (done: () => void): void => {
    if (inline) {
      sign('sha256', signedInfo, key);
      sign('sha256', signedInfo, key);
      done();
      return;
    }
    sign('sha256', signedInfo, key, () => sign('sha256', signedInfo, key, () => done()));
  };
  createServer((req, res) => {
    if (req.url?.startsWith('/static/')) {
      res.writeHead(200, { 'content-type': 'text/css', 'content-length': String(css.length) }).end(css);
      return;
    }
    req.on('data', () => {});
    req.on('end', () =>
      signTwice(() => {
        res.writeHead(200, headers);
        res.end(body);
      }),
    );
  }).listen(port, '127.0.0.1', () => process.send?.('listening') ?? console.log(`PASARELA_FLOOR ${JSON.stringify({ pids: [process.pid] })}`));
}

if (require.main === module) {
  const [portArg, workersArg, capturePath, signing] = process.argv.slice(2);
  const port = Number(portArg);
  const workers = Number(workersArg);
  if (cluster.isPrimary && workers > 1) {
    const pids: number[] = [process.pid];
    let listening = 0;
    for (let i = 0; i < workers; i++) {
      // As the broker's cluster: one worker per core, signing on its own event loop.
      const w = cluster.fork({ UV_THREADPOOL_SIZE: '1' });
      pids.push(w.process.pid!);
      w.on('message', () => {
        if (++listening === workers) console.log(`PASARELA_FLOOR ${JSON.stringify({ pids })}`);
      });
    }
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.kill();
      process.exit(0);
    });
  } else {
    serve(port, cluster.isWorker || signing === 'inline', JSON.parse(readFileSync(capturePath!, 'utf8')) as Capture);
  }
}
