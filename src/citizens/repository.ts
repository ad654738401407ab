import { randomBytes, randomUUID } from 'node:crypto';
import { QueryFailedError, type DataSource, type EntityManager } from 'typeorm';
import { AuditLog } from '../audit/log';
import { CitizenEntity, type CitizenRow } from '../db/entities';
import { PasarelaError } from '../errors';
import { maskDni, normalizeDni, validateDniNie } from './nif';
import { checkPasswordPolicy, hashPassword, PasswordPolicyError, verifyPassword } from './password';
import type { Citizen, NewCitizen } from './types';

/** Consecutive wrong passwords that lock an account (Cl@ve Permanente rule). */
export const MAX_FAILED_PASSWORD_ATTEMPTS = 5;

export type PasswordCheck =
  | { ok: true; citizen: Citizen }
  /**
   * `locked`: the account is locked and the password given is its right one (or this was the
   * try that locked it). `locked_bad_password`: locked, and the password is wrong.
   */
  | { ok: false; reason: 'unknown' | 'bad_password' | 'locked' | 'locked_bad_password' | 'inactive'; remainingAttempts?: number };

/** Who acts and for which login, for the audit trail. */
export interface AuditContext {
  actor?: string;
  requestId?: string;
  /** Client address (account pages), kept in the audit detail. */
  address?: string;
  /** The login this check is part of: method and SP, kept in the audit detail of the outcome. */
  login?: { method: string; sp?: string };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isCalendarDate(s: string): boolean {
  if (!DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}

export function invalid(field: string, why: string): PasarelaError {
  return new PasarelaError('ERR_CITIZEN_INVALID', `${field}: ${why}`);
}

export function toCitizen(row: CitizenRow): Citizen {
  return {
    id: row.id,
    dni: row.dni,
    givenName: row.givenName,
    firstSurname: row.firstSurname,
    secondSurname: row.secondSurname,
    dateOfBirth: row.dateOfBirth,
    mobile: row.mobile,
    email: row.email,
    registrationLevel: row.registrationLevel,
    status: row.status,
    dniValidityDate: row.dniValidityDate,
    failedPasswordAttempts: row.failedPasswordAttempts,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    passwordSetAt: row.passwordSetAt ?? null,
    registrationRef: row.registrationRef ?? null,
    registrationChannel: row.registrationChannel ?? null,
  };
}

export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const driverError: unknown = err.driverError;
  const code = driverError && typeof driverError === 'object' && 'code' in driverError ? String(driverError.code) : '';
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Checks and normalises a registration's fields; throws ERR_CITIZEN_INVALID naming the field.
 * Shared by `create` and the lifecycle's `register`.
 */
export function validateNewCitizen(n: NewCitizen) {
    const dni = validateDniNie(n.dni);
    if (!dni.ok) throw invalid('dni', dni.reason);
    const givenName = n.givenName.trim();
    const firstSurname = n.firstSurname.trim();
    const secondSurname = n.secondSurname?.trim() || null;
    if (!givenName) throw invalid('givenName', 'required');
    if (!firstSurname) throw invalid('firstSurname', 'required');
    if (!isCalendarDate(n.dateOfBirth)) throw invalid('dateOfBirth', 'expected a YYYY-MM-DD date');
    if (n.dniValidityDate && !isCalendarDate(n.dniValidityDate)) throw invalid('dniValidityDate', 'expected a YYYY-MM-DD date');
    const mobile = n.mobile.replace(/[\s-]/g, '');
    if (!/^\+?\d{6,15}$/.test(mobile)) throw invalid('mobile', 'expected a phone number such as +34600000000');
    const email = n.email?.trim() || null;
    if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) throw invalid('email', 'not an e-mail address');
    if (n.registrationLevel !== 'basic' && n.registrationLevel !== 'advanced') throw invalid('registrationLevel', 'basic or advanced');
  return { dni, givenName, firstSurname, secondSurname, mobile, email };
}

/** Compared against when the DNI is unknown or cannot log in, so that case costs the same scrypt as a real one. */
let decoyHash: Promise<string> | undefined;
const decoy = (): Promise<string> => (decoyHash ??= hashPassword(randomBytes(16).toString('hex')));

/**
 * The citizen registry. Every change and every password check writes its audit event in the
 * same transaction as the change. Rows never leave this class with their password hash.
 */
export class CitizenRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly audit = new AuditLog(ds),
  ) {}

  async create(n: NewCitizen, ctx: AuditContext = {}): Promise<Citizen> {
    const { dni, givenName, firstSurname, secondSurname, mobile, email } = validateNewCitizen(n);

    let passwordHash: string | null = null;
    if (n.password !== undefined) {
      const policy = checkPasswordPolicy(n.password, { givenName, firstSurname, secondSurname, dni: dni.value });
      if (!policy.ok) throw new PasswordPolicyError(policy.reasons);
      passwordHash = await hashPassword(n.password); // slow: outside the transaction
    }
    const now = new Date();
    const row: CitizenRow = {
      id: randomUUID(),
      dni: dni.value,
      givenName,
      firstSurname,
      secondSurname,
      dateOfBirth: n.dateOfBirth,
      mobile,
      email,
      registrationLevel: n.registrationLevel,
      status: passwordHash ? 'active' : 'pending',
      dniValidityDate: n.dniValidityDate ?? null,
      failedPasswordAttempts: 0,
      passwordHash,
      lockedAt: null,
      createdAt: now,
      updatedAt: now,
      passwordSetAt: passwordHash ? now : null,
    };
    try {
      await this.ds.transaction(async (m) => {
        await m.getRepository(CitizenEntity).insert({ ...row });
        await this.audit.record(
          {
            type: 'citizen.registered',
            actor: ctx.actor ?? 'system',
            citizenId: row.id,
            requestId: ctx.requestId,
            detail: { who: maskDni(row.dni), kind: dni.kind, registrationLevel: row.registrationLevel, status: row.status },
          },
          m,
        );
      });
    } catch (err) {
      // The unique index decides, so two concurrent registrations cannot both succeed.
      if (isUniqueViolation(err)) throw new PasarelaError('ERR_CITIZEN_EXISTS', `a citizen with DNI/NIE ${maskDni(row.dni)} is already registered`);
      throw err;
    }
    return toCitizen(row);
  }

  async findByDni(dni: string): Promise<Citizen | null> {
    const row = await this.rowByDni(normalizeDni(dni));
    return row ? toCitizen(row) : null;
  }

  async findById(id: string): Promise<Citizen | null> {
    const row = await this.ds.getRepository(CitizenEntity).findOneBy({ id });
    return row ? toCitizen(row) : null;
  }

  /**
   * Cl@ve Permanente password check with lockout. The scrypt runs outside any transaction;
   * the counter is then changed by a single UPDATE guarded by `status = 'active'`, so
   * concurrent attempts are each counted once and the account locks exactly at the limit.
   *
   * Every outcome costs one scrypt and one transaction with its audit record (an unknown DNI
   * or an account without a password against a decoy hash), so the time an answer takes says
   * nothing about the registry. A locked account checks the real password: only who knows it
   * learns that the account is locked (`locked`); a wrong one is `locked_bad_password`, which
   * callers answer exactly like an unknown DNI.
   */
  async verifyPassword(dniInput: string, password: string, ctx: AuditContext = {}): Promise<PasswordCheck> {
    const dni = normalizeDni(dniInput);
    const actor = ctx.actor ?? 'citizen';
    const login = { ...(ctx.login ? { method: ctx.login.method, sp: ctx.login.sp } : {}), ...(ctx.address ? { address: ctx.address } : {}) };
    const row = await this.rowByDni(dni);
    const usable = row !== null && row.passwordHash !== null && (row.status === 'active' || row.status === 'locked');
    const good = await verifyPassword(password, usable ? row.passwordHash! : await decoy());
    if (!usable || row.status === 'locked') {
      const reason = !row ? 'unknown' : !usable ? 'inactive' : good ? 'locked' : 'locked_bad_password';
      await this.ds.transaction((m) =>
        this.audit.record(
          { type: 'auth.password.failed', actor, citizenId: row?.id, requestId: ctx.requestId, detail: row ? { reason, ...login } : { reason, who: maskDni(dni), ...login } },
          m,
        ),
      );
      return { ok: false, reason };
    }

    const base = { actor, citizenId: row.id, requestId: ctx.requestId };
    return this.ds.transaction(async (m): Promise<PasswordCheck> => {
      const repo = m.getRepository(CitizenEntity);
      const now = new Date();
      const changed = await m
        .createQueryBuilder()
        .update(CitizenEntity)
        .set(good ? { failedPasswordAttempts: 0, updatedAt: now } : { failedPasswordAttempts: () => 'failed_password_attempts + 1', updatedAt: now })
        .where('id = :id AND status = :active', { id: row.id, active: 'active' })
        .execute();
      const current = await repo.findOneByOrFail({ id: row.id });
      if (changed.affected !== 1) {
        // Locked (or deactivated) by someone else since we read it: that attempt wins.
        const reason = current.status === 'locked' ? (good ? 'locked' : 'locked_bad_password') : 'inactive';
        await this.audit.record({ ...base, type: 'auth.password.failed', detail: { reason, ...login } }, m);
        return { ok: false, reason };
      }
      if (good) {
        await this.audit.record({ ...base, type: 'auth.password.ok', detail: login }, m);
        return { ok: true, citizen: toCitizen(current) };
      }
      const attempt = current.failedPasswordAttempts;
      await this.audit.record({ ...base, type: 'auth.password.failed', detail: { reason: 'bad_password', attempt, ...login } }, m);
      if (attempt < MAX_FAILED_PASSWORD_ATTEMPTS) {
        return { ok: false, reason: 'bad_password', remainingAttempts: MAX_FAILED_PASSWORD_ATTEMPTS - attempt };
      }
      const locked = await m
        .createQueryBuilder()
        .update(CitizenEntity)
        .set({ status: 'locked', lockedAt: now, updatedAt: now })
        .where('id = :id AND status = :active', { id: row.id, active: 'active' })
        .execute();
      if (locked.affected === 1) {
        await this.audit.record({ ...base, type: 'citizen.locked', detail: { reason: 'too_many_failed_passwords', attempts: attempt } }, m);
      }
      return { ok: false, reason: 'locked', remainingAttempts: 0 };
    });
  }

  /**
   * Set a new password (activation, change, recovery): checks the policy, makes the citizen
   * active and clears any lock and failure count.
   */
  async setPassword(citizenId: string, password: string, ctx: AuditContext = {}): Promise<Citizen> {
    const row = await this.ds.getRepository(CitizenEntity).findOneBy({ id: citizenId });
    if (!row) throw new PasarelaError('ERR_CITIZEN_NOT_FOUND', `no citizen with id ${citizenId}`);
    if (row.status === 'deregistered') throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the citizen is deregistered');
    const policy = checkPasswordPolicy(password, row);
    if (!policy.ok) throw new PasswordPolicyError(policy.reasons);
    const passwordHash = await hashPassword(password);
    return this.ds.transaction(async (m) => {
      const now = new Date();
      const changed = await m
        .createQueryBuilder()
        .update(CitizenEntity)
        .set({ passwordHash, status: 'active', failedPasswordAttempts: 0, lockedAt: null, updatedAt: now, passwordSetAt: now })
        .where('id = :id AND status <> :gone', { id: citizenId, gone: 'deregistered' })
        .execute();
      if (changed.affected !== 1) throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the citizen is deregistered');
      await this.audit.record(
        { type: 'citizen.password_changed', actor: ctx.actor ?? 'citizen', citizenId, requestId: ctx.requestId, detail: { previousStatus: row.status } },
        m,
      );
      return toCitizen(await m.getRepository(CitizenEntity).findOneByOrFail({ id: citizenId }));
    });
  }

  private rowByDni(dni: string, manager: EntityManager = this.ds.manager): Promise<CitizenRow | null> {
    return manager.getRepository(CitizenEntity).findOneBy({ dni });
  }
}
