import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { spPolicySchema } from '../config/schema';
import { PasarelaError } from '../errors';
import { AuditLog } from '../audit/log';
import { ServiceProviderEntity, type ServiceProviderRow } from '../db/entities';
import { parseSpMetadata } from './metadata';
import type { ServiceProvider, SpPolicy, TrustRegistry } from './types';

/** Merge an SP's policy over the defaults and validate it; metadata can only tighten it. */
export function resolvePolicy(defaults: SpPolicy, override: Partial<SpPolicy>, source: string): SpPolicy {
  const parsed = spPolicySchema.safeParse({ ...defaults, ...override });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PasarelaError('ERR_SP_POLICY', `${source}: policy key "${issue.path.join('.') || '(root)'}": ${issue.message}`);
  }
  return parsed.data as SpPolicy;
}

export function buildServiceProvider(metadataXml: string, policy: SpPolicy, source: string): ServiceProvider {
  const meta = parseSpMetadata(metadataXml);
  if (policy.encryptAssertion && !meta.encryptionCert) {
    throw new PasarelaError('ERR_SP_POLICY', `${source}: policy asks to encrypt assertions but the metadata of ${meta.entityId} has no encryption key`);
  }
  if (meta.signingKeys.length === 0 && (policy.requireSignedRequests || meta.authnRequestsSigned)) {
    throw new PasarelaError('ERR_SP_METADATA', `${source}: ${meta.entityId} must sign its requests but its metadata has no signing key`);
  }
  if (!meta.acs.some((a) => a.binding === 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST')) {
    throw new PasarelaError('ERR_SP_METADATA', `${source}: ${meta.entityId} lists no HTTP-POST AssertionConsumerService, the only binding we answer with`);
  }
  return {
    entityId: meta.entityId,
    displayName: meta.displayName,
    acs: meta.acs,
    signingKeys: meta.signingKeys,
    encryptionCert: meta.encryptionCert,
    authnRequestsSigned: meta.authnRequestsSigned,
    metadataNameIdFormats: meta.nameIdFormats,
    // AuthnRequestsSigned="true" in the SP's own metadata can only make us stricter.
    policy: { ...policy, requireSignedRequests: policy.requireSignedRequests || meta.authnRequestsSigned },
  };
}

/**
 * The trust list: rows in the database (metadata XML + policy JSON), parsed once into an
 * in-memory map so that the hot path is one Map lookup however many SPs there are.
 */
export class DbTrustRegistry implements TrustRegistry {
  private cache = new Map<string, ServiceProvider>();

  constructor(
    private readonly ds: DataSource,
    private readonly defaults: SpPolicy,
    private readonly log: Logger,
    private readonly audit = new AuditLog(ds),
  ) {}

  get(entityId: string): ServiceProvider | undefined {
    return this.cache.get(entityId);
  }

  list(): ServiceProvider[] {
    return [...this.cache.values()];
  }

  async upsert(metadataXml: string, policyOverride: Partial<SpPolicy>, source: string): Promise<ServiceProvider> {
    const policy = resolvePolicy(this.defaults, policyOverride, source);
    const sp = buildServiceProvider(metadataXml, policy, source);
    await this.ds.transaction(async (m) => {
      const repo = m.getRepository(ServiceProviderEntity);
      const existing = await repo.findOneBy({ entityId: sp.entityId });
      const now = new Date();
      const row: ServiceProviderRow = {
        entityId: sp.entityId,
        displayName: sp.displayName ?? null,
        metadataXml,
        policy: JSON.stringify(policyOverride),
        source,
        enabled: true,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await repo.save(row);
      if (!existing || existing.metadataXml !== metadataXml || existing.policy !== row.policy) {
        await this.audit.record({ type: existing ? 'sp.updated' : 'sp.added', actor: source, detail: { entityId: sp.entityId } }, m);
      }
    });
    this.cache.set(sp.entityId, sp);
    return sp;
  }

  async remove(entityId: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.getRepository(ServiceProviderEntity).delete({ entityId });
      await this.audit.record({ type: 'sp.removed', detail: { entityId } }, m);
    });
    this.cache.delete(entityId);
  }

  async reload(): Promise<void> {
    const rows = await this.ds.getRepository(ServiceProviderEntity).findBy({ enabled: true });
    const next = new Map<string, ServiceProvider>();
    for (const row of rows) {
      try {
        const policy = resolvePolicy(this.defaults, JSON.parse(row.policy) as Partial<SpPolicy>, row.source);
        next.set(row.entityId, buildServiceProvider(row.metadataXml, policy, row.source));
      } catch (err) {
        // One bad SP must not take the others down; it is left out, loudly.
        this.log.error({ sp: row.entityId, err: (err as Error).message }, 'service provider left out of the trust list');
      }
    }
    this.cache = next;
  }
}

/**
 * Import every `*.xml` in the metadata directory, each with an optional `<name>.policy.json`
 * beside it. A broken file stops the start with a message naming it.
 */
export async function importMetadataDir(registry: TrustRegistry, dir: string, log: Logger): Promise<number> {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.xml')).sort()) {
    const xmlPath = path.join(dir, file);
    const policyPath = path.join(dir, file.replace(/\.xml$/, '.policy.json'));
    let policy: Partial<SpPolicy> = {};
    if (existsSync(policyPath)) {
      try {
        policy = JSON.parse(readFileSync(policyPath, 'utf8')) as Partial<SpPolicy>;
      } catch (err) {
        throw new PasarelaError('ERR_SP_POLICY', `${policyPath}: not valid JSON (${(err as Error).message})`);
      }
    }
    const sp = await registry.upsert(readFileSync(xmlPath, 'utf8'), policy, `file:${file}`);
    log.info({ sp: sp.entityId, file }, 'service provider imported from metadata');
    n++;
  }
  return n;
}
