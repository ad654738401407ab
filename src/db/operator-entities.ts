import { EntitySchema } from 'typeorm';

/**
 * Tables of the operator features (migration 1700000000002-Operator): admin API keys, metadata
 * sources (per-SP URLs and signed aggregates) with their refresh status, and the trust-list
 * version every broker node polls to pick up changes without a restart.
 */

export type AdminRole = 'operator' | 'registrar' | 'auditor';

export interface AdminTokenRow {
  id: string;
  name: string;
  role: AdminRole;
  /** SHA-256 (hex) of the whole token; the token itself is printed once and never stored. */
  tokenHash: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export const AdminTokenEntity = new EntitySchema<AdminTokenRow>({
  name: 'AdminToken',
  tableName: 'admin_tokens',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    name: { type: 'varchar', length: 255 },
    role: { type: 'varchar', length: 16 },
    tokenHash: { name: 'token_hash', type: 'varchar', length: 64, unique: true },
    createdAt: { name: 'created_at', type: Date },
    revokedAt: { name: 'revoked_at', type: Date, nullable: true },
  },
});

export type MetadataSourceKind = 'sp' | 'aggregate';
export type RefreshStatus = 'never' | 'ok' | 'failed';

export interface MetadataSourceRow {
  id: string;
  kind: MetadataSourceKind;
  url: string;
  /** kind "sp": the one SP this URL describes. */
  entityId: string | null;
  /** kind "aggregate": PEM certificate the aggregate's signature must verify against. */
  pinnedCertPem: string | null;
  /** JSON policy override applied to SPs created from this source. */
  policy: string;
  status: RefreshStatus;
  lastError: string | null;
  lastAttemptAt: Date | null;
  lastSuccessAt: Date | null;
  validUntil: Date | null;
  createdAt: Date;
}

export const MetadataSourceEntity = new EntitySchema<MetadataSourceRow>({
  name: 'MetadataSource',
  tableName: 'metadata_sources',
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    kind: { type: 'varchar', length: 16 },
    url: { type: 'varchar', length: 2048 },
    entityId: { name: 'entity_id', type: 'varchar', length: 1024, nullable: true },
    pinnedCertPem: { name: 'pinned_cert_pem', type: 'text', nullable: true },
    policy: { type: 'text' },
    status: { type: 'varchar', length: 16 },
    lastError: { name: 'last_error', type: 'text', nullable: true },
    lastAttemptAt: { name: 'last_attempt_at', type: Date, nullable: true },
    lastSuccessAt: { name: 'last_success_at', type: Date, nullable: true },
    validUntil: { name: 'valid_until', type: Date, nullable: true },
    createdAt: { name: 'created_at', type: Date },
  },
});

export interface TrustVersionRow {
  id: number;
  version: number;
}

export const TrustVersionEntity = new EntitySchema<TrustVersionRow>({
  name: 'TrustVersion',
  tableName: 'trust_version',
  columns: {
    id: { type: 'int', primary: true },
    version: { type: 'int' },
  },
});

export const OPERATOR_ENTITIES = [AdminTokenEntity, MetadataSourceEntity, TrustVersionEntity];
