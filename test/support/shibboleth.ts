import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { requireBinary, TEMPLATES, type ApacheSite } from './apache';
import { fillTemplate, freePort, startDaemon, tail, waitUntilReady, type Daemon } from './processes';

/**
 * Shibboleth SP 3 (Debian's shibd + mod_shib) from the templates in test/interop/shibboleth/
 * (docs/recipes/shibboleth.md is the same configuration): two applications in one Apache site,
 * "default" under /plain and "enc" under /enc, each with /<app>/low/env and
 * /<app>/substantial/env. shibd runs as the test's own foreground process
 * (`shibd -F -f -c <dir>/shibboleth2.xml`) with a TCP listener on a free loopback port, its
 * state in memory and its logs under the SP's temp dir; the security policy, protocols and
 * attribute filter are the shipped files in /etc/shibboleth, untouched.
 */

export const SHIBD_BIN = process.env.SHIBD_BIN ?? '/usr/sbin/shibd';

export interface ShibApp {
  id: 'default' | 'enc' | 'eidas';
  /** URL path prefix: /plain or /enc */
  prefix: string;
  entityId: string;
  metadataXml: string;
  encrypt: boolean;
  /** The broker policy this app is registered with. */
  policy?: Record<string, unknown>;
}

export interface ShibSp {
  dir: string;
  site: ApacheSite;
  shibdPort: number;
  apps: ShibApp[];
  shibdLog: string;
  nativeLog: string;
}

