import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { filesAvailable, requireBinary, TEMPLATES } from './apache';
import { fillTemplate, freePort, startDaemon, tail, waitUntilReady, type Daemon } from './processes';

/**
 * SimpleSAMLphp 1.19 (Debian package, /usr/share/simplesamlphp) as an SP, served by `php -S`
 * on a free loopback port, with its own config dir (SIMPLESAMLPHP_CONFIG_DIR), keys, metadata,
 * sessions and log in a temp dir. Templates: test/interop/simplesamlphp/ (config.php,
 * authsources.php, convert-idp-metadata.php, www/env.php; docs/recipes/simplesamlphp.md).
 *
 *   const ssp = await sspSite();                 // files, no IdP yet
 *   const server = await startSsp(ssp);          // php -S
 *   const md = await sspSpMetadata(ssp, 'pasarela');   // what SimpleSAMLphp publishes
 *   ... start the broker with it ...
 *   await configureSspIdp(ssp, { entityId, metadataFile, certFile });
 *   ... GET ssp.baseUrl + '/app/env.php?sp=pasarela&loa=low' ...
 */

export const PHP_BIN = process.env.PHP_BIN ?? '/usr/bin/php';
export const SSP_ROOT = process.env.SIMPLESAMLPHP_ROOT ?? '/usr/share/simplesamlphp';
export const SSP_AUTHSOURCES = ['pasarela', 'pasarela-enc'] as const;
export type SspAuthsource = (typeof SSP_AUTHSOURCES)[number];

export interface SspSite {
  dir: string;
  port: number;
  baseUrl: string;
  configDir: string;
  logFile: string;
  /** The protected test page. */
  pageUrl(authsource: SspAuthsource, loa: string): string;
  entityId(authsource: SspAuthsource): string;
}

/** Not an IdP anyone has: the value of `idp` until the broker's entityID is known. */
const NO_IDP_YET = 'urn:pasarela:interop:idp-not-configured-yet';

function template(name: string): string {
  return readFileSync(path.join(TEMPLATES, 'simplesamlphp', name), 'utf8');
}

function writeAuthsources(site: SspSite, idpEntityId: string): void {
  writeFileSync(path.join(site.configDir, 'authsources.php'), fillTemplate(template('authsources.php'), { BASE_URL: site.baseUrl, IDP_ENTITY_ID: idpEntityId }));
}

/** For describeIfStack (test/interop/driver.ts): php, SimpleSAMLphp and PHP's dom extension. */
export function sspAvailable(): { ok: true } | { ok: false; why: string } {
  const files = filesAvailable([
    [PHP_BIN, 'php-cli'],
    [path.join(SSP_ROOT, 'lib', '_autoload.php'), 'simplesamlphp'],
  ]);
  if (!files.ok) return files;
  const r = spawnSync(PHP_BIN, ['-r', 'exit(extension_loaded("dom") && extension_loaded("openssl") ? 0 : 1);'], { timeout: 30_000 });
  return r.status === 0 ? { ok: true } : { ok: false, why: `${PHP_BIN} lacks the dom extension (Debian package php-xml)` };
}

export async function sspSite(): Promise<SspSite> {
  requireBinary(PHP_BIN, 'php-cli');
  requireBinary(path.join(SSP_ROOT, 'lib', '_autoload.php'), 'simplesamlphp');
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-ssp-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const configDir = path.join(dir, 'config');
  for (const d of ['config', 'cert', 'log', 'data', 'tmp', 'metadata', 'sessions', 'web/app']) mkdirSync(path.join(dir, d), { recursive: true });
  const site: SspSite = {
    dir,
    port,
    baseUrl,
    configDir,
    logFile: path.join(dir, 'log', 'simplesamlphp.log'),
    pageUrl: (as, loa) => `${baseUrl}/app/env.php?sp=${as}&loa=${loa}`,
    entityId: (as) => `${baseUrl}/simplesaml/module.php/saml/sp/metadata.php/${as}`,
  };
  writeFileSync(
    path.join(configDir, 'config.php'),
    fillTemplate(template('config.php'), {
      BASE_URL: baseUrl,
      SSP: dir,
      SECRET_SALT: randomBytes(24).toString('hex'),
      ADMIN_PASSWORD: randomBytes(24).toString('hex'),
      COOKIE_SECURE: 'false',
    }),
  );
  writeAuthsources(site, NO_IDP_YET);
  const keys = makeSelfSignedRsa('simplesamlphp SP', { days: 30 });
  writeFileSync(path.join(dir, 'cert', 'sp.key'), keys.keyPem, { mode: 0o600 });
  writeFileSync(path.join(dir, 'cert', 'sp.crt'), keys.certPem);
  writeFileSync(path.join(dir, 'metadata', 'saml20-idp-remote.php'), '<?php\n');
  // The docroot: SimpleSAMLphp's www at /simplesaml (its baseurlpath), the test page at /app.
  symlinkSync(path.join(SSP_ROOT, 'www'), path.join(dir, 'web', 'simplesaml'));
  copyFileSync(path.join(TEMPLATES, 'simplesamlphp', 'www', 'env.php'), path.join(dir, 'web', 'app', 'env.php'));
  return site;
}

