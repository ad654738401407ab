import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A certificate authority run with the `openssl` CLI, the way a real CA is run: `openssl req`
 * for keys and requests, `openssl ca` for issuing (any dates, any extensions), revoking and
 * CRLs. Creation only — validation is the broker's own (pki/validate.ts). Used by the
 * development PKI (authn/certificate/dev-pki.ts) and by the tests' PKI.
 */

export interface Dn {
  C?: string;
  O?: string;
  OU?: string;
  serialNumber?: string;
  SN?: string;
  GN?: string;
  CN: string;
}

export interface IssueOptions {
  subject: Dn;
  /** ca: basicConstraints CA:TRUE + keyCertSign/cRLSign; leaf: client authentication; ocsp: OCSP signing; bare: no extensions at all. */
  profile?: 'ca' | 'leaf' | 'ocsp' | 'bare';
  /** Override single extension lines of the profile (null drops it), e.g. { keyUsage: 'critical, nonRepudiation' }. */
  ext?: Record<string, string | null>;
  crlUrl?: string;
  ocspUrl?: string;
  notBefore?: Date;
  notAfter?: Date;
  keyType?: 'rsa' | 'ec';
  /** Issue without recording it in the CA database, so the OCSP responder answers "unknown". */
  unrecorded?: boolean;
}

