import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { maskDni } from '../citizens/nif';

/**
 * Reading X.509 certificates: node:crypto `X509Certificate` for everything it offers (signatures,
 * issuer checks, dates) and pkijs only for the extensions node:crypto does not expose (the real
 * keyUsage bits, basicConstraints' pathLen, CRL distribution points, AIA, subject attributes).
 */

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  crlDistributionPoints: '2.5.29.31',
  freshestCrl: '2.5.29.46',
  subjectDirectoryAttributes: '2.5.29.9',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  qcStatements: '1.3.6.1.5.5.7.1.3',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  adOcsp: '1.3.6.1.5.5.7.48.1',
  kpClientAuth: '1.3.6.1.5.5.7.3.2',
  kpOcspSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
  dateOfBirth: '1.3.6.1.5.5.7.9.1',
  // Subject attribute types
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  givenName: '2.5.4.42',
} as const;

/**
 * Extensions we understand. RFC 5280 §4.2: a certificate with a critical extension the verifier
 * does not process must be rejected (name constraints and policy constraints are not processed here).
 */
export const UNDERSTOOD_CRITICAL = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.certificatePolicies,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  OID.qcStatements,
  OID.subjectDirectoryAttributes,
  OID.ocspNoCheck,
]);

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export interface SubjectAttribute {
  oid: string;
  value: string;
}

/** What we read from a certificate beyond node:crypto's view. */
export interface CertDetails {
  /** Absent when the certificate has no basicConstraints extension (then it is not a CA). */
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** Absent when the certificate has no keyUsage extension (RFC 5280: no restriction). */
  keyUsage?: Set<KeyUsageName>;
  /** Absent when the certificate has no extendedKeyUsage extension. */
  extKeyUsage?: string[];
  /** OIDs of the critical extensions. */
  critical: string[];
  crlUrls: string[];
  ocspUrls: string[];
  subject: SubjectAttribute[];
  /** DER of the subject Name and of the issuer Name (for CRL issuer and OCSP CertID). */
  subjectDer: Buffer;
  issuerDer: Buffer;
  /** The subjectPublicKey BIT STRING contents (for the OCSP issuerKeyHash). */
  publicKeyBits: Buffer;
  /** Serial as upper-case hex without leading zeros. */
  serialHex: string;
  /** subjectDirectoryAttributes dateOfBirth, YYYY-MM-DD, when the CA put it there. */
  dateOfBirth?: string;
  pkijs: pkijs.Certificate;
}

const cache = new WeakMap<X509Certificate, CertDetails>();

export class CertificateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateParseError';
  }
}

/** One certificate from PEM text, base64 DER or DER bytes. */
export function parseCertificate(input: string | Buffer | Uint8Array): X509Certificate {
  try {
    if (typeof input === 'string') {
      const text = input.trim();
      if (text.startsWith('-----BEGIN')) return new X509Certificate(text);
      return new X509Certificate(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
    }
    return new X509Certificate(Buffer.from(input));
  } catch (err) {
    throw new CertificateParseError(`not a readable X.509 certificate (${(err as Error).message})`);
  }
}

/** Every certificate in a PEM bundle, in order. */
export function parsePemBundle(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => parseCertificate(b));
}

/** Certificates from a file: a PEM bundle, or one DER certificate. */
export function loadCertificateFile(file: string): X509Certificate[] {
  const bytes = readFileSync(file);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) return parsePemBundle(text);
  return [parseCertificate(bytes)];
}

export function bytesOf(view: ArrayBuffer | ArrayBufferView): Buffer {
  if (ArrayBuffer.isView(view)) return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  return Buffer.from(view);
}

/** A copy as a plain ArrayBuffer (what pkijs/asn1js constructors take). */
export function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

