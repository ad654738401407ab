import {
  checkPasswordPolicy,
  hashPassword,
  needsRehash,
  SCRYPT_DEFAULTS,
  verifyPassword,
  type PasswordOwner,
  type PasswordPolicyReason,
} from '../../src/citizens/password';

const owner: PasswordOwner = { givenName: 'María José', firstSurname: 'García', secondSurname: 'de la Fuente', dni: '12345678Z' };

describe('checkPasswordPolicy', () => {
  test.each<[string, PasswordOwner, PasswordPolicyReason[]]>([
    // length and character groups
    ['Abcdef1!', owner, []],
    ['Abc1!', owner, ['too_short']],
    ['abcdefgh', owner, ['too_few_groups']],
    ['abcdefg1', owner, ['too_few_groups']],
    ['abcdefG1', owner, []],
    ['abcdefg!1', owner, []],
    ['ABCDEFG!1', owner, []],
    ['Ab1', owner, ['too_short']], // short AND 3 groups: only the length fails
    ['ab', owner, ['too_short', 'too_few_groups']],
    ['abcdefghijklmno1', owner, []], // 16+: no group rule
    ['abcdefghijklmnop', owner, []],
    ['abcdefghijklmno', owner, ['too_few_groups']], // 15 is still below 16
    ['ñandúÑANDÚ99', owner, []], // non-ASCII letters count in their case group
    ['Espacio 12', owner, []], // a space is a symbol
    // name parts, case- and accent-insensitive
    ['Garcia-2024x', owner, ['contains_name']],
    ['xGARCÍA99!', owner, ['contains_name']],
    ['Maria!2024', owner, ['contains_name']],
    ['MyJose#2024', owner, ['contains_name']],
    ['Fuente$2024', owner, ['contains_name']],
    ['De-La-2024x', owner, []], // parts under 3 letters are not checked
    ['Delgado#2024', { ...owner, secondSurname: 'del Río' }, []], // "del" is a particle, not a name
    ['Rio!2024xy', { ...owner, secondSurname: 'del Río' }, ['contains_name']],
    ['Ana!2024xy', { ...owner, givenName: 'Ana' }, ['contains_name']],
    ['Ruiz!2024xy', { ...owner, secondSurname: null, firstSurname: 'Ruiz' }, ['contains_name']],
    // the DNI/NIE digits
    ['Ab!12345678', owner, ['contains_dni']],
    ['Ab!1234567', owner, []], // a part of the number is allowed
    ['Xy!1234567', { ...owner, dni: 'X1234567L' }, ['contains_dni']],
    ['x', owner, ['too_short', 'too_few_groups']],
    ['garcia12345678', owner, ['too_few_groups', 'contains_name', 'contains_dni']],
  ])('%j', (password, who, reasons) => {
    const result = checkPasswordPolicy(password, who);
    expect(result.ok ? [] : result.reasons).toEqual(reasons);
  });
});

describe('hashPassword / verifyPassword', () => {
  test('a hash is self-describing and verifies only the right password', async () => {
    const encoded = await hashPassword('Correct-Horse-9');
    expect(encoded).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword('Correct-Horse-9', encoded)).toBe(true);
    expect(await verifyPassword('correct-Horse-9', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  test('two hashes of one password differ (random salt)', async () => {
    const [a, b] = await Promise.all([hashPassword('Same-Pass-1'), hashPassword('Same-Pass-1')]);
    expect(a).not.toBe(b);
  });

  test('a hash made with other parameters still verifies, and asks to be rehashed', async () => {
    const cheap = await hashPassword('Old-Params-1', { N: 2 ** 10, r: 8, p: 1 });
    expect(cheap.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await verifyPassword('Old-Params-1', cheap)).toBe(true);
    expect(await verifyPassword('Old-Params-2', cheap)).toBe(false);
    expect(needsRehash(cheap)).toBe(true);
    expect(needsRehash(await hashPassword('x', SCRYPT_DEFAULTS))).toBe(false);
  });

  test('composed and decomposed accents are the same password', async () => {
    const encoded = await hashPassword('Contraseña-1'.normalize('NFC'), { N: 2 ** 10, r: 8, p: 1 });
    expect(await verifyPassword('Contraseña-1'.normalize('NFD'), encoded)).toBe(true);
  });

  test.each([
    ['', 'empty'],
    ['bcrypt$10$abc', 'other scheme'],
    ['scrypt$1000$8$1$c2FsdA$a2V5', 'N not a power of two'],
    ['scrypt$2097152$8$1$c2FsdA$a2V5', 'N too large'],
    ['scrypt$1024$8$1$$a2V5', 'no salt'],
    ['scrypt$1024$8$1$c2FsdA', 'no hash'],
  ])('a malformed stored hash (%j, %s) throws instead of looking like a wrong password', async (encoded) => {
    await expect(verifyPassword('whatever', encoded)).rejects.toMatchObject({ code: 'ERR_PASSWORD_HASH' });
  });
});
