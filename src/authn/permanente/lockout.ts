import { createHash } from 'node:crypto';
import { MAX_FAILED_PASSWORD_ATTEMPTS, type PasswordCheck } from '../../citizens/repository';
import type { KeyValueStore } from '../../store/types';

/**
 * How long wrong passwords for a DNI with no usable account are remembered. A real account
 * stays locked until it is recovered; 30 days is far longer than anyone probing would wait.
 */
const SHADOW_TTL_MS = 30 * 86_400_000;

export type PasswordVerdict = { kind: 'wrong'; remaining: number } | { kind: 'locked' };

/**
 * What a failed password check may tell the citizen, the same for every DNI: wrong, with the
 * tries left before the lock, or locked. The registry counts the tries of active accounts; a
 * shadow counter in the store counts every failure of every DNI (reset by a success), and
 * answers for the DNIs the registry cannot: unknown, not activated, and locked accounts given
 * a wrong password. So neither "N tries left" nor "locked" says whether a DNI is registered:
 * an account locked by wrong tries goes on answering "locked" to wrong tries exactly as an
 * unknown DNI does after as many. Only the right password is told that its account is locked.
 */
export class PasswordFailures {
  constructor(private readonly store: KeyValueStore) {}

  private key(dni: string): string {
    return `pwshadow:${createHash('sha256').update(dni).digest('base64url').slice(0, 22)}`;
  }

  async verdict(dni: string, check: Extract<PasswordCheck, { ok: false }>): Promise<PasswordVerdict> {
    const failures = await this.store.increment(this.key(dni), SHADOW_TTL_MS);
    switch (check.reason) {
      case 'locked':
        return { kind: 'locked' };
      case 'bad_password':
        return check.remainingAttempts && check.remainingAttempts > 0 ? { kind: 'wrong', remaining: check.remainingAttempts } : { kind: 'locked' };
      case 'unknown':
      case 'inactive':
      case 'locked_bad_password':
        return failures >= MAX_FAILED_PASSWORD_ATTEMPTS ? { kind: 'locked' } : { kind: 'wrong', remaining: MAX_FAILED_PASSWORD_ATTEMPTS - failures };
    }
  }

  /** The right password: the count starts again, as the registry's does. */
  async succeeded(dni: string): Promise<void> {
    await this.store.delete(this.key(dni));
  }
}
