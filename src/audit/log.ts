import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';
import { AuditEventEntity, type AuditEventRow } from '../db/entities';

export interface AuditEvent {
  /** Dotted name, e.g. `citizen.registered`, `auth.password.failed`, `sp.added`. */
  type: string;
  /** Who did it: `citizen`, `cli`, `admin:<name>`, `file:<name>`, ... */
  actor?: string;
  citizenId?: string;
  /** SAML request / login transaction id, to join the trail with the logs. */
  requestId?: string;
  /**
   * Facts worth keeping. Callers must never put passwords, PINs, OTPs, activation codes or
   * full DNI/NIEs here (use `maskDni`); a few obvious key names are redacted as a last resort.
   */
  detail?: Record<string, unknown>;
}

export interface StoredAuditEvent {
  id: string;
  at: Date;
  type: string;
  actor: string | null;
  citizenId: string | null;
  requestId: string | null;
  detail: Record<string, unknown>;
}

const NEVER_STORED = new Set(['password', 'newpassword', 'pin', 'otp', 'dni', 'nie', 'activationcode', 'secret']);

/** Append-only audit trail in the `audit_events` table. */
export class AuditLog {
  constructor(private readonly ds: DataSource) {}

  /**
   * Append one event. Pass the transaction's manager so the event commits or rolls back with
   * the change it describes ("none is half-applied").
   */
  async record(event: AuditEvent, manager?: EntityManager): Promise<void> {
    const row: AuditEventRow = {
      id: randomUUID(),
      at: new Date(),
      type: event.type,
      actor: clip(event.actor, 255),
      citizenId: event.citizenId ?? null,
      requestId: clip(event.requestId, 512),
      detail: JSON.stringify(scrub(event.detail ?? {})),
    };
    await (manager ?? this.ds.manager).getRepository(AuditEventEntity).insert(row);
  }

  /** Most recent first. For the admin API, the CLI and tests. */
  async list(filter: { citizenId?: string; type?: string; requestId?: string; limit?: number } = {}, manager?: EntityManager): Promise<StoredAuditEvent[]> {
    const where: FindOptionsWhere<AuditEventRow> = {};
    if (filter.citizenId !== undefined) where.citizenId = filter.citizenId;
    if (filter.type !== undefined) where.type = filter.type;
    if (filter.requestId !== undefined) where.requestId = filter.requestId;
    const rows = await (manager ?? this.ds.manager)
      .getRepository(AuditEventEntity)
      .find({ where, order: { at: 'DESC' }, take: filter.limit ?? 100 });
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}

function scrub(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) out[k] = NEVER_STORED.has(k.toLowerCase().replace(/[_-]/g, '')) ? '[redacted]' : v;
  return out;
}

/** An over-long id from an SP must not make the audited operation fail. */
function clip(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}
