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
   */
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
    private readonly pendingTtlMs: number = ttlMs,
  ) {}

  /** Milliseconds left for `txn` at `now`: the short pending life until a method is picked, then the full one. */
  private remaining(txn: Pick<LoginTransaction, 'createdAt' | 'method'>, now: Date): number {
    const life = txn.method ? this.ttlMs : Math.min(this.pendingTtlMs, this.ttlMs);
    return Date.parse(txn.createdAt) + life - now.getTime();
  }

  private key(id: string): string {
    return `txn:${id}`;
  }

  async create(request: AuthnRequest, now: Date): Promise<LoginTransaction> {
    const txn: LoginTransaction = {
      id: newId(),
      createdAt: now.toISOString(),
      spEntityId: request.issuer,
      request: { ...request, issueInstant: request.issueInstant.toISOString() },
    };
    await this.store.set(this.key(txn.id), JSON.stringify(txn), this.remaining(txn, now));
    return txn;
  }

  async get(id: string): Promise<LoginTransaction | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
    const raw = await this.store.get(this.key(id));
    return raw ? (JSON.parse(raw) as LoginTransaction) : null;
  }

  /** Save method progress; the TTL counts from the original creation so a login cannot be stretched forever. */
  async save(txn: LoginTransaction, now: Date): Promise<void> {
    const remaining = this.remaining(txn, now);
    if (remaining <= 0) return;
    await this.store.set(this.key(txn.id), JSON.stringify(txn), remaining);
  }

  /** Consume the transaction exactly once: of two concurrent completions only one gets it. */
  async take(id: string): Promise<LoginTransaction | null> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return null;
    const raw = await this.store.take(this.key(id));
    return raw ? (JSON.parse(raw) as LoginTransaction) : null;
  }
}
