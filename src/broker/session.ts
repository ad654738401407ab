import type { AuthnResult } from '../authn/types';
import type { LoaLevel } from '../saml/constants';
import type { MethodId } from '../saml/types';
import type { KeyValueStore } from '../store/types';
import { newId } from './transaction';

/** The SSO session behind the broker's cookie. Its id is a bearer secret: never logged, never sent to SPs. */
export interface SsoSession {
  id: string;
  /** Opaque value sent to SPs as SessionIndex (not the cookie value). */
  sessionIndex: string;
  subject: AuthnResult['subject'];
  method: MethodId;
  variant: string;
  achievedLoa: LoaLevel;
  selectedIdP: string;
  authnInstant: string;
  createdAt: string;
  expiresAt: string;
}

export class SessionStore {
  constructor(
    private readonly store: KeyValueStore,
    private readonly ttlMs: number,
  ) {}

  private key(id: string): string {
    return `sso:${id}`;
  }

  /** A fresh session (new id on every authentication: no fixation, and step-up replaces the lower one). */
  async create(result: AuthnResult, now: Date, previousId?: string): Promise<SsoSession> {
    if (previousId) await this.destroy(previousId);
    const session: SsoSession = {
      id: newId(32),
      sessionIndex: `_${newId(16)}`,
      subject: result.subject,
      method: result.method,
      variant: result.variant,
      achievedLoa: result.achievedLoa,
      selectedIdP: result.selectedIdP,
      authnInstant: result.authnInstant.toISOString(),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.ttlMs).toISOString(),
    };
    await this.store.set(this.key(session.id), JSON.stringify(session), this.ttlMs);
    return session;
  }

  async get(id: string | undefined, now: Date): Promise<SsoSession | null> {
    if (!id || !/^[A-Za-z0-9_-]{32,64}$/.test(id)) return null;
    const raw = await this.store.get(this.key(id));
    if (!raw) return null;
    const session = JSON.parse(raw) as SsoSession;
    if (Date.parse(session.expiresAt) <= now.getTime()) return null;
    if (session.subject.citizenId && (await this.revokedBefore(session))) {
      await this.destroy(session.id);
      return null;
    }
    return session;
  }

  private revokedKey(citizenId: string): string {
    return `sso-revoked:${citizenId}`;
  }

  /**
   * Every session of this citizen created up to `now` stops working, on every node at once: the
   * index by subject is one marker in the shared store, read by \`get\` (deregistration, issue 7).
   * It lives as long as a session can, so no session older than it can outlive it.
   */
  async revokeSubject(citizenId: string, now: Date): Promise<void> {
    await this.store.set(this.revokedKey(citizenId), String(now.getTime()), this.ttlMs);
  }

  private async revokedBefore(session: SsoSession): Promise<boolean> {
    const marker = await this.store.get(this.revokedKey(session.subject.citizenId!));
    return marker !== null && Date.parse(session.createdAt) <= Number(marker);
  }

  async destroy(id: string): Promise<void> {
    await this.store.delete(this.key(id));
  }
}