export interface SspServer {
  daemon: Daemon;
  logs(lines?: number): string;
  stop(): Promise<void>;
}

function sspEnv(site: SspSite): NodeJS.ProcessEnv {
  return { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: site.configDir };
}

export async function startSsp(site: SspSite): Promise<SspServer> {
  requireBinary(PHP_BIN, 'php-cli');
  requireBinary(path.join(SSP_ROOT, 'lib', '_autoload.php'), 'simplesamlphp');
  // SimpleSAMLphp needs DOM (Debian's simplesamlphp package does not pull it in).
  const ext = await runPhp(['-r', 'echo extension_loaded("dom") && extension_loaded("openssl") ? "ok" : "missing";'], sspEnv(site));
  if (ext.stdout.trim() !== 'ok') throw new Error(`${PHP_BIN} lacks the dom extension: install the Debian package php-xml (${ext.stdout}${ext.stderr})`);
  const out = path.join(site.dir, 'php-server.log');
  const logs = (lines = 60): string => [`--- ${site.logFile}`, tail(site.logFile, lines), `--- php -S`, tail(out, 30)].join('\n');
  const daemon = startDaemon({
    name: 'php -S (SimpleSAMLphp)',
    command: PHP_BIN,
    args: ['-d', `session.save_path=${path.join(site.dir, 'sessions')}`, '-d', 'display_errors=stderr', '-S', `127.0.0.1:${site.port}`, '-t', path.join(site.dir, 'web')],
    env: sspEnv(site),
    logFile: out,
    cwd: path.join(site.dir, 'web'),
  });
  await waitUntilReady(
    daemon,
    async () => {
      const res = await fetch(site.entityId('pasarela'), { signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`SP metadata answered ${res.status}: ${body.slice(0, 300)}`);
      return true;
    },
    () => logs(),
  );
  return { daemon, logs, stop: () => daemon.stop() };
}

/** The SP metadata SimpleSAMLphp publishes for an authsource (what an integrator hands the operator). */
export async function sspSpMetadata(site: SspSite, authsource: SspAuthsource): Promise<string> {
  const res = await fetch(site.entityId(authsource));
  const xml = await res.text();
  if (res.status !== 200 || !/^(<\?xml[^>]*\?>\s*)?<(md:)?EntityDescriptor\b/.test(xml.trimStart())) {
    throw new Error(`SimpleSAMLphp's SP metadata for ${authsource} is not metadata: ${res.status} ${xml.slice(0, 500)}\n${tail(site.logFile, 30)}`);
  }
  return xml;
}

export function runPhp(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PHP_BIN, args, { env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Convert Pasarela's /metadata (signature checked with `certFile`) into saml20-idp-remote.php. Throws when the converter refuses. */
export async function convertIdpMetadata(site: SspSite, metadataFile: string, certFile: string): Promise<string> {
  const r = await runPhp([path.join(TEMPLATES, 'simplesamlphp', 'convert-idp-metadata.php'), metadataFile, certFile], sspEnv(site));
  if (r.code !== 0) throw new Error(`convert-idp-metadata.php exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Point both authsources at the broker and install its converted metadata. */
export async function configureSspIdp(site: SspSite, idp: { entityId: string; metadataXml: string; certFile: string }): Promise<void> {
  const mdFile = path.join(site.dir, 'idp-metadata.xml');
  writeFileSync(mdFile, idp.metadataXml);
  const php = await convertIdpMetadata(site, mdFile, idp.certFile);
  writeFileSync(path.join(site.dir, 'metadata', 'saml20-idp-remote.php'), php);
  writeAuthsources(site, idp.entityId);
}

export function removeSspSite(site: SspSite): void {
  rmSync(site.dir, { recursive: true, force: true });
}
