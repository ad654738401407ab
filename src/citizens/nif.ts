/** Official check-letter table: letter = table[number mod 23]. */
const CHECK_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
const NIE_PREFIX: Record<string, string> = { X: '0', Y: '1', Z: '2' };

/** `reason` is English for logs and the CLI; pages translate `code` (catalogue keys `dni.format`, `dni.check_letter`). */
export type DniValidation =
  | { ok: true; value: string; kind: 'DNI' | 'NIE' }
  | { ok: false; code: 'empty' | 'format' | 'check_letter'; reason: string };

/** Trim, upper-case, and drop the separators people type: spaces, dashes and dots. */
export function normalizeDni(input: string): string {
  return input.trim().toUpperCase().replace(/[\s.\-\u2010-\u2015]/g, '');
}

/** The check letter for the 8-digit number of a DNI (or of a NIE after its prefix is replaced). */
export function dniCheckLetter(digits: string): string {
  return CHECK_LETTERS[Number(digits) % 23]!;
}

/** A Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter), check letter verified. */
export function validateDniNie(input: string): DniValidation {
  const value = normalizeDni(input);
  if (value === '') return { ok: false, code: 'empty', reason: 'empty' };
  let kind: 'DNI' | 'NIE';
  let digits: string;
  if (/^\d{8}[A-Z]$/.test(value)) {
    kind = 'DNI';
    digits = value.slice(0, 8);
  } else if (/^[XYZ]\d{7}[A-Z]$/.test(value)) {
    kind = 'NIE';
    digits = NIE_PREFIX[value[0]!]! + value.slice(1, 8);
  } else {
    return { ok: false, code: 'format', reason: 'expected 8 digits and a letter (DNI) or X, Y or Z, 7 digits and a letter (NIE)' };
  }
  if (dniCheckLetter(digits) !== value[8]) return { ok: false, code: 'check_letter', reason: 'the check letter does not match the number' };
  return { ok: true, value, kind };
}

/** `12345678Z` -> `****5678Z`: enough to tell people apart in logs, not enough to identify. */
export function maskDni(input: string): string {
  const value = normalizeDni(input);
  if (value.length <= 5) return '*'.repeat(value.length);
  return '*'.repeat(value.length - 5) + value.slice(-5);
}
