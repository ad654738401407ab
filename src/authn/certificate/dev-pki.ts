import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { OpensslCa, type Dn } from '../../pki/openssl-ca';

/**
 * Development only: a DNIe-like root and a "qualified" software CA, each with a certificate for
 * the demo citizen exported as a .p12 to import into a browser, and CRLs the broker serves at
 * `/dev-pki/<name>.crl`, so that the certificate method works from the demo SP on a fresh
 * machine with the same validation and revocation checks as production. Needs the `openssl`
 * CLI; without it the method simply has no development anchors (logged).
 */
export interface DevPki {
  anchors: Array<{ path: string; kind: 'dnie' | 'qualified' }>;
  /** name -> DER CRL file, served at /dev-pki/<name>.crl */
  crls: Record<string, string>;
  p12: { dnie: string; qualified: string };
  p12Password: string;
}

export interface DevCitizen {
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname: string | null;
}

const P12_PASSWORD = 'demo';
const CAS = [
  { name: 'dnie', kind: 'dnie' as const, subject: { C: 'ES', O: 'PASARELA DEV - DIRECCION GENERAL DE LA POLICIA', OU: 'DNIE', CN: 'AC RAIZ DNIE DEV' } },
  { name: 'qualified', kind: 'qualified' as const, subject: { C: 'ES', O: 'PASARELA DEV - PRESTADOR CUALIFICADO', CN: 'AC CIUDADANOS DEV' } },
];

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function ensureDevPki(opts: { dir: string; baseUrl: string; citizen: DevCitizen; log: Logger }): DevPki | undefined {
  if (!opensslAvailable()) {
    opts.log.warn({ event: 'dev_pki.skipped' }, 'no openssl CLI: the development PKI for the certificate method is not created');
    return undefined;
  }
  mkdirSync(opts.dir, { recursive: true });
  // Leaves carry the CRL URL, which depends on BASE_URL: reissue them when it changes.
  const marker = path.join(opts.dir, 'base-url');
  const reissue = !existsSync(marker) || readFileSync(marker, 'utf8') !== opts.baseUrl;
  const c = opts.citizen;
  const surnames = [c.firstSurname, c.secondSurname].filter(Boolean).join(' ').toUpperCase();
  const leafSubject: Dn = {
    C: 'ES',
    serialNumber: `IDCES-${c.dni}`,
    SN: surnames,
    GN: c.givenName.toUpperCase(),
    CN: `${surnames}, ${c.givenName.toUpperCase()} (AUTENTICACIÓN)`,
  };
  const out: DevPki = { anchors: [], crls: {}, p12: { dnie: '', qualified: '' }, p12Password: P12_PASSWORD };
  for (const spec of CAS) {
    const caDir = path.join(opts.dir, `${spec.name}-root`);
    const ca = existsSync(path.join(caDir, 'ca.crt')) ? OpensslCa.open(opts.dir, `${spec.name}-root`) : OpensslCa.root(opts.dir, `${spec.name}-root`, spec.subject, { keyType: 'rsa' });
    const p12 = path.join(opts.dir, `demo-${spec.name}.p12`);
    if (reissue || !existsSync(p12)) {
      const leaf = ca.issue(`demo-${spec.name}`, { subject: leafSubject, keyType: 'rsa', crlUrl: `${opts.baseUrl}/dev-pki/${spec.name}.crl` });
      execFileSync('openssl', ['pkcs12', '-export', '-inkey', leaf.keyPath, '-in', leaf.certPath, '-certfile', ca.certPath, '-out', p12, '-passout', `pass:${P12_PASSWORD}`, '-name', `${leafSubject.CN} [${spec.name} dev]`], {
        stdio: 'ignore',
      });
    }
    // A fresh CRL on every start (30 days), so revocation checking runs as in production.
    const crl = path.join(opts.dir, `${spec.name}.crl`);
    writeFileSync(crl, ca.crlDer({ hours: 24 * 30 }));
    out.crls[spec.name] = crl;
    out.anchors.push({ path: ca.certPath, kind: spec.kind });
    out.p12[spec.name as 'dnie' | 'qualified'] = p12;
  }
  writeFileSync(marker, opts.baseUrl);
  return out;
}
