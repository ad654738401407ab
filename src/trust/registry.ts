import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { spPolicySchema } from '../config/schema';
import { PasarelaError } from '../errors';
import { AuditLog } from '../audit/log';
import { In, type EntityManager } from 'typeorm';
import { ServiceProviderEntity, type ServiceProviderRow } from '../db/entities';
import { TrustVersionEntity } from '../db/operator-entities';
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
    ...(meta.validUntil ? { validUntil: meta.validUntil } : {}),
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
  /** Per entity: the row's updated_at (ms) when it was parsed, so a reload re-parses only changed rows. */
  private stamps = new Map<string, number>();
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ds: DataSource,
    private readonly defaults: SpPolicy,
    private readonly log: Logger,
    private readonly audit = new AuditLog(ds),
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(entityId: string): ServiceProvider | undefined {
    const sp = this.cache.get(entityId);
    // validUntil honoured on the hot path: a comparison, no parse.
    if (sp?.validUntil && sp.validUntil.getTime() <= this.now().getTime()) return undefined;
    return sp;
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
      const changed = !existing || existing.metadataXml !== metadataXml || existing.policy !== row.policy || !existing.enabled;
      if (existing && !changed) return;
      row.updatedAt = nextStamp(existing?.updatedAt, now);
      await repo.save(row);
      await this.audit.record({ type: existing ? 'sp.updated' : 'sp.added', actor: source, detail: { entityId: sp.entityId } }, m);
      await bumpTrustVersion(m);
    });
    await this.reload();
    return sp;
  }

  async remove(entityId: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.getRepository(ServiceProviderEntity).delete({ entityId });
      await this.audit.record({ type: 'sp.removed', detail: { entityId } }, m);
      await bumpTrustVersion(m);
    });
    await this.reload();
  }

  /**
   * Bring the cache in line with the database. Only rows whose updated_at moved are fetched and
   * parsed again (a change to one SP of 10,000 costs one parse); removed and suspended ones go.
   */
  reload(): Promise<void> {
    // One reload at a time: a slow one started earlier must not overwrite a newer one's result.
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<void> {
    const heads = await this.ds
      .getRepository(ServiceProviderEntity)
      .find({ select: { entityId: true, updatedAt: true }, where: { enabled: true } });
    const wanted = new Map(heads.map((h) => [h.entityId, new Date(h.updatedAt).getTime()]));
    const stale = heads.filter((h) => this.stamps.get(h.entityId) !== wanted.get(h.entityId)).map((h) => h.entityId);
    const fresh: ServiceProviderRow[] = [];
    for (let i = 0; i < stale.length; i += 500) {
      fresh.push(...(await this.ds.getRepository(ServiceProviderEntity).findBy({ entityId: In(stale.slice(i, i + 500)), enabled: true })));
    }
    const next = new Map(this.cache);
    const stamps = new Map(this.stamps);
    for (const id of next.keys()) {
      if (!wanted.has(id)) {
        next.delete(id);
        stamps.delete(id);
      }
    }
    for (const row of fresh) {
      stamps.set(row.entityId, new Date(row.updatedAt).getTime());
      try {
        const policy = resolvePolicy(this.defaults, JSON.parse(row.policy) as Partial<SpPolicy>, row.source);
        next.set(row.entityId, buildServiceProvider(row.metadataXml, policy, row.source));
      } catch (err) {
        // One bad SP must not take the others down; it is left out, loudly.
        next.delete(row.entityId);
        this.log.error({ sp: row.entityId, err: (err as Error).message }, 'service provider left out of the trust list');
      }
    }
    this.cache = next;
    this.stamps = stamps;
  }
}

/** An updated_at strictly after the previous one, so that every change is seen by the incremental reload. */
export function nextStamp(previous: Date | undefined, now: Date): Date {
  const prev = previous ? new Date(previous).getTime() : 0;
  return new Date(Math.max(now.getTime(), prev + 1));
}

/** Count one trust-list change (in the change's own transaction); broker nodes poll this number. */
export async function bumpTrustVersion(m: EntityManager): Promise<void> {
  await m.getRepository(TrustVersionEntity).increment({ id: 1 }, 'version', 1);
}

export async function trustVersion(ds: DataSource): Promise<number> {
  const row = await ds.getRepository(TrustVersionEntity).findOneBy({ id: 1 });
  return row?.version ?? 0;
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
