import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../store/types';
import type { AuthnRequest, MethodId } from '../saml/types';

/**
 * One login in progress: what the SP asked for, kept in the store with a TTL so that a login
 * started on one broker node can finish on another. Method pages keep their step here too.
 */
export interface LoginTransaction {
  id: string;
  createdAt: string;
  spEntityId: string;
  request: Omit<AuthnRequest, 'issueInstant'> & { issueInstant: string };
  /** Set when the citizen picked a method; method-specific step data lives in `step`. */
  method?: MethodId;
  step?: Record<string, string | number | boolean | null>;
}

export function newId(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export class TransactionStore {
  /**
   * @param ttlMs life of a login from its start.
   * @param pendingTtlMs life until the citizen picks a method (never longer than `ttlMs`):
   *   requests that nobody follows up (floods through an SP that allows unsigned requests)
   *   leave the store quickly.
   * @param graceMs how long an expired login is kept (never usable again) so that its page can
   *   still offer "return to the service": an AuthnFailed response to the SP's ACS, instead of a
   *   dead end. Only for logins where the citizen picked a method: requests nobody followed up
   *   still leave the store at `pendingTtlMs` (the flood bound stays as it was).
   */
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
    private readonly pendingTtlMs: number = ttlMs,
    private readonly graceMs: number = 0,
  ) {}

  /** Milliseconds left for `txn` at `now`: the short pending life until a method is picked, then the full one. */
  private remaining(txn: Pick<LoginTransaction, 'createdAt' | 'method'>, now: Date): number {
    const life = txn.method ? this.ttlMs : Math.min(this.pendingTtlMs, this.ttlMs);
    return Date.parse(txn.createdAt) + life - now.getTime();
  }

  private key(id: string): string {
    return `txn:${id}`;
  }

  private grace(txn: Pick<LoginTransaction, 'method'>): number {
    return txn.method ? this.graceMs : 0;
  }

  async create(request: AuthnRequest, now: Date): Promise<LoginTransaction> {
    const txn: LoginTransaction = {
      id: newId(),
      createdAt: now.toISOString(),
      spEntityId: request.issuer,
      request: { ...request, issueInstant: request.issueInstant.toISOString() },
    };
    await this.store.set(this.key(txn.id), JSON.stringify(txn), this.remaining(txn, now) + this.grace(txn));
    return txn;
  }

  /** A login that is still alive at `now` (default: the wall clock). */
  async get(id: string, now: Date = new Date()): Promise<LoginTransaction | null> {
    const txn = await this.read(id);
    return txn && this.remaining(txn, now) > 0 ? txn : null;
  }

  /** A login that has expired but is still within its grace period: it can only be answered with an error. */
  async getExpired(id: string, now: Date = new Date()): Promise<LoginTransaction | null> {
    const txn = await this.read(id);
    if (!txn) return null;
    const left = this.remaining(txn, now);
    return left <= 0 && left + this.grace(txn) > 0 ? txn : null;
  }

  private async read(id: string): Promise<LoginTransaction | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
    const raw = await this.store.get(this.key(id));
    return raw ? (JSON.parse(raw) as LoginTransaction) : null;
  }

  /** Save method progress; the TTL counts from the original creation so a login cannot be stretched forever. */
  async save(txn: LoginTransaction, now: Date): Promise<void> {
    const remaining = this.remaining(txn, now);
    if (remaining <= 0) return;
    await this.store.set(this.key(txn.id), JSON.stringify(txn), remaining + this.grace(txn));
  }

  /**
   * Consume the transaction exactly once: of two concurrent completions only one gets it. An
   * expired login is refused (and put back for its grace period) unless `expired: 'allow'`,
   * which only the error answers use.
   */
  async take(id: string, now: Date = new Date(), opts: { expired?: 'allow' } = {}): Promise<LoginTransaction | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
    const raw = await this.store.take(this.key(id));
    if (!raw) return null;
    const txn = JSON.parse(raw) as LoginTransaction;
    const left = this.remaining(txn, now);
    if (left <= 0 && opts.expired !== 'allow') {
      const grace = left + this.grace(txn);
      if (grace > 0) await this.store.set(this.key(id), raw, grace);
      return null;
    }
    return txn;
  }
}
