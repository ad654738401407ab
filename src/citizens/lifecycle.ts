import { createHash, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditLog } from '../audit/log';
import { ActivationCodeEntity, CitizenEntity, PasswordHistoryEntity, type ActivationCodeRow, type CitizenRow } from '../db/entities';
import { PasarelaError } from '../errors';
import type { Notifier, NotifyMessage } from '../notify/types';
import type { CitizensConfig } from './config';
import { maskDni, normalizeDni } from './nif';
import { checkPasswordPolicy, hashPassword, PasswordPolicyError, verifyPassword } from './password';
import { invalid, isCalendarDate, isUniqueViolation, toCitizen, validateNewCitizen, type AuditContext } from './repository';
import type { Citizen, RegistrationLevel } from './types';

/** How a registration was made (Cl@ve: office, online with a certificate, video call, invitation letter). */
export type RegistrationChannel = 'office' | 'certificate' | 'video' | 'letter';
export const REGISTRATION_CHANNELS: readonly RegistrationChannel[] = ['office', 'certificate', 'video', 'letter'];

/** Office and certificate registrations are advanced; video and letter ones basic. */
export function levelOf(channel: RegistrationChannel): RegistrationLevel {
  return channel === 'office' || channel === 'certificate' ? 'advanced' : 'basic';
}

export interface Registration {
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname?: string | null;
  dateOfBirth: string;
  mobile: string;
  email?: string | null;
  channel: RegistrationChannel;
  /** DNI validity date (YYYY-MM-DD), the Cl@ve PIN and recovery contrast datum. */
  dniValidityDate?: string | null;
}

/** How an activation code reached the citizen. `office`: on paper at the desk (the CLI prints it). */
export type CodeDelivery = 'office' | 'letter' | 'sms' | 'email';

export interface IssuedCode {
  citizen: Citizen;
  reference: string;
  delivery: CodeDelivery;
  expiresAt: Date;
  /** Only for `office` deliveries: the registrar hands it over. Never logged. */
  code?: string;
}

/** Why an activation code was refused. `wrong` is the only answer a wrong code ever gets. */
export type ActivationRefusal = 'wrong' | 'expired' | 'locked' | 'used' | 'malformed';

export class ActivationCodeError extends PasarelaError {
  constructor(readonly reason: ActivationRefusal) {
    super('ERR_ACTIVATION_CODE', `activation code refused: ${reason}`);
    this.name = 'ActivationCodeError';
  }
}

export type CodeCheck = { ok: true; citizen: Citizen; codeId: string } | { ok: false; reason: ActivationRefusal };

export interface LifecycleDeps {
  ds: DataSource;
  config: CitizensConfig;
  /** The raw channel: activation codes are sent by the registrar's action, outside the citizens' rate limits. */
  notifier: Notifier;
  /** Public URL of /account/activate, for the letter text. */
  activateUrl: string;
  now?: () => Date;
  audit?: AuditLog;
}

/** 16 characters from 32 (no 0/O, 1/I): 80 bits, read out or typed from a letter without ambiguity. */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 16;
const DAY_MS = 86_400_000;
/** An id no row has (ids are UUIDs): what the statements of a wrong activation code look up when there is nothing to count against. */
const NO_ROW = 'none';

function randomChars(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return s;
}

/** `ABCD-EFGH-JKLM-NPQR` */
export function formatActivationCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/** What people type: lower case, spaces, dashes. */
export function normalizeActivationCode(input: string): string {
  return input.toUpperCase().replace(/[\s\-.]/g, '');
}