export function normalizeSerialHex(bytes: Uint8Array): string {
  const hex = bytesOf(bytes).toString('hex').toUpperCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

function asnString(value: unknown): string | undefined {
  if (value instanceof asn1js.BaseStringBlock) return value.valueBlock.value;
  if (value instanceof asn1js.BaseBlock) {
    const v = (value.valueBlock as { value?: unknown }).value;
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function keyUsageBits(bits: asn1js.BitString): Set<KeyUsageName> {
  const bytes = bits.valueBlock.valueHexView;
  const out = new Set<KeyUsageName>();
  KEY_USAGE_BITS.forEach((name, i) => {
    const byte = bytes[i >> 3];
    if (byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0) out.add(name);
  });
  return out;
}

function generalNameUris(names: pkijs.GeneralName[] | undefined): string[] {
  return (names ?? []).filter((g) => g.type === 6 && typeof g.value === 'string').map((g) => g.value as string);
}

function pathLenOf(v: number | asn1js.Integer | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  return v.valueBlock.valueDec;
}

/** Extensions, subject attributes and raw names of a certificate (parsed once per certificate object). */
export function details(cert: X509Certificate): CertDetails {
  const hit = cache.get(cert);
  if (hit) return hit;
  let parsed: pkijs.Certificate;
  try {
    parsed = pkijs.Certificate.fromBER(cert.raw);
  } catch (err) {
    throw new CertificateParseError(`certificate extensions could not be read (${(err as Error).message})`);
  }
  const out: CertDetails = {
    critical: [],
    crlUrls: [],
    ocspUrls: [],
    subject: [],
    subjectDer: bytesOf(parsed.subject.toSchema().toBER()),
    issuerDer: bytesOf(parsed.issuer.toSchema().toBER()),
    publicKeyBits: bytesOf(parsed.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    serialHex: normalizeSerialHex(parsed.serialNumber.valueBlock.valueHexView),
    pkijs: parsed,
  };
  for (const tv of parsed.subject.typesAndValues) {
    const value = asnString(tv.value);
    if (value !== undefined) out.subject.push({ oid: tv.type, value });
  }
  for (const ext of parsed.extensions ?? []) {
    if (ext.critical) out.critical.push(ext.extnID);
    const v = ext.parsedValue;
    switch (ext.extnID) {
      case OID.basicConstraints:
        if (v instanceof pkijs.BasicConstraints) out.basicConstraints = { ca: v.cA === true, pathLen: pathLenOf(v.pathLenConstraint) };
        else throw new CertificateParseError('malformed basicConstraints extension');
        break;
      case OID.keyUsage:
        if (v instanceof asn1js.BitString) out.keyUsage = keyUsageBits(v);
        else throw new CertificateParseError('malformed keyUsage extension');
        break;
      case OID.extKeyUsage:
        if (v instanceof pkijs.ExtKeyUsage) out.extKeyUsage = [...v.keyPurposes];
        else throw new CertificateParseError('malformed extendedKeyUsage extension');
        break;
      case OID.crlDistributionPoints:
        if (v instanceof pkijs.CRLDistributionPoints) {
          for (const dp of v.distributionPoints) {
            if (Array.isArray(dp.distributionPoint)) out.crlUrls.push(...generalNameUris(dp.distributionPoint));
          }
        }
        break;
      case OID.authorityInfoAccess:
        if (v instanceof pkijs.InfoAccess) {
          for (const ad of v.accessDescriptions) {
            if (ad.accessMethod === OID.adOcsp) out.ocspUrls.push(...generalNameUris([ad.accessLocation]));
          }
        }
        break;
      case OID.subjectDirectoryAttributes:
        if (v instanceof pkijs.SubjectDirectoryAttributes) {
          const dob = v.attributes.find((a) => a.type === OID.dateOfBirth)?.values[0];
          if (dob instanceof asn1js.GeneralizedTime) out.dateOfBirth = dob.toDate().toISOString().slice(0, 10);
        }
        break;
      default:
        break;
    }
  }
  cache.set(cert, out);
  return out;
}

/** The first value of a subject attribute. */
export function subjectValue(d: CertDetails, oid: string): string | undefined {
  return d.subject.find((a) => a.oid === oid)?.value;
}

/** A distinguished name on one line, with anything shaped like a DNI/NIE masked (citizen certificates put it in CN). */
export function safeName(name: string): string {
  return name.replace(/\n/g, ', ').replace(/\b[0-9XYZ]\d{7}[A-Z]\b/g, (m) => maskDni(m));
}

/** A short, log-safe description of a certificate: its subject CN (or whole subject) and serial. */
export function describeCert(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return `"${safeName(cn ?? cert.subject)}" (serial ${cert.serialNumber})`;
}
