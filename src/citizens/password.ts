import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { PasarelaError } from '../errors';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Current cost. Stored hashes carry their own parameters, so this can be raised later. */
export const SCRYPT_DEFAULTS: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Refuse stored parameters that would make one verification cost more than ~256 MiB. */
const MAX_N = 2 ** 20;

/**
 * scrypt derivations run by this process. Every password answer (right, wrong, unknown DNI,
 * locked, not activated) must cost exactly one, so that timing tells nothing; tests and the
 * `pasarela_password_kdf_total` metric read it.
 */
export const kdfStats = { derivations: 0 };

function derive(password: string, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  kdfStats.derivations++;
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // scrypt needs 128*N*r bytes; Node's default cap (32 MiB) is exactly that at N=2^15, r=8.
    maxmem: 256 * params.N * params.r,
  };
  // NFC so the same password typed on different keyboards (composed or not) matches.
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$<salt base64url>$<hash base64url>`. */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params, KEY_BYTES);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

interface Decoded {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function decode(encoded: string): Decoded {
  const parts = encoded.split('$');
  const [scheme, n, r, p, salt, key] = parts;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const valid =
    parts.length === 6 &&
    scheme === 'scrypt' &&
    Number.isInteger(params.N) &&
    params.N > 1 &&
    params.N <= MAX_N &&
    (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) &&
    params.r >= 1 &&
    params.r <= 32 &&
    Number.isInteger(params.p) &&
    params.p >= 1 &&
    params.p <= 16 &&
    !!salt &&
    !!key;
  if (!valid) throw new PasarelaError('ERR_PASSWORD_HASH', 'stored password hash is not in the scrypt$N$r$p$salt$hash format');
  return { params, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/**
 * Constant-time comparison against a stored hash. A malformed stored hash throws
 * (ERR_PASSWORD_HASH): corrupted data must not look like a wrong password.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const { params, salt, key } = decode(encoded);
  const candidate = await derive(password, salt, params, key.length);
  return timingSafeEqual(candidate, key);
}

/** True when a stored hash was made with other parameters than today's (rehash at next login). */
export function needsRehash(encoded: string, params: ScryptParams = SCRYPT_DEFAULTS): boolean {
  const d = decode(encoded);
  return d.params.N !== params.N || d.params.r !== params.r || d.params.p !== params.p || d.key.length !== KEY_BYTES;
}

/** `reused` and `mismatch` are decided by the lifecycle (history, confirmation), the rest by `checkPasswordPolicy`. */
export type PasswordPolicyReason = 'too_short' | 'too_few_groups' | 'contains_name' | 'contains_dni' | 'reused' | 'mismatch';

export const PASSWORD_POLICY_MESSAGES: Record<PasswordPolicyReason, string> = {
  too_short: 'at least 8 characters',
  too_few_groups: 'below 16 characters, characters from 3 of: lower case, upper case, digits, symbols',
  contains_name: 'must not contain your name or surnames',
  contains_dni: 'must not contain your DNI/NIE number',
  reused: 'must differ from your last 5 passwords',
  mismatch: 'the two passwords must be the same',
};

export interface PasswordOwner {
  givenName: string;
  firstSurname: string;
  secondSurname?: string | null;
  dni: string;
}

export type PasswordPolicyResult = { ok: true } | { ok: false; reasons: PasswordPolicyReason[] };

/** Thrown by the citizen repository when a password breaks the policy; `reasons` for the UI. */
export class PasswordPolicyError extends PasarelaError {
  constructor(readonly reasons: PasswordPolicyReason[]) {
    super('ERR_PASSWORD_POLICY', `password rejected: ${reasons.map((r) => PASSWORD_POLICY_MESSAGES[r]).join('; ')}`);
    this.name = 'PasswordPolicyError';
  }
}

/** Lower case without accents: "García" -> "garcia", so the name check ignores both. */
function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Spanish/Portuguese/Dutch particles of three letters are not the citizen's name. */
const PARTICLES = new Set(['del', 'las', 'los', 'san', 'dos', 'das', 'van', 'von', 'der']);

function nameParts(owner: PasswordOwner): string[] {
  return [owner.givenName, owner.firstSurname, owner.secondSurname ?? '']
    .flatMap((field) => fold(field).split(/[^\p{L}]+/u))
    .filter((part) => [...part].length >= 3 && !PARTICLES.has(part));
}

/**
 * The Cl@ve Permanente password rules: 8+ characters; under 16, three of the four character
 * groups; never the citizen's given name, a surname or the DNI/NIE digits.
 */
export function checkPasswordPolicy(password: string, owner: PasswordOwner): PasswordPolicyResult {
  const reasons: PasswordPolicyReason[] = [];
  const length = [...password.normalize('NFC')].length;
  if (length < 8) reasons.push('too_short');
  if (length < 16) {
    const groups = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{L}\p{N}]/u].filter((re) => re.test(password)).length;
    if (groups < 3) reasons.push('too_few_groups');
  }
  const folded = fold(password);
  if (nameParts(owner).some((part) => folded.includes(part))) reasons.push('contains_name');
  const digits = owner.dni.replace(/\D/g, '');
  if (digits.length >= 6 && password.includes(digits)) reasons.push('contains_dni');
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}
