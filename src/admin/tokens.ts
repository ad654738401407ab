import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AuditLog } from '../audit/log';
import { AdminTokenEntity, type AdminRole } from '../db/operator-entities';
import { PasarelaError } from '../errors';

export const ADMIN_ROLES: readonly AdminRole[] = ['operator', 'registrar', 'auditor'];

export interface AdminTokenInfo {
  id: string;
  name: string;
  role: AdminRole;
  createdAt: string;
  revokedAt: string | null;
}

/** Static API keys are 32 random bytes; the prefix makes a leaked one easy to recognise (secret scanners). */
const PREFIX = 'pasarela_';

function hash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Static admin API keys. Each is printed once at creation; only its SHA-256 is stored (the key
 * has 256 bits of entropy, so a plain hash cannot be brute-forced, and the lookup stays one
 * indexed query). Creation and revocation are audited in the same transaction.
 */
export class AdminTokens {
  private readonly audit: AuditLog;

  constructor(private readonly ds: DataSource) {
    this.audit = new AuditLog(ds);
  }

  async create(role: string, name: string | undefined, actor: string): Promise<{ token: string; info: AdminTokenInfo }> {
    if (!(ADMIN_ROLES as readonly string[]).includes(role)) {
      throw new PasarelaError('ERR_USAGE', `role "${role}": expected one of ${ADMIN_ROLES.join(', ')}`);
    }
    const label = (name ?? `${role}-${new Date().toISOString().slice(0, 10)}`).trim();
    if (label === '' || label.length > 255) throw new PasarelaError('ERR_USAGE', 'token name: 1 to 255 characters');
    const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
    const row = { id: randomUUID(), name: label, role: role as AdminRole, tokenHash: hash(token), createdAt: new Date(), revokedAt: null };
    await this.ds.transaction(async (m) => {
      await m.getRepository(AdminTokenEntity).insert(row);
      await this.audit.record({ type: 'admin.token.created', actor, detail: { tokenId: row.id, name: label, role } }, m);
    });
    return { token, info: info(row) };
  }

  async list(): Promise<AdminTokenInfo[]> {
    return (await this.ds.getRepository(AdminTokenEntity).find({ order: { createdAt: 'ASC' } })).map(info);
  }

  /** Revoke by id or by name. */
  async revoke(idOrName: string, actor: string): Promise<AdminTokenInfo> {
    return this.ds.transaction(async (m) => {
      const repo = m.getRepository(AdminTokenEntity);
      const rows = [...(await repo.findBy({ id: idOrName })), ...(await repo.findBy({ name: idOrName }))].filter((r) => !r.revokedAt);
      const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
      if (unique.length === 0) throw new PasarelaError('ERR_NOT_FOUND', `no active admin token with id or name "${idOrName}"`);
      if (unique.length > 1) throw new PasarelaError('ERR_USAGE', `${unique.length} active tokens are named "${idOrName}"; revoke by id`);
      const row = unique[0]!;
      row.revokedAt = new Date();
      await repo.update({ id: row.id }, { revokedAt: row.revokedAt });
      await this.audit.record({ type: 'admin.token.revoked', actor, detail: { tokenId: row.id, name: row.name } }, m);
      return info(row);
    });
  }

  /** The token's identity when it is a current (not revoked) key; undefined otherwise. */
  async verify(token: string): Promise<{ id: string; name: string; role: AdminRole } | undefined> {
    if (!token.startsWith(PREFIX) || token.length > 128) return undefined;
    const h = hash(token);
    const row = await this.ds.getRepository(AdminTokenEntity).findOneBy({ tokenHash: h });
    if (!row || row.revokedAt) return undefined;
    // The lookup was by hash already; compare again in constant time for form's sake.
    if (!timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(h, 'hex'))) return undefined;
    return { id: row.id, name: row.name, role: row.role };
  }
}

function info(r: { id: string; name: string; role: AdminRole; createdAt: Date; revokedAt: Date | null }): AdminTokenInfo {
  return { id: r.id, name: r.name, role: r.role, createdAt: new Date(r.createdAt).toISOString(), revokedAt: r.revokedAt ? new Date(r.revokedAt).toISOString() : null };
}