export interface Issued {
  name: string;
  cert: X509Certificate;
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

function openssl(args: string[], cwd?: string): string {
  try {
    return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function subjectArg(dn: Dn): string {
  const esc = (v: string) => v.replace(/[/+\\=]/g, (c) => `\\${c}`);
  const parts: Array<[string, string | undefined]> = [
    ['C', dn.C],
    ['O', dn.O],
    ['OU', dn.OU],
    ['serialNumber', dn.serialNumber],
    ['SN', dn.SN],
    ['GN', dn.GN],
    ['CN', dn.CN],
  ];
  return parts
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => `/${k}=${esc(v)}`)
    .join('');
}

const DAY = 86_400_000;

function profileLines(o: IssueOptions): Record<string, string | null> {
  const base: Record<string, string | null> = {};
  switch (o.profile ?? 'leaf') {
    case 'ca':
      base.basicConstraints = 'critical, CA:TRUE';
      base.keyUsage = 'critical, keyCertSign, cRLSign';
      base.subjectKeyIdentifier = 'hash';
      base.authorityKeyIdentifier = 'keyid:always';
      break;
    case 'leaf':
      base.basicConstraints = 'critical, CA:FALSE';
      base.keyUsage = 'critical, digitalSignature';
      base.extendedKeyUsage = 'clientAuth';
      base.subjectKeyIdentifier = 'hash';
      base.authorityKeyIdentifier = 'keyid:always';
      break;
    case 'ocsp':
      base.basicConstraints = 'critical, CA:FALSE';
      base.keyUsage = 'critical, digitalSignature';
      base.extendedKeyUsage = 'OCSPSigning';
      break;
    case 'bare':
      break;
  }
  if (o.crlUrl) base.crlDistributionPoints = `URI:${o.crlUrl}`;
  if (o.ocspUrl) base.authorityInfoAccess = `OCSP;URI:${o.ocspUrl}`;
  return { ...base, ...(o.ext ?? {}) };
}

export class OpensslCa {
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly certPath: string,
    readonly keyPath: string,
  ) {}

  get certPem(): string {
    return readFileSync(this.certPath, 'utf8');
  }

  get cert(): X509Certificate {
    return new X509Certificate(this.certPem);
  }

  private static prepare(parent: string, name: string): string {
    const dir = path.join(parent, name);
    mkdirSync(path.join(dir, 'newcerts'), { recursive: true });
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), `${(randomBytes(8).readUInt8(0) & 0x7f).toString(16).padStart(2, '0')}${randomBytes(7).toString('hex')}\n`);
    writeFileSync(path.join(dir, 'crlnumber'), '01\n');
    writeFileSync(
      path.join(dir, 'ca.cnf'),
      `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 1
policy = policy_any
unique_subject = no
copy_extensions = none
utf8 = yes
string_mask = utf8only
[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
serialNumber = optional
surname = optional
givenName = optional
commonName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
`,
    );
    return dir;
  }

  /** A self-signed root CA. */
  static root<T extends typeof OpensslCa>(
    this: T,
    parent: string,
    name: string,
    subject: Dn,
    opts: { keyType?: 'rsa' | 'ec'; notBefore?: Date; notAfter?: Date; ext?: Record<string, string | null> } = {},
  ): InstanceType<T> {
    const dir = OpensslCa.prepare(parent, name);
    const keyPath = path.join(dir, 'ca.key');
    const csrPath = path.join(dir, 'ca.csr');
    const certPath = path.join(dir, 'ca.crt');
    newKeyAndCsr(keyPath, csrPath, subject, opts.keyType ?? 'ec');
    const extFile = writeExt(dir, 'root', profileLines({ subject, profile: 'ca', ext: opts.ext }));
    openssl([
      'ca', '-batch', '-selfsign', '-config', path.join(dir, 'ca.cnf'), '-keyfile', keyPath, '-in', csrPath, '-out', certPath,
      '-extfile', extFile, '-extensions', 'ext', '-preserveDN', '-utf8', '-notext',
      '-startdate', asn1Time(opts.notBefore ?? new Date(Date.now() - 30 * DAY)),
      '-enddate', asn1Time(opts.notAfter ?? new Date(Date.now() + 3650 * DAY)),
    ]);
    return new this(name, dir, certPath, keyPath) as InstanceType<T>;
  }

  /** Reopen a CA made earlier in `parent/name` (its database, key and certificate). */
  static open<T extends typeof OpensslCa>(this: T, parent: string, name: string): InstanceType<T> {
    const dir = path.join(parent, name);
    return new this(name, dir, path.join(dir, 'ca.crt'), path.join(dir, 'ca.key')) as InstanceType<T>;
  }

  /** Make any issued certificate (even a leaf) act as an issuer, with its own database. */
  static fromIssued<T extends typeof OpensslCa>(this: T, parent: string, issued: Issued): InstanceType<T> {
    const dir = OpensslCa.prepare(parent, `${issued.name}-ca`);
    return new this(issued.name, dir, issued.certPath, issued.keyPath) as InstanceType<T>;
  }

  issue(name: string, o: IssueOptions): Issued {
    const keyPath = path.join(this.dir, `${name}.key`);
    const csrPath = path.join(this.dir, `${name}.csr`);
    const certPath = path.join(this.dir, `${name}.crt`);
    newKeyAndCsr(keyPath, csrPath, o.subject, o.keyType ?? 'ec');
    const extFile = writeExt(this.dir, name, profileLines(o));
    const notBefore = o.notBefore ?? new Date(Date.now() - DAY);
    const notAfter = o.notAfter ?? new Date(Date.now() + 365 * DAY);
    if (o.unrecorded) {
      // `openssl x509 -req` cannot set notBefore here; the default (now) is fine for these tests.
      const days = Math.max(1, Math.round((notAfter.getTime() - Date.now()) / DAY));
      openssl([
        'x509', '-req', '-in', csrPath, '-CA', this.certPath, '-CAkey', this.keyPath, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-days', String(days), '-extfile', extFile, '-extensions', 'ext', '-sha256', '-out', certPath,
      ]);
    } else {
      openssl([
        'ca', '-batch', '-config', path.join(this.dir, 'ca.cnf'), '-cert', this.certPath, '-keyfile', this.keyPath, '-in', csrPath,
        '-out', certPath, '-extfile', extFile, '-extensions', 'ext', '-preserveDN', '-utf8', '-notext',
        '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter),
      ]);
    }
    const certPem = readFileSync(certPath, 'utf8');
    return { name, cert: new X509Certificate(certPem), certPem, keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath };
  }

  /** A subordinate CA of this one. */
  subCa(parent: string, name: string, o: Omit<IssueOptions, 'profile'> & { profile?: IssueOptions['profile'] }): this {
    return (this.constructor as typeof OpensslCa).fromIssued(parent, this.issue(name, { profile: 'ca', ...o })) as this;
  }

  revoke(issued: Issued, reason = 'keyCompromise'): void {
    openssl(['ca', '-config', path.join(this.dir, 'ca.cnf'), '-cert', this.certPath, '-keyfile', this.keyPath, '-revoke', issued.certPath, '-crl_reason', reason]);
  }

  /** A freshly signed CRL in DER. */
  crlDer(opts: { hours?: number } = {}): Buffer {
    const pem = path.join(this.dir, 'crl.pem');
    const der = path.join(this.dir, 'crl.der');
    openssl([
      'ca', '-gencrl', '-config', path.join(this.dir, 'ca.cnf'), '-cert', this.certPath, '-keyfile', this.keyPath, '-out', pem,
      '-crlhours', String(opts.hours ?? 24), '-crlexts', 'crl_ext',
    ]);
    openssl(['crl', '-in', pem, '-outform', 'DER', '-out', der]);
    return readFileSync(der);
  }
}

function newKeyAndCsr(keyPath: string, csrPath: string, subject: Dn, keyType: 'rsa' | 'ec'): void {
  const keyArgs = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', keyPath, '-out', csrPath, '-utf8', '-subj', subjectArg(subject)]);
}

function writeExt(dir: string, name: string, lines: Record<string, string | null>): string {
  const file = path.join(dir, `${name}.ext`);
  const body = Object.entries(lines)
    .filter((e): e is [string, string] => e[1] !== null)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  // An empty section is fine for openssl: the certificate gets no extensions.
  writeFileSync(file, `[ ext ]\n${body}\n`);
  return file;
}

export const DAY_MS = DAY;
