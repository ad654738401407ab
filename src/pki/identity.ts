import type { X509Certificate } from 'node:crypto';
import { validateDniNie } from '../citizens/nif';
import { details, OID, subjectValue } from './x509';

/** The citizen named by a Spanish citizen certificate (DNIe, FNMT and other qualified CAs). */
export interface CertificateIdentity {
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname: string | null;
  /** YYYY-MM-DD, only when the CA put it in subjectDirectoryAttributes. */
  dateOfBirth?: string;
}

export type IdentityResult = { ok: true; identity: CertificateIdentity } | { ok: false; message: string };

/**
 * Particles that belong to the surname that follows them ("DE LA FUENTE", "DEL RÍO"), so that
 * "DE LA FUENTE GARCÍA" splits as "DE LA FUENTE" + "GARCÍA".
 */
const PARTICLES = new Set(['DE', 'DEL', 'LA', 'LAS', 'LOS', 'EL', 'Y', 'I', 'SAN', 'SANTA', 'VAN', 'VON', 'DA', 'DO', 'DOS', 'DAS', 'MAC', 'MC']);

function tidy(s: string): string {
  return s.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/**
 * Split "APELLIDO1 APELLIDO2" into first and second surname. DNIe and FNMT certificates put both
 * surnames in SN separated by a space; compound surnames keep their particles. When the split is
 * ambiguous (three or more plain words), the first word is the first surname and the rest the
 * second: CurrentFamilyName (both joined) is exact either way.
 */
export function splitSurnames(sn: string): { firstSurname: string; secondSurname: string | null } {
  const words = tidy(sn).split(' ').filter(Boolean);
  const groups: string[] = [];
  let pending: string[] = [];
  for (const w of words) {
    pending.push(w);
    if (!PARTICLES.has(w.toUpperCase())) {
      groups.push(pending.join(' '));
      pending = [];
    }
  }
  if (pending.length > 0) {
    if (groups.length > 0) groups[groups.length - 1] += ` ${pending.join(' ')}`;
    else groups.push(pending.join(' '));
  }
  if (groups.length <= 1) return { firstSurname: groups[0] ?? '', secondSurname: null };
  return { firstSurname: groups[0]!, secondSurname: groups.slice(1).join(' ') };
}

/**
 * DNI/NIE from the serialNumber attribute: "IDCES-12345678Z" (ETSI EN 319 412-1 semantics; PNOES-
 * too) or bare "12345678Z". Other documents ("PASES-", "IDCFR-") are not a Spanish DNI/NIE.
 */
export function dniFromSerialNumber(serialNumber: string): { ok: true; dni: string } | { ok: false; message: string } {
  const value = serialNumber.trim().toUpperCase();
  const m = /^(?:(?:IDC|PNO)ES-)?([0-9XYZ][0-9]{7}[A-Z])$/.exec(value);
  if (!m) {
    if (/^[A-Z]{5}-/.test(value)) {
      return { ok: false, message: 'the certificate identifies its holder by a document that is not a Spanish DNI or NIE' };
    }
    return { ok: false, message: 'the certificate subject carries no DNI/NIE in its serialNumber' };
  }
  const v = validateDniNie(m[1]!);
  if (!v.ok) return { ok: false, message: `the DNI/NIE in the certificate is not valid (${v.reason})` };
  return { ok: true, dni: v.value };
}

/** "GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)" -> surnames and given name; null when CN has another shape. */
export function namesFromCommonName(cn: string): { surnames: string; givenName: string } | null {
  const m = /^([^,]+),\s*([^()]+?)\s*(?:\([^)]*\))?\s*$/.exec(tidy(cn));
  if (!m) return null;
  const surnames = tidy(m[1]!);
  const givenName = tidy(m[2]!);
  return surnames && givenName ? { surnames, givenName } : null;
}

/** Identity from the certificate subject: serialNumber, GN and SN, or the DNIe CN as a fallback for the names. */
export function identityFromCertificate(cert: X509Certificate): IdentityResult {
  const d = details(cert);
  const serial = subjectValue(d, OID.serialNumber);
  if (!serial) return { ok: false, message: 'the certificate subject carries no serialNumber with a DNI/NIE' };
  const dni = dniFromSerialNumber(serial);
  if (!dni.ok) return dni;

  let givenName = tidy(subjectValue(d, OID.givenName) ?? '');
  let surnames = tidy(subjectValue(d, OID.surname) ?? '');
  if (!givenName || !surnames) {
    const cn = subjectValue(d, OID.commonName);
    const fromCn = cn ? namesFromCommonName(cn) : null;
    if (fromCn) {
      givenName ||= fromCn.givenName;
      surnames ||= fromCn.surnames;
    }
  }
  if (!givenName || !surnames) return { ok: false, message: 'the certificate subject carries no given name and surname' };
  const split = splitSurnames(surnames);
  return { ok: true, identity: { dni: dni.dni, givenName, ...split, dateOfBirth: d.dateOfBirth } };
}
