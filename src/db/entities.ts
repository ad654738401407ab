import { EntitySchema } from 'typeorm';
import type { CitizenStatus, RegistrationLevel } from '../citizens/types';
import { OPERATOR_ENTITIES } from './operator-entities';

/*
 * Portable column types. Timestamps are declared as `Date`, which typeorm maps per driver:
 * SQLite stores a UTC text `YYYY-MM-DD HH:MM:SS.SSS` (sortable), PostgreSQL a `timestamptz`
 * (the migration creates exactly those). Calendar dates (birth, DNI validity) are plain
 * `YYYY-MM-DD` strings so no time zone can shift them.
 */

export interface CitizenRow {
  id: string;
  dni: string;
  givenName: string;
  firstSurname: string;
  secondSurname: string | null;
  dateOfBirth: string;
  mobile: string;
  email: string | null;
  registrationLevel: RegistrationLevel;
  status: CitizenStatus;
  dniValidityDate: string | null;
  failedPasswordAttempts: number;
  /** scrypt encoded string (citizens/password); null until activation. */
  passwordHash: string | null;
  lockedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** When the current password was set (expiry counts from here); null without a password. Migration 1700000000001. */
  passwordSetAt?: Date | null;
  /** Reference of the current registration (printed for the registrar and the citizen). */
  registrationRef?: string | null;
  /** How the current registration was made: office, certificate, video, letter (null: seeded or `citizen add`). */
  registrationChannel?: string | null;
  deregisteredAt?: Date | null;
}

export const CitizenEntity = new EntitySchema<CitizenRow>({
  name: 'Citizen',
  tableName: 'citizens',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    dni: { type: 'varchar', length: 16, unique: true },
    givenName: { name: 'given_name', type: 'varchar', length: 255 },
    firstSurname: { name: 'first_surname', type: 'varchar', length: 255 },
    secondSurname: { name: 'second_surname', type: 'varchar', length: 255, nullable: true },
    dateOfBirth: { name: 'date_of_birth', type: 'varchar', length: 10 },
    mobile: { type: 'varchar', length: 32 },
    email: { type: 'varchar', length: 320, nullable: true },
    registrationLevel: { name: 'registration_level', type: 'varchar', length: 16 },
    status: { type: 'varchar', length: 16 },
    dniValidityDate: { name: 'dni_validity_date', type: 'varchar', length: 10, nullable: true },
    failedPasswordAttempts: { name: 'failed_password_attempts', type: 'int', default: 0 },
    passwordHash: { name: 'password_hash', type: 'varchar', length: 255, nullable: true },
    lockedAt: { name: 'locked_at', type: Date, nullable: true },
    createdAt: { name: 'created_at', type: Date },
    updatedAt: { name: 'updated_at', type: Date },
    passwordSetAt: { name: 'password_set_at', type: Date, nullable: true },
    registrationRef: { name: 'registration_ref', type: 'varchar', length: 32, nullable: true },
    registrationChannel: { name: 'registration_channel', type: 'varchar', length: 16, nullable: true },
    deregisteredAt: { name: 'deregistered_at', type: Date, nullable: true },
  },
});

export interface ServiceProviderRow {
  entityId: string;
  displayName: string | null;
  metadataXml: string;
  /** JSON of the operator's policy override (merged over the defaults when loaded). */
  policy: string;
  /** Where it came from: `file:<name>`, `admin`, `demo`, ... */
  source: string;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const ServiceProviderEntity = new EntitySchema<ServiceProviderRow>({
  name: 'ServiceProvider',
  tableName: 'service_providers',
  columns: {
    entityId: { name: 'entity_id', type: 'varchar', length: 1024, primary: true },
    displayName: { name: 'display_name', type: 'varchar', length: 1024, nullable: true },
    metadataXml: { name: 'metadata_xml', type: 'text' },
    policy: { type: 'text' },
    source: { type: 'varchar', length: 255 },
    enabled: { type: 'boolean' },
    createdAt: { name: 'created_at', type: Date },
    updatedAt: { name: 'updated_at', type: Date },
  },
});

export interface AuditEventRow {
  id: string;
  at: Date;
  type: string;
  actor: string | null;
  citizenId: string | null;
  requestId: string | null;
  /** JSON object. */
  detail: string;
}

export const AuditEventEntity = new EntitySchema<AuditEventRow>({
  name: 'AuditEvent',
  tableName: 'audit_events',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    at: { type: Date },
    type: { type: 'varchar', length: 64 },
    actor: { type: 'varchar', length: 255, nullable: true },
    // No foreign key: the audit trail must outlive the rows it talks about.
    citizenId: { name: 'citizen_id', type: 'varchar', length: 36, nullable: true },
    requestId: { name: 'request_id', type: 'varchar', length: 512, nullable: true },
    detail: { type: 'text' },
  },
});

// Citizen lifecycle (issue 7, migration 1700000000001).

export type ActivationCodeStatus = 'active' | 'used' | 'revoked' | 'locked';

export interface ActivationCodeRow {
  id: string;
  citizenId: string;
  /** SHA-256 (base64url) of `<citizen id>:<code>`; the code itself is never stored. */
  codeHash: string;
  /** `letter`, `sms`, `email` or `office`: how it reached the citizen. */
  delivery: string;
  status: ActivationCodeStatus;
  failedAttempts: number;
  expiresAt: Date;
  createdAt: Date;
  usedAt: Date | null;
}

export const ActivationCodeEntity = new EntitySchema<ActivationCodeRow>({
  name: 'ActivationCode',
  tableName: 'activation_codes',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    citizenId: { name: 'citizen_id', type: 'varchar', length: 36 },
    codeHash: { name: 'code_hash', type: 'varchar', length: 64 },
    delivery: { type: 'varchar', length: 16 },
    status: { type: 'varchar', length: 16 },
    failedAttempts: { name: 'failed_attempts', type: 'int', default: 0 },
    expiresAt: { name: 'expires_at', type: Date },
    createdAt: { name: 'created_at', type: Date },
    usedAt: { name: 'used_at', type: Date, nullable: true },
  },
});

export interface PasswordHistoryRow {
  id: string;
  citizenId: string;
  passwordHash: string;
  createdAt: Date;
}

export const PasswordHistoryEntity = new EntitySchema<PasswordHistoryRow>({
  name: 'PasswordHistory',
  tableName: 'password_history',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    citizenId: { name: 'citizen_id', type: 'varchar', length: 36 },
    passwordHash: { name: 'password_hash', type: 'varchar', length: 255 },
    createdAt: { name: 'created_at', type: Date },
  },
});

export const ENTITIES = [CitizenEntity, ServiceProviderEntity, AuditEventEntity, ActivationCodeEntity, PasswordHistoryEntity, ...OPERATOR_ENTITIES];
