import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { maskDni, normalizeDni } from '../citizens/nif';
import type { KeyValueStore } from '../store/types';
import type { AbuseConfig } from './pin/config';

/** Who is trying: the DNI/NIE typed or identified (known or not), and the client address. */
export interface Attempt {
  dni?: string;
  address?: string;
}

export type AbuseVerdict = { blocked: false } | { blocked: true; retryAfterSeconds: number };

/**
 * Abuse limits shared by every method: wrong passwords, PINs, codes and unmatched Cl@ve PIN
 * identifications are counted per citizen and per client address in the store (Redis in
 * production), so they hold across broker nodes. The per-citizen counter is keyed by the DNI/NIE
 * typed, registered or not, so being blocked says nothing about registration. Counters are fixed
 * windows from the first failure. The password lockout in the registry (5 failures) is separate.
 */
export class AbuseLimits {
  constructor(
    private readonly store: KeyValueStore,
    private readonly cfg: AbuseConfig,
    private readonly log?: Logger,
  ) {}

  private keys(a: Attempt): { key: string; max: number }[] {
    const out: { key: string; max: number }[] = [];
    if (a.dni) out.push({ key: `abuse:citizen:${hash(normalizeDni(a.dni))}`, max: this.cfg.maxFailuresPerCitizen });
    if (a.address) out.push({ key: `abuse:address:${hash(a.address)}`, max: this.cfg.maxFailuresPerAddress });
    return out;
  }

  /** Is this citizen or address over its limit? Checked before any credential is looked at. */
  async check(a: Attempt): Promise<AbuseVerdict> {
    for (const { key, max } of this.keys(a)) {
      const n = Number((await this.store.get(key)) ?? 0);
      if (n >= max) return { blocked: true, retryAfterSeconds: this.cfg.windowSeconds };
    }
    return { blocked: false };
  }

  /** Count one failure; returns the verdict after it (the failure that reaches a limit blocks). */
  async fail(a: Attempt, what: 'password' | 'pin' | 'otp' | 'identification'): Promise<AbuseVerdict> {
    let blocked = false;
    for (const { key, max } of this.keys(a)) {
      const n = await this.store.increment(key, this.cfg.windowSeconds * 1000);
      if (n >= max) blocked = true;
    }
    if (blocked) {
      this.log?.warn({ event: 'abuse.limit_reached', what, who: a.dni ? maskDni(a.dni) : undefined, address: a.address }, 'too many failed attempts');
      return { blocked: true, retryAfterSeconds: this.cfg.windowSeconds };
    }
    return { blocked: false };
  }

  /**
   * The citizen proved who they are: their counter restarts. The address counter does not, or
   * an attacker could clear it by logging into their own account between guesses at others.
   */
  async succeed(dni: string): Promise<void> {
    await this.store.delete(`abuse:citizen:${hash(normalizeDni(dni))}`);
  }
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('base64url').slice(0, 22);
}
