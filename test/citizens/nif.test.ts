import { dniCheckLetter, maskDni, normalizeDni, validateDniNie } from '../../src/citizens/nif';

describe('normalizeDni', () => {
  test.each([
    ['12345678Z', '12345678Z'],
    ['  12345678z ', '12345678Z'],
    ['12345678-Z', '12345678Z'],
    ['12 345 678 z', '12345678Z'],
    ['12.345.678-Z', '12345678Z'],
    ['x-1234567-l', 'X1234567L'],
    ['', ''],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeDni(input)).toBe(expected);
  });
});

describe('validateDniNie', () => {
  test.each([
    // DNI: letter = table[number mod 23]
    ['12345678Z', '12345678Z', 'DNI'],
    ['00000000T', '00000000T', 'DNI'], // 0 mod 23 = 0 -> T
    ['00000023T', '00000023T', 'DNI'], // 23 mod 23 = 0 -> T
    ['00000001R', '00000001R', 'DNI'],
    ['00000022E', '00000022E', 'DNI'], // last entry of the table
    ['99999999R', '99999999R', 'DNI'],
    [' 12345678-z ', '12345678Z', 'DNI'],
    // NIE: X/Y/Z stand for 0/1/2 in front of the 7 digits
    ['X1234567L', 'X1234567L', 'NIE'], // 01234567 mod 23 = 19 -> L
    ['Y1234567X', 'Y1234567X', 'NIE'], // 11234567 mod 23 = 10 -> X
    ['Z1234567R', 'Z1234567R', 'NIE'], // 21234567 mod 23 = 1 -> R
    ['x0000000t', 'X0000000T', 'NIE'],
  ])('%j is a valid %s', (input, value, kind) => {
    expect(validateDniNie(input)).toEqual({ ok: true, value, kind });
  });

  test.each([
    ['12345678A', /check letter/],
    ['X1234567T', /check letter/],
    ['Y1234567L', /check letter/], // X's letter on a Y: the prefix counts
    ['1234567Z', /8 digits/],
    ['123456789Z', /8 digits/],
    ['12345678', /8 digits/],
    ['A1234567L', /8 digits/],
    ['X12345678L', /8 digits/],
    ['1234567AZ', /8 digits/],
    ['12345678Ñ', /8 digits/],
    ['１２３４５６７８Z', /8 digits/], // full-width digits are not a DNI
    ['', /empty/],
    ['   ', /empty/],
  ])('%j is rejected', (input, reason) => {
    const r = validateDniNie(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  test('every residue maps to its letter of the official table', () => {
    const table = 'TRWAGMYFPDXBNJZSQVHLCKE';
    for (let n = 0; n < 23; n++) expect(dniCheckLetter(String(n).padStart(8, '0'))).toBe(table[n]);
  });
});

describe('maskDni', () => {
  test.each([
    ['12345678Z', '****5678Z'],
    ['X1234567L', '****4567L'],
    [' 12345678-z', '****5678Z'],
    ['1234', '****'],
    ['', ''],
  ])('%j -> %j', (input, expected) => {
    expect(maskDni(input)).toBe(expected);
  });
});
