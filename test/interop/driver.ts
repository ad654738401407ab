import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import type { SpAuthnRequest } from '../support/http-citizen';

/**
 * A long-lived SP driver (a pysaml2 / python3-saml / ruby-saml script) speaking JSON lines
 * over stdin/stdout: `{"id", "cmd", ...}` in, `{"id", "ok": true, "result"}` or
 * `{"id", "ok": false, "error", "type"}` out. Spawned once per test file (importing the SAML
 * library is the slow part). Every driver answers the same commands:
 *
 *   ping                                         -> { library, version }
 *   metadata  { sp }                             -> { xml }   the SP's own metadata, for the broker's metadata dir
 *   configure { sp, idp }                        -> { idpEntityId }   loads the broker's /metadata with its own checks
 *   login     { name, binding, loa, relayState, variant? } -> { requestId, request: SpAuthnRequest }
 *             variant: "sha1" (RSA-SHA1 + SHA-1), "unsigned", "email-nameid" — the misconfigurations
 *             the recipes warn about
 *   acs       { name, SAMLResponse, RelayState, requestId } -> SpLogin (or ok:false with the library's message);
 *             requestId is what the browser's session holds, as the SP application would pass it
 */

export interface SpFiles {
  keyFile: string;
  certFile: string;
}

export interface SpSpec {
  /** Driver-side name (`plain`, `enc`) and metadata file stem. */
  name: string;
  entityId: string;
  acsUrl: string;
  signing: SpFiles;
  /** Encryption key pair: published in the SP metadata and used to decrypt. */
  encryption?: SpFiles;
}

export interface IdpSpec {
  metadataUrl: string;
  /** The certificate that signs the broker's /metadata. */
  metadataCertFile: string;
  entityId: string;
}

/** What the SP library handed back after its own checks. */
export interface SpLogin {
  nameId: string;
  nameIdFormat: string;
  /** attribute Name (uri) -> values */
  attributes: Record<string, string[]>;
  authnContextClassRef: string;
  issuer: string;
  inResponseTo: string;
  /** Whatever else the library reports (session index, audience, …). */
  extra?: Record<string, unknown>;
}

export class DriverError extends Error {
  constructor(
    readonly cmd: string,
    message: string,
    readonly type: string,
  ) {
    super(`${cmd}: ${message}`);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  cmd: string;
}

/** Misconfigured requests, for the refusals the recipes document. */
export type LoginVariant = 'sha1' | 'unsigned' | 'email-nameid';

/** What the interop suite drives: a child-process driver (SpDriver) or an in-process one (node-saml). */
export interface SpStack {
  ping(): Promise<{ library: string; version: string }>;
  metadata(sp: SpSpec): Promise<{ xml: string }>;
  configure(sp: SpSpec, idp: IdpSpec): Promise<{ idpEntityId: string }>;
  /** binding: "redirect", "post", or a stack-specific variant whose name starts with one of them. */
  login(name: string, binding: string, loa: string, relayState: string, variant?: LoginVariant): Promise<{ requestId: string; request: SpAuthnRequest }>;
  acs(name: string, form: { SAMLResponse: string; RelayState?: string }, requestId: string | null): Promise<SpLogin>;
  stop(): Promise<void>;
}

export class SpDriver implements SpStack {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrText = '';
  private exited = false;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrText = (this.stderrText + d).slice(-20_000);
    });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => {
      let msg: { id: number; ok: boolean; result?: unknown; error?: string; type?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.stderrText += `\n[non-JSON stdout] ${line}`;
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new DriverError(p.cmd, msg.error ?? 'unknown error', msg.type ?? 'Error'));
    });
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${label} driver exited (${code ?? signal}) during ${p.cmd}\n${this.stderrText}`));
      this.pending.clear();
    });
  }

  stderr(): string {
    return this.stderrText;
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} driver is not running\n${this.stderrText}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label} driver: no answer to ${cmd} in ${timeoutMs} ms\n${this.stderrText}`));
      }, timeoutMs);
      this.pending.set(id, {
        cmd,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  ping(): Promise<{ library: string; version: string }> {
    return this.call('ping');
  }
  metadata(sp: SpSpec): Promise<{ xml: string }> {
    return this.call('metadata', { sp });
  }
  configure(sp: SpSpec, idp: IdpSpec): Promise<{ idpEntityId: string }> {
    return this.call('configure', { sp, idp });
  }
  login(name: string, binding: string, loa: string, relayState: string, variant?: LoginVariant): Promise<{ requestId: string; request: SpAuthnRequest }> {
    return this.call('login', { name, binding, loa, relayState, variant: variant ?? null });
  }
  /** `requestId`: the AuthnRequest ID this browser's session holds (what the SP app would look up). */
  acs(name: string, form: { SAMLResponse: string; RelayState?: string }, requestId: string | null): Promise<SpLogin> {
    return this.call('acs', { name, SAMLResponse: form.SAMLResponse, RelayState: form.RelayState ?? null, requestId });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(timer);
  }
}

/**
 * Whether `command args…` runs and exits 0 (e.g. python3 -c "import saml2").
 */
export function toolAvailable(command: string, args: string[]): { ok: true } | { ok: false; why: string } {
  if (!existsSync(command)) return { ok: false, why: `${command} is missing` };
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return { ok: true };
  return { ok: false, why: `${command} ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-3).join(' | ')}` };
}

/**
 * `describe` for a stack that needs system packages: runs when `available`; otherwise one
 * failing test naming the packages (as test/support/pairs.ts does for services), skipped with
 * a warning only with PASARELA_SKIP_SERVICES=1 outside CI (never under CI=true).
 */
export function describeIfStack(title: string, available: ReturnType<typeof toolAvailable>, packages: string, body: () => void): void {
  if (available.ok) {
    describe(title, body);
    return;
  }
  if (process.env.PASARELA_SKIP_SERVICES === '1' && process.env.CI !== 'true') {
    console.warn(`[pasarela tests] "${title}" SKIPPED: ${available.why} (apt-get install ${packages}; PASARELA_SKIP_SERVICES=1)`);
    describe.skip(title, body);
    return;
  }
  describe(title, () => {
    test(`needs ${packages}`, () => {
      throw new Error(
        `${available.why}; install: apt-get install ${packages}. ` +
          (process.env.CI === 'true' ? 'CI=true: never skipped.' : 'Or set PASARELA_SKIP_SERVICES=1 to skip locally.'),
      );
    });
  });
}

/** Key pairs for one SP (signing, optionally encryption), written to a temp dir the caller removes. */
export function makeSpFiles(dir: string, name: string, withEncryption: boolean): { signing: SpFiles; encryption?: SpFiles } {
  const write = (kind: string): SpFiles => {
    const kc = makeSelfSignedRsa(`${name} ${kind}`);
    const keyFile = path.join(dir, `${name}-${kind}.key`);
    const certFile = path.join(dir, `${name}-${kind}.crt`);
    writeFileSync(keyFile, kc.keyPem, { mode: 0o600 });
    writeFileSync(certFile, kc.certPem);
    return { keyFile, certFile };
  };
  return { signing: write('signing'), ...(withEncryption ? { encryption: write('encryption') } : {}) };
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
