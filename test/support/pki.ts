import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A test PKI built with the `openssl` CLI, the way a real CA is run: `openssl req` for keys and
 * requests, `openssl ca` for issuing (any dates, any extensions), revoking and CRLs, and
 * `openssl ocsp` as a real OCSP responder on loopback. Creation only: validation is the broker's.
 */

import { DAY_MS, OpensslCa } from '../../src/pki/openssl-ca';
import { freePort } from './ports';

export { OpensslCa, type Dn, type IssueOptions, type Issued } from '../../src/pki/openssl-ca';

/** The tests' CA: the project's openssl CA plus a real `openssl ocsp` responder. */
export class TestCa extends OpensslCa {
  /** Run `openssl ocsp` for this CA on 127.0.0.1, signing with `signer` (the CA itself or a delegated responder). */
  async startOcsp(signer: { certPath: string; keyPath: string }, port?: number, opts: { ndays?: number } = {}): Promise<OcspResponder> {
    const p = port ?? (await freePort());
    const args = ['ocsp', '-index', path.join(this.dir, 'index.txt'), '-port', String(p), '-rsigner', signer.certPath, '-rkey', signer.keyPath, '-CA', this.certPath];
    if (opts.ndays !== 0) args.push('-ndays', String(opts.ndays ?? 1));
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout?.resume();
    await waitForReady(child, () => stderr);
    return new OcspResponder(child, p);
  }
}

export class OcspResponder {
  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export { freePort };

/**
 * Wait (bounded: 5 s) for `openssl ocsp` to say it listens. Not by probing the port: openssl 3.0's
 * single-process responder wedges on a connection that closes without sending a request.
 */
async function waitForReady(child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`openssl ocsp exited (${child.exitCode}): ${stderr()}`);
    if (stderr().includes('waiting for OCSP client connections')) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`openssl ocsp did not start within 5 s: ${stderr()}`);
}

/** A tiny http server for CRLs (and other fixed answers) with a hit counter per path. */
export class FileServer {
  readonly hits = new Map<string, number>();
  private readonly routes = new Map<string, () => { status?: number; body: Buffer; type?: string }>();
  private server?: http.Server;
  port = 0;

  route(p: string, answer: () => { status?: number; body: Buffer; type?: string }): void {
    this.routes.set(p, answer);
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const p = (req.url ?? '/').split('?')[0]!;
      this.hits.set(p, (this.hits.get(p) ?? 0) + 1);
      const answer = this.routes.get(p);
      if (!answer) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const a = answer();
      res.statusCode = a.status ?? 200;
      res.setHeader('content-type', a.type ?? 'application/pkix-crl');
      res.end(a.body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** A server that accepts connections and never answers (timeouts). */
export async function blackHole(): Promise<{ url: string; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

export function tempDir(prefix = 'pasarela-pki-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** PEM bundle: leaf first, then the intermediates the client sends. */
export function pemChain(...certs: Array<{ certPem: string }>): string {
  return certs.map((c) => c.certPem.trim()).join('\n') + '\n';
}

export const DAYS = DAY_MS;
