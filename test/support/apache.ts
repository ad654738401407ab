import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fillTemplate, freePort, startDaemon, tail, waitUntilReady, type Daemon } from './processes';

/**
 * Apache httpd as the test's own foreground process:
 *
 *   const web = await apacheSite('mellon');              // temp dir + free port, nothing running yet
 *   ... write SP keys / metadata under web.dir, start the broker ...
 *   const httpd = await startApache(web, { modules: [MELLON], site: '<Location …>' });
 *   ... GET httpd.url + '/plain/low/env' ...
 *   await httpd.stop();
 *
 * `/usr/sbin/apache2 -f <dir>/httpd.conf -DFOREGROUND`: no systemd, nothing under /etc/apache2,
 * modules from /usr/lib/apache2/modules, listening on 127.0.0.1:<port>, pid file, logs, mutexes
 * and runtime files under the temp dir. The template is test/interop/apache/httpd.conf; every
 * protected location maps to test/interop/apache/env.cgi, which prints the CGI environment the
 * SP module set (REMOTE_USER, attributes) as JSON.
 *
 * Run as root (this machine), httpd itself runs as www-data (spawned with its uid, so it never
 * holds root and never switches user) and the temp dir is handed to www-data; as any other
 * user it simply runs as that user.
 */

export const APACHE_BIN = process.env.APACHE_BIN ?? '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';
export const TEMPLATES = path.resolve(__dirname, '../interop');

export interface ApacheSite {
  dir: string;
  port: number;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
}

export interface ApacheOptions {
  /** Extra modules as [identifier, file in /usr/lib/apache2/modules]. */
  modules?: Array<[string, string]>;
  /** The site's configuration (Locations, ScriptAliases), already filled. */
  site: string;
  /** Extra environment for httpd (e.g. SHIBSP_* for mod_shib). */
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
  /** Extra log files to show when the start fails. */
  extraLogs?: string[];
}

export interface Apache extends ApacheSite {
  daemon: Daemon;
  errorLog(lines?: number): string;
  stop(): Promise<void>;
}

export const MELLON_MODULE: [string, string] = ['auth_mellon_module', 'mod_auth_mellon.so'];
export const SHIB_MODULE: [string, string] = ['mod_shib', 'mod_shib.so'];

/** A temp dir and a free port for a site; nothing runs yet. */
export async function apacheSite(name: string): Promise<ApacheSite> {
  requireBinary(APACHE_BIN, 'apache2');
  const dir = mkdtempSync(path.join(tmpdir(), `pasarela-httpd-${name}-`));
  chmodSync(dir, 0o755);
  const port = await freePort();
  return { dir, port, baseUrl: `http://127.0.0.1:${port}` };
}

/** The user httpd runs as: www-data when we are root, else ourselves. */
export function apacheUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

/** Files a web SP stack needs, with the Debian package of each. */
export const WEB_STACKS = {
  mellon: [
    [APACHE_BIN, 'apache2'],
    [path.join(APACHE_MODULES, 'mod_auth_mellon.so'), 'libapache2-mod-auth-mellon'],
    ['/usr/bin/perl', 'perl'],
  ],
  shibboleth: [
    [APACHE_BIN, 'apache2'],
    [path.join(APACHE_MODULES, 'mod_shib.so'), 'libapache2-mod-shib'],
    [process.env.SHIBD_BIN ?? '/usr/sbin/shibd', 'shibboleth-sp-utils'],
    ['/etc/shibboleth/security-policy.xml', 'shibboleth-sp-common'],
    ['/usr/bin/perl', 'perl'],
  ],
} satisfies Record<string, Array<[string, string]>>;

/** For describeIfStack (test/interop/driver.ts): ok, or what is missing. */
export function filesAvailable(files: Array<[string, string]>): { ok: true } | { ok: false; why: string } {
  const missing = files.filter(([f]) => !existsSync(f));
  return missing.length === 0 ? { ok: true } : { ok: false, why: missing.map(([f, pkg]) => `${f} is missing (Debian package ${pkg})`).join('; ') };
}

/** Fails (never skips) when a binary the interop tests need is not installed. */
export function requireBinary(file: string, debianPackage: string): void {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: install the Debian package ${debianPackage} (apt-get install ${debianPackage})`);
  }
}

export async function startApache(site: ApacheSite, opts: ApacheOptions): Promise<Apache> {
  requireBinary(APACHE_BIN, 'apache2');
  const modules = (opts.modules ?? []).map(([id, file]) => {
    const so = path.join(APACHE_MODULES, file);
    if (!existsSync(so)) throw new Error(`${so} is missing (install the Debian package that ships ${file})`);
    return `LoadModule ${id} ${so}`;
  });
  mkdirSync(path.join(site.dir, 'run'), { recursive: true });
  mkdirSync(path.join(site.dir, 'cgi'), { recursive: true });
  mkdirSync(path.join(site.dir, 'htdocs'), { recursive: true });
  writeFileSync(path.join(site.dir, 'htdocs', 'ready.txt'), 'ready\n');
  copyFileSync(path.join(TEMPLATES, 'apache/env.cgi'), path.join(site.dir, 'cgi/env.cgi'));
  chmodSync(path.join(site.dir, 'cgi/env.cgi'), 0o755);
  const conf = fillTemplate(readFileSync(path.join(TEMPLATES, 'apache/httpd.conf'), 'utf8'), {
    DIR: site.dir,
    PORT: String(site.port),
    LOG_LEVEL: opts.logLevel ?? 'warn',
    MODULES: modules.join('\n'),
    SITE: opts.site,
  });
  const confFile = path.join(site.dir, 'httpd.conf');
  writeFileSync(confFile, conf);
  const errorLogFile = path.join(site.dir, 'error_log');
  const logs = (lines = 80): string =>
    [`--- ${errorLogFile}`, tail(errorLogFile, lines), `--- httpd stdout/stderr`, tail(path.join(site.dir, 'httpd.out'), 20)]
      .concat((opts.extraLogs ?? []).flatMap((f) => [`--- ${f}`, tail(f, lines)]))
      .join('\n');

  // Syntax check first: a config error then names the line instead of a silent exit.
  const user = apacheUser();
  if (user) chownTree(site.dir, user.uid, user.gid);
  const env = { ...process.env, ...(opts.env ?? {}) };
  try {
    execFileSync(APACHE_BIN, ['-f', confFile, '-t'], { env, stdio: 'pipe', uid: user?.uid, gid: user?.gid });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    throw new Error(`apache2 -t rejected ${confFile}:\n${String(e.stderr ?? '')}${String(e.stdout ?? '')}`);
  }
  const daemon = startDaemon({
    name: 'apache2',
    command: APACHE_BIN,
    args: ['-f', confFile, '-DFOREGROUND'],
    env,
    logFile: path.join(site.dir, 'httpd.out'),
    uid: user?.uid,
    gid: user?.gid,
  });
  await waitUntilReady(
    daemon,
    async () => {
      const res = await fetch(`${site.baseUrl}/ready.txt`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /ready.txt answered ${res.status}`);
      return true;
    },
    () => logs(),
  );
  return {
    ...site,
    daemon,
    errorLog: logs,
    stop: () => daemon.stop(),
  };
}

/** Remove a site's temp dir (after stop). */
export function removeSite(site: ApacheSite): void {
  rmSync(site.dir, { recursive: true, force: true });
}