/** The code is 80 random bits, so a plain SHA-256 (bound to the citizen) is enough: nothing to brute-force. */
function codeHash(citizenId: string, code: string): string {
  return createHash('sha256').update(`${citizenId}:${code}`).digest('base64url');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const DATE_FMT = new Intl.DateTimeFormat('es-ES', { timeZone: 'Europe/Madrid', day: '2-digit', month: '2-digit', year: 'numeric' });

/**
 * The Cl@ve Permanente services as operations on the registry: register, upgrade, re-issue the
 * activation code, activate, change, recover, deregister. Each is ONE database transaction with
 * its audit record in it; a code is consumed by the same transaction as the change it
 * authorises; a message that cannot be sent rolls the operation back (it is sent before the
 * commit, so a failed send leaves nothing behind). Slow work (scrypt) runs before the transaction.
 */
export class CitizenLifecycle {
  private readonly now: () => Date;
  private readonly audit: AuditLog;

  constructor(private readonly deps: LifecycleDeps) {
    this.now = deps.now ?? (() => new Date());
    this.audit = deps.audit ?? new AuditLog(deps.ds);
  }

  get config(): CitizensConfig {
    return this.deps.config;
  }

  /** Registration by a registrar (CLI, later the operator API): a pending citizen and an activation code. */
  async register(reg: Registration, ctx: AuditContext = {}): Promise<IssuedCode> {
    if (!REGISTRATION_CHANNELS.includes(reg.channel)) throw invalid('channel', `one of ${REGISTRATION_CHANNELS.join(', ')}`);
    const level = levelOf(reg.channel);
    const v = validateNewCitizen({ ...reg, registrationLevel: level });
    const today = this.now().toISOString().slice(0, 10);
    if (reg.dateOfBirth > today) throw invalid('birth', `the birth date ${reg.dateOfBirth} is in the future`);
    if (reg.dniValidityDate && !isCalendarDate(reg.dniValidityDate)) throw invalid('validity', 'expected a YYYY-MM-DD date');
    if (!/^\+\d{8,15}$/.test(v.mobile)) throw invalid('mobile', 'expected a mobile number in international form, such as +34600000000');
    const delivery: CodeDelivery = reg.channel === 'office' ? 'office' : reg.channel === 'letter' ? 'letter' : reg.channel === 'video' && v.email ? 'email' : 'sms';
    const actor = ctx.actor ?? 'registrar';
    try {
      return await this.deps.ds.transaction(async (m) => {
        const repo = m.getRepository(CitizenEntity);
        const existing = await repo.findOneBy({ dni: v.dni.value });
        if (existing && existing.status !== 'deregistered') {
          throw new PasarelaError('ERR_CITIZEN_EXISTS', `DNI/NIE ${maskDni(v.dni.value)} already has an active registration (status ${existing.status}); nothing was written`);
        }
        const now = this.now();
        const reference = `REG-${randomChars(4)}-${randomChars(4)}`;
        const fields = {
          givenName: v.givenName,
          firstSurname: v.firstSurname,
          secondSurname: v.secondSurname,
          dateOfBirth: reg.dateOfBirth,
          mobile: v.mobile,
          email: v.email,
          registrationLevel: level,
          status: 'pending' as const,
          dniValidityDate: reg.dniValidityDate ?? null,
          failedPasswordAttempts: 0,
          passwordHash: null,
          lockedAt: null,
          updatedAt: now,
          passwordSetAt: null,
          registrationRef: reference,
          registrationChannel: reg.channel,
          deregisteredAt: null,
        };
        let row: CitizenRow;
        if (existing) {
          // Registering again after deregistration: the same row (and audit trail), new data.
          await repo.update({ id: existing.id }, fields);
          row = { ...existing, ...fields };
        } else {
          row = { id: randomUUID(), dni: v.dni.value, createdAt: now, ...fields };
          await repo.insert({ ...row });
        }
        await this.audit.record(
          {
            type: 'citizen.registered',
            actor,
            citizenId: row.id,
            requestId: ctx.requestId,
            detail: { who: maskDni(row.dni), kind: v.dni.kind, channel: reg.channel, registrationLevel: level, reference, again: !!existing, address: ctx.address },
          },
          m,
        );
        return this.issueCode(m, row, delivery, { actor, requestId: ctx.requestId, address: ctx.address }, 'activation_code.issued');
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new PasarelaError('ERR_CITIZEN_EXISTS', `DNI/NIE ${maskDni(v.dni.value)} already has an active registration; nothing was written`);
      throw err;
    }
  }

  /** A basic registration made advanced (identity checked at an office or with a certificate). */
  async upgrade(dniInput: string, channel: RegistrationChannel, ctx: AuditContext = {}): Promise<Citizen> {
    if (channel !== 'office' && channel !== 'certificate') throw invalid('channel', 'office or certificate (the channels that give an advanced registration)');
    const dni = normalizeDni(dniInput);
    return this.deps.ds.transaction(async (m) => {
      const row = await this.liveRow(m, dni);
      if (row.registrationLevel === 'advanced') throw new PasarelaError('ERR_CITIZEN_INVALID', `DNI/NIE ${maskDni(dni)} is already registered at the advanced level`);
      const now = this.now();
      await m.getRepository(CitizenEntity).update({ id: row.id }, { registrationLevel: 'advanced', registrationChannel: channel, updatedAt: now });
      await this.audit.record(
        { type: 'citizen.upgraded', actor: ctx.actor ?? 'registrar', citizenId: row.id, requestId: ctx.requestId, detail: { channel, from: 'basic', to: 'advanced', address: ctx.address } },
        m,
      );
      return toCitizen({ ...row, registrationLevel: 'advanced', registrationChannel: channel, updatedAt: now });
    });
  }

  /** A new activation code; every earlier one stops working in the same transaction. */
  async reissueCode(dniInput: string, ctx: AuditContext = {}): Promise<IssuedCode> {
    const dni = normalizeDni(dniInput);
    return this.deps.ds.transaction(async (m) => {
      const row = await this.liveRow(m, dni);
      const channel = (row.registrationChannel ?? 'office') as RegistrationChannel;
      const delivery: CodeDelivery = channel === 'office' ? 'office' : channel === 'letter' ? 'letter' : channel === 'video' && row.email ? 'email' : 'sms';
      return this.issueCode(m, row, delivery, { actor: ctx.actor ?? 'registrar', requestId: ctx.requestId, address: ctx.address }, 'activation_code.reissued');
    });
  }

  /**
   * Check DNI/NIE + activation code without consuming it (the first step of /account/activate).
   * A wrong code counts against the newest code of that citizen (5 lock it); an unknown DNI costs
   * the same audited transaction. Only the right code learns that it expired, was used or locked.
   *
   * A wrong code runs the same statements in the same order whoever the DNI belongs to (unknown,
   * not activated, active, locked, deregistered): the citizen, its newest codes, the counted
   * attempt and its re-read, the audit record. The UPDATE and the re-read match no row when there
   * is no active code to count against. Only the try that reaches the limit adds two more (the lock
   * and its audit record), and only a DNI with a live code can reach it. An unknown DNI used to skip the last three, and answered
   * 0.2–0.7 ms sooner than a registered one (`npm run bench:enumeration`, 3 Dec 2026).
   */
  async checkActivationCode(dniInput: string, codeInput: string, ctx: AuditContext = {}): Promise<CodeCheck> {
    const dni = normalizeDni(dniInput);
    const code = normalizeActivationCode(codeInput);
    if (!new RegExp(`^[${CODE_ALPHABET}]{${CODE_LENGTH}}$`).test(code)) return { ok: false, reason: 'malformed' };
    const max = this.deps.config.activationCode.maxAttempts;
    return this.deps.ds.transaction(async (m): Promise<CodeCheck> => {
      // Two raw columns, not an entity: hydrating a found row cost a known DNI ~0.3 ms more than an unknown one.
      const citizen = await m
        .getRepository(CitizenEntity)
        .createQueryBuilder('c')
        .select('c.id', 'id')
        .addSelect('c.status', 'status')
        .where('c.dni = :dni', { dni })
        .getRawOne<Pick<CitizenRow, 'id' | 'status'>>();
      const newest = await this.latestCode(m, citizen?.id ?? NO_ROW);
      const latest = citizen && citizen.status !== 'deregistered' ? newest : null;
      const typed = codeHash(citizen?.id ?? 'nobody', code);
      const base = { actor: ctx.actor ?? 'citizen', citizenId: citizen?.id, requestId: ctx.requestId };
      if (latest && sameHash(latest.codeHash, typed)) {
        const reason: ActivationRefusal | null =
          latest.status === 'used' ? 'used' : latest.status === 'locked' ? 'locked' : latest.status !== 'active' ? 'wrong' : this.now() >= latest.expiresAt ? 'expired' : null;
        if (reason) {
          await this.audit.record({ ...base, type: 'activation_code.failed', detail: { reason, address: ctx.address } }, m);
          return { ok: false, reason };
        }
        await this.audit.record({ ...base, type: 'activation_code.checked', detail: { address: ctx.address } }, m);
        return { ok: true, citizen: toCitizen(await this.rowById(m, citizen!.id)), codeId: latest.id };
      }
      const counted = latest?.status === 'active' ? latest.id : NO_ROW;
      await m
        .createQueryBuilder()
        .update(ActivationCodeEntity)
        .set({ failedAttempts: () => 'failed_attempts + 1' })
        .where('id = :id AND status = :active', { id: counted, active: 'active' })
        .execute();
      const after = await m.getRepository(ActivationCodeEntity).findOneBy({ id: counted });
      const detail =
        !citizen || !latest
          ? { reason: citizen ? 'no_code' : 'unknown', who: maskDni(dni), address: ctx.address }
          : after
            ? { reason: 'wrong', attempt: after.failedAttempts, address: ctx.address }
            : { reason: 'wrong', codeStatus: latest.status, address: ctx.address };
      await this.audit.record({ ...base, type: 'activation_code.failed', detail }, m);
      if (after && after.failedAttempts >= max && after.status === 'active') {
        await m.getRepository(ActivationCodeEntity).update({ id: after.id, status: 'active' }, { status: 'locked' });
        await this.audit.record({ ...base, type: 'activation_code.locked', actor: 'system', detail: { attempts: after.failedAttempts } }, m);
      }
      return { ok: false, reason: 'wrong' };
    });
  }

  /**
   * Activation: set the first password with a code checked by `checkActivationCode`. The code is
   * marked used in the transaction that sets the password, so it is consumed only if that commits.
   */
  async activate(citizenId: string, codeId: string, password: string, confirm: string, ctx: AuditContext = {}): Promise<Citizen> {
    const row = await this.rowById(this.deps.ds.manager, citizenId);
    // A re-issued code for an account that already has passwords: the history rule applies too.
    const passwordHash = await this.acceptablePassword(row, password, confirm, row.status !== 'pending');
    return this.deps.ds.transaction(async (m) => {
      const code = await m.getRepository(ActivationCodeEntity).findOneBy({ id: codeId, citizenId });
      if (!code || code.status !== 'active') throw new ActivationCodeError(code?.status === 'used' ? 'used' : code?.status === 'locked' ? 'locked' : 'wrong');
      if (this.now() >= code.expiresAt) throw new ActivationCodeError('expired');
      const now = this.now();
      const consumed = await m
        .createQueryBuilder()
        .update(ActivationCodeEntity)
        .set({ status: 'used', usedAt: now })
        .where('id = :id AND status = :active', { id: codeId, active: 'active' })
        .execute();
      if (consumed.affected !== 1) throw new ActivationCodeError('used');
      const citizen = await this.writePassword(m, row, passwordHash, ['pending', 'active', 'locked'], now);
      await this.audit.record(
        { type: 'citizen.activated', actor: ctx.actor ?? 'citizen', citizenId, requestId: ctx.requestId, detail: { previousStatus: row.status, address: ctx.address } },
        m,
      );
      return citizen;
    });
  }

  /** Change a known password (the caller has checked the current one, and the SMS code where needed). */
  async changePassword(citizenId: string, password: string, confirm: string, ctx: AuditContext & { reason?: 'expired' } = {}): Promise<Citizen> {
    const row = await this.rowById(this.deps.ds.manager, citizenId);
    const passwordHash = await this.acceptablePassword(row, password, confirm, true);
    return this.deps.ds.transaction(async (m) => {
      const citizen = await this.writePassword(m, row, passwordHash, ['active'], this.now());
      await this.audit.record(
        { type: 'citizen.password_changed', actor: ctx.actor ?? 'citizen', citizenId, requestId: ctx.requestId, detail: { reason: ctx.reason ?? 'citizen', address: ctx.address } },
        m,
      );
      return citizen;
    });
  }

  /** Recovery of a forgotten or locked password (identity proven by DNI validity date + SMS code, or a certificate). */
  async recover(citizenId: string, password: string, confirm: string, ctx: AuditContext & { proof?: string } = {}): Promise<Citizen> {
    const row = await this.rowById(this.deps.ds.manager, citizenId);
    const passwordHash = await this.acceptablePassword(row, password, confirm, true);
    return this.deps.ds.transaction(async (m) => {
      const citizen = await this.writePassword(m, row, passwordHash, ['active', 'locked'], this.now());
      const base = { actor: ctx.actor ?? 'citizen', citizenId, requestId: ctx.requestId };
      await this.audit.record({ ...base, type: 'citizen.recovered', detail: { proof: ctx.proof ?? 'validity_date+otp', previousStatus: row.status, address: ctx.address } }, m);
      if (row.status === 'locked') await this.audit.record({ ...base, type: 'citizen.unlocked', detail: { by: 'recovery' } }, m);
      return citizen;
    });
  }

  /**
   * Deregistration: the credentials go (password, history, codes), the row stays for the audit
   * trail and a later registration. The caller revokes the SSO sessions after the commit.
   */
  async deregister(citizenId: string, ctx: AuditContext & { proof?: string } = {}): Promise<Citizen> {
    return this.deps.ds.transaction(async (m) => {
      const row = await this.rowById(m, citizenId);
      if (row.status === 'deregistered') throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the citizen is already deregistered');
      const now = this.now();
      const changed = await m
        .createQueryBuilder()
        .update(CitizenEntity)
        .set({ status: 'deregistered', passwordHash: null, passwordSetAt: null, failedPasswordAttempts: 0, lockedAt: null, deregisteredAt: now, updatedAt: now })
        .where('id = :id AND status <> :gone', { id: citizenId, gone: 'deregistered' })
        .execute();
      if (changed.affected !== 1) throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the citizen is already deregistered');
      await m.getRepository(ActivationCodeEntity).update({ citizenId, status: 'active' }, { status: 'revoked' });
      await m.getRepository(PasswordHistoryEntity).delete({ citizenId });
      await this.audit.record(
        { type: 'citizen.deregistered', actor: ctx.actor ?? 'citizen', citizenId, requestId: ctx.requestId, detail: { previousStatus: row.status, proof: ctx.proof ?? 'password+otp', address: ctx.address } },
        m,
      );
      return toCitizen({ ...row, status: 'deregistered', passwordHash: null, passwordSetAt: null, deregisteredAt: now, updatedAt: now });
    });
  }

  /** True when the citizen's password is older than `passwordValidityDays`. */
  passwordExpired(citizen: Pick<Citizen, 'passwordSetAt'>): boolean {
    if (!citizen.passwordSetAt) return false;
    return this.now().getTime() - new Date(citizen.passwordSetAt).getTime() >= this.deps.config.passwordValidityDays * DAY_MS;
  }

  /** Record that a login met an expired password (the change flow follows). */
  async recordExpired(citizenId: string, ctx: AuditContext = {}): Promise<void> {
    await this.deps.ds.transaction((m) => this.audit.record({ type: 'citizen.password_expired', actor: 'system', citizenId, requestId: ctx.requestId, detail: {} }, m));
  }

  // ---- internals ----

  private async issueCode(m: EntityManager, row: CitizenRow, delivery: CodeDelivery, ctx: AuditContext, type: string): Promise<IssuedCode> {
    const now = this.now();
    const days = delivery === 'letter' ? this.deps.config.activationCode.letterDays : this.deps.config.activationCode.otherDays;
    const expiresAt = new Date(now.getTime() + days * DAY_MS);
    const code = randomChars(CODE_LENGTH);
    const codes = m.getRepository(ActivationCodeEntity);
    const revoked = await codes.update({ citizenId: row.id, status: 'active' }, { status: 'revoked' });
    const stored: ActivationCodeRow = {
      id: randomUUID(),
      citizenId: row.id,
      codeHash: codeHash(row.id, code),
      delivery,
      status: 'active',
      failedAttempts: 0,
      expiresAt,
      createdAt: now,
      usedAt: null,
    };
    await codes.insert(stored);
    const reference = row.registrationRef ?? row.id;
    await this.audit.record(
      { type, actor: ctx.actor, citizenId: row.id, requestId: ctx.requestId, detail: { delivery, expiresAt: expiresAt.toISOString(), reference, revoked: revoked.affected ?? 0, address: ctx.address } },
      m,
    );
    if (delivery !== 'office') {
      // Sent before the commit: if the channel fails, the transaction (citizen, code, audit) rolls back.
      const msg = this.codeMessage(row, delivery, formatActivationCode(code), expiresAt);
      try {
        await this.deps.notifier.send(msg);
      } catch (err) {
        throw new PasarelaError('ERR_NOTIFY_FAILED', `the activation code could not be sent by ${delivery} (${err instanceof Error ? err.message : String(err)}); nothing was changed, try again`, { cause: err });
      }
    }
    return { citizen: toCitizen(row), reference, delivery, expiresAt, code: delivery === 'office' ? formatActivationCode(code) : undefined };
  }

  private codeMessage(row: CitizenRow, delivery: Exclude<CodeDelivery, 'office'>, code: string, expiresAt: Date): NotifyMessage {
    const text = `Cl@ve: su código de activación es ${code}. Válido hasta el ${DATE_FMT.format(expiresAt)}. Active su Cl@ve Permanente en ${this.deps.activateUrl}`;
    const to = delivery === 'email' ? row.email! : delivery === 'sms' ? row.mobile : `letter:${row.registrationRef ?? row.id}`;
    return { to, channel: delivery, text, code };
  }

  private async latestCode(m: EntityManager, citizenId: string): Promise<ActivationCodeRow | null> {
    // At most one is active (issuing revokes the others); codes issued in the same millisecond must not confuse the order.
    const rows = await m.getRepository(ActivationCodeEntity).find({ where: { citizenId }, order: { createdAt: 'DESC' }, take: 20 });
    return rows.find((r) => r.status === 'active') ?? rows[0] ?? null;
  }

  private async liveRow(m: EntityManager, dni: string): Promise<CitizenRow> {
    const row = await m.getRepository(CitizenEntity).findOneBy({ dni });
    if (!row || row.status === 'deregistered') throw new PasarelaError('ERR_CITIZEN_NOT_FOUND', `no active registration for DNI/NIE ${maskDni(dni)}`);
    return row;
  }

  private async rowById(m: EntityManager, id: string): Promise<CitizenRow> {
    const row = await m.getRepository(CitizenEntity).findOneBy({ id });
    if (!row) throw new PasarelaError('ERR_CITIZEN_NOT_FOUND', `no citizen with id ${id}`);
    if (row.status === 'deregistered') throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the citizen is deregistered');
    return row;
  }

  /** Policy, confirmation and (when `history`) the last N passwords; returns the new hash. All before any transaction. */
  private async acceptablePassword(row: CitizenRow, password: string, confirm: string, history: boolean): Promise<string> {
    const policy = checkPasswordPolicy(password, row);
    const reasons = policy.ok ? [] : [...policy.reasons];
    if (password !== confirm) reasons.push('mismatch');
    if (reasons.length > 0) throw new PasswordPolicyError(reasons);
    if (history && (await this.inHistory(row, password))) throw new PasswordPolicyError(['reused']);
    return hashPassword(password);
  }

  private async inHistory(row: CitizenRow, password: string): Promise<boolean> {
    const keep = this.deps.config.passwordHistory;
    const previous = await this.deps.ds.getRepository(PasswordHistoryEntity).find({ where: { citizenId: row.id }, order: { createdAt: 'DESC' }, take: keep });
    const hashes = new Set(previous.map((p) => p.passwordHash));
    if (row.passwordHash) hashes.add(row.passwordHash);
    for (const h of [...hashes].slice(0, keep)) if (await verifyPassword(password, h)) return true;
    return false;
  }

  private async writePassword(m: EntityManager, row: CitizenRow, passwordHash: string, from: Citizen['status'][], now: Date): Promise<Citizen> {
    const changed = await m
      .createQueryBuilder()
      .update(CitizenEntity)
      .set({ passwordHash, status: 'active', failedPasswordAttempts: 0, lockedAt: null, passwordSetAt: now, updatedAt: now })
      .where('id = :id AND status IN (:...from)', { id: row.id, from })
      .execute();
    if (changed.affected !== 1) throw new PasarelaError('ERR_CITIZEN_INACTIVE', 'the account changed meanwhile (deregistered or locked); start again');
    const history = m.getRepository(PasswordHistoryEntity);
    await history.insert({ id: randomUUID(), citizenId: row.id, passwordHash, createdAt: now });
    const all = await history.find({ where: { citizenId: row.id }, order: { createdAt: 'DESC' } });
    const old = all.slice(this.deps.config.passwordHistory).map((h) => h.id);
    if (old.length > 0) await history.delete(old);
    return toCitizen({ ...row, passwordHash, status: 'active', failedPasswordAttempts: 0, lockedAt: null, passwordSetAt: now, updatedAt: now });
  }
}
