import { dniFromSerialNumber, namesFromCommonName, splitSurnames } from '../../src/pki/identity';

describe('identity from a certificate subject', () => {
  test.each([
    ['GARCÍA LÓPEZ', 'GARCÍA', 'LÓPEZ'],
    ['ESPAÑOL ESPAÑOL', 'ESPAÑOL', 'ESPAÑOL'],
    ['DE LA FUENTE GARCÍA', 'DE LA FUENTE', 'GARCÍA'],
    ['GARCÍA DEL RÍO', 'GARCÍA', 'DEL RÍO'],
    ['  RUIZ   SOLER ', 'RUIZ', 'SOLER'],
    ['SMITH', 'SMITH', null],
    ['GARCÍA PÉREZ LÓPEZ', 'GARCÍA', 'PÉREZ LÓPEZ'],
  ])('splits SN %p into %p + %p', (sn, first, second) => {
    expect(splitSurnames(sn)).toEqual({ firstSurname: first, secondSurname: second });
  });

  test.each([
    ['IDCES-12345678Z', '12345678Z'],
    ['12345678Z', '12345678Z'],
    ['idces-x1234567l', 'X1234567L'],
    ['PNOES-12345678Z', '12345678Z'],
  ])('reads the DNI/NIE from serialNumber %p', (serial, dni) => {
    expect(dniFromSerialNumber(serial)).toEqual({ ok: true, dni });
  });

  test('refuses a wrong check letter, another document type, and garbage', () => {
    expect(dniFromSerialNumber('IDCES-12345678A')).toMatchObject({ ok: false, message: expect.stringMatching(/check letter/) });
    expect(dniFromSerialNumber('PASES-AB1234567')).toMatchObject({ ok: false, message: expect.stringMatching(/not a Spanish DNI or NIE/) });
    expect(dniFromSerialNumber('IDCFR-12345678Z')).toMatchObject({ ok: false });
    expect(dniFromSerialNumber('hello')).toMatchObject({ ok: false });
  });

  test('reads surnames and given name from the DNIe common name', () => {
    expect(namesFromCommonName('GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)')).toEqual({ surnames: 'GARCÍA LÓPEZ', givenName: 'MARÍA' });
    expect(namesFromCommonName('RUIZ SOLER, ANA JOSÉ')).toEqual({ surnames: 'RUIZ SOLER', givenName: 'ANA JOSÉ' });
    expect(namesFromCommonName('RUIZ SOLER ANA - 12345678Z')).toBeNull();
  });
});