function b64(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

function template(name: string): string {
  return readFileSync(path.join(TEMPLATES, 'shibboleth', name), 'utf8');
}

/**
 * Keys and the applications' SP metadata (what goes into the broker's metadata dir): default
 * (/plain) and enc (/enc), and with `eidasApp` a third, registered with the broker policy
 * `profile: "eidas"` (OneTimeUse), to show what the shipped security policy refuses.
 */
export async function shibSp(site: ApacheSite, opts: { eidasApp?: boolean } = {}): Promise<ShibSp> {
  requireBinary(SHIBD_BIN, 'shibboleth-sp-utils');
  requireBinary('/usr/lib/apache2/modules/mod_shib.so', 'libapache2-mod-shib');
  const dir = path.join(site.dir, 'shib');
  mkdirSync(dir, { recursive: true });
  const keys = makeSelfSignedRsa('shibboleth SP', { days: 30 });
  writeFileSync(path.join(dir, 'sp.key'), keys.keyPem, { mode: 0o600 });
  writeFileSync(path.join(dir, 'sp.crt'), keys.certPem);
  const specs: Array<Pick<ShibApp, 'id' | 'prefix' | 'encrypt' | 'policy'>> = [
    { id: 'default', prefix: '/plain', encrypt: false },
    { id: 'enc', prefix: '/enc', encrypt: true, policy: { encryptAssertion: true } },
  ];
  if (opts.eidasApp) specs.push({ id: 'eidas', prefix: '/eidas', encrypt: false, policy: { profile: 'eidas' } });
  const apps: ShibApp[] = specs.map((a) => {
    const baseUrl = `${site.baseUrl}${a.prefix}`;
    const entityId = `${baseUrl}/shibboleth`;
    const metadataXml = fillTemplate(template('shib-sp-metadata.xml'), { ENTITY_ID: entityId, BASE_URL: baseUrl, CERT: b64(keys.certPem), ENCRYPT: a.encrypt });
    return { ...a, entityId, metadataXml };
  });
  return { dir, site, shibdPort: await freePort(), apps, shibdLog: path.join(dir, 'shibd.log'), nativeLog: path.join(dir, 'native.log') };
}

export interface IdpInfo {
  entityId: string;
  /** shibd fetches it from here (and keeps a backing copy in the SP's dir). */
  metadataUrl: string;
  /** PEM of the certificate that signs /metadata. */
  metadataSigningCertPem: string;
}

/** shibboleth2.xml, attribute-map.xml, loggers and the metadata-signing certificate into the SP's dir. */
export function configureShib(sp: ShibSp, idp: IdpInfo): void {
  const vars = {
    SHIB: sp.dir,
    BASE_URL: sp.site.baseUrl,
    IDP_ENTITY_ID: idp.entityId,
    IDP_METADATA_URL: idp.metadataUrl,
    SHIBD_PORT: String(sp.shibdPort),
    SHIBD_LOG_LEVEL: process.env.SHIBD_LOG_LEVEL ?? 'INFO',
    EIDAS_APP: sp.apps.some((a) => a.id === 'eidas'),
  };
  writeFileSync(path.join(sp.dir, 'shibboleth2.xml'), fillTemplate(template('shibboleth2.xml'), vars));
  writeFileSync(path.join(sp.dir, 'attribute-map.xml'), template('attribute-map.xml'));
  writeFileSync(path.join(sp.dir, 'shibd.logger'), fillTemplate(template('shibd.logger'), vars));
  writeFileSync(path.join(sp.dir, 'native.logger'), fillTemplate(template('native.logger'), vars));
  writeFileSync(path.join(sp.dir, 'idp-metadata-signing.crt'), idp.metadataSigningCertPem);
}

/** The Apache part (ShibConfig, handlers, one Location per app and LoA). */
export function shibSiteConfig(sp: ShibSp): string {
  return fillTemplate(template('shib-site.conf'), { SHIB: sp.dir, DIR: sp.site.dir, EIDAS_APP: sp.apps.some((a) => a.id === 'eidas') });
}

/** Environment for both shibd and Apache: config and logging from the SP's dir, nothing from /etc/shibboleth but the shipped policy files. */
export function shibEnv(sp: ShibSp, process: 'shibd' | 'native'): NodeJS.ProcessEnv {
  return {
    SHIBSP_CONFIG: path.join(sp.dir, 'shibboleth2.xml'),
    SHIBSP_LOGGING: path.join(sp.dir, `${process}.logger`),
    SHIBSP_RUNDIR: sp.dir,
    SHIBSP_CACHEDIR: sp.dir,
    SHIBSP_LOGDIR: sp.dir,
  };
}

/**
 * Whether a Debian conffile is byte for byte what its package shipped (the MD5 dpkg recorded),
 * e.g. /etc/shibboleth/security-policy.xml from shibboleth-sp-common.
 */
export function debianConffileStatus(file: string, pkg: string): { shipped: string | undefined; actual: string } {
  const out = execFileSync('dpkg-query', ['-W', '-f=${Conffiles}\\n', pkg], { encoding: 'utf8' });
  const shipped = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find(([f]) => f === file)?.[1];
  const actual = createHash('md5').update(readFileSync(file)).digest('hex');
  return { shipped, actual };
}

export interface Shibd {
  daemon: Daemon;
  log(lines?: number): string;
  stop(): Promise<void>;
}

function runCheck(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}

/** shibd in the foreground; ready when its TCP listener accepts connections. */
export async function startShibd(sp: ShibSp): Promise<Shibd> {
  requireBinary(SHIBD_BIN, 'shibboleth-sp-utils');
  const env = { ...process.env, ...shibEnv(sp, 'shibd') };
  const conf = path.join(sp.dir, 'shibboleth2.xml');
  const logs = (lines = 80): string => [`--- ${sp.shibdLog}`, tail(sp.shibdLog, lines), `--- shibd stdout/stderr`, tail(path.join(sp.dir, 'shibd.out'), 30)].join('\n');
  const check = await runCheck(SHIBD_BIN, ['-t', '-c', conf], env);
  if (!check.ok) throw new Error(`shibd -t rejected ${conf}:\n${check.out}\n${logs()}`);
  const daemon = startDaemon({
    name: 'shibd',
    command: SHIBD_BIN,
    args: ['-F', '-f', '-c', conf, '-p', path.join(sp.dir, 'shibd.pid')],
    env,
    logFile: path.join(sp.dir, 'shibd.out'),
  });
  await waitUntilReady(
    daemon,
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: sp.shibdPort }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    () => logs(),
    30_000,
  );
  // shibd starts even when a provider failed (e.g. the metadata signature did not verify):
  // that is a start failure here, not a 500 later.
  const crit = (existsSync(sp.shibdLog) ? readFileSync(sp.shibdLog, 'utf8') : '')
    .split('\n')
    .filter((l) => / (CRIT|FATAL) /.test(l));
  if (crit.length > 0) {
    await daemon.stop();
    throw new Error(`shibd started with errors:\n${crit.join('\n')}\n${logs()}`);
  }
  return { daemon, log: logs, stop: () => daemon.stop() };
}
