import { randomUUID, X509Certificate } from 'node:crypto';
import { IsNull, LessThanOrEqual, Or, type DataSource, type EntityManager } from 'typeorm';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/log';
import { ServiceProviderEntity, type ServiceProviderRow } from '../db/entities';
import { MetadataSourceEntity, type MetadataSourceRow } from '../db/operator-entities';
import { PasarelaError } from '../errors';
import { ENC_ALG, NS, SIG_ALG } from '../saml/constants';
import { childElements, isElement } from '../saml/xml';
import { verifyAggregate } from './aggregate';
import { fetchMetadata, type FetchLimits } from './fetch';
import { parseSpMetadata, parseSpMetadataDocument, parseSpMetadataXml, type ParsedSpMetadata } from './metadata';
import { buildServiceProvider, bumpTrustVersion, nextStamp, resolvePolicy, serviceProviderFrom, type DbTrustRegistry } from './registry';
import type { ServiceProvider, SpPolicy } from './types';
import type { Metrics } from '../metrics';

/**
 * The operator's trust-list service, the one the CLI and the admin API both call: import (from
 * a document or a URL), validation in plain words, list, show, policy update, suspend, resume,
 * delete, and metadata refresh (per-SP URLs and signed aggregates). Every change is one
 * database transaction holding the change, its audit record and the trust-version bump that
 * tells every broker node to reload; the local cache is reloaded right after.
 */

/** Metadata refused at import: every problem found, each in words an operator can act on. */
export class SpRefusedError extends PasarelaError {
  constructor(
    readonly problems: string[],
    code = 'ERR_SP_REFUSED',
  ) {
    super(code, `metadata refused: ${problems.join('; ')}`);
    this.name = 'SpRefusedError';
  }
}

export interface RefreshState {
  sourceId: string;
  kind: 'sp' | 'aggregate';
  url: string;
  status: 'never' | 'ok' | 'failed';
  lastError: string | null;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  validUntil: string | null;
}

export interface SpSummary {
  entityId: string;
  displayName: string | null;
  status: 'active' | 'suspended';
  source: string;
  acs: string[];
  signingKeys: number;
  encryptionKey: boolean;
  validUntil: string | null;
  updatedAt: string;
  refresh: RefreshState | null;
}

export interface SpDetail extends SpSummary {
  /** The operator's overrides as stored. */
  policyOverride: Partial<SpPolicy>;
  /** What applies: defaults, overrides, and what the metadata makes stricter. */
  policy: SpPolicy;
  metadataXml: string;
}

export interface AggregateResult {
  sourceId: string;
  entities: number;
  added: number;
  updated: number;
  removed: number;
  /** Entities of the aggregate left out, each with why (the others are taken). */
  refused: Array<{ entityId: string; problem: string }>;
}

export interface TrustAdminOptions {
  ds: DataSource;
  registry: DbTrustRegistry;
  defaults: SpPolicy;
  env: 'development' | 'production' | 'test';
  log: Logger;
  fetch: FetchLimits;
  aggregateMaxBytes: number;
  now?: () => Date;
  /** pasarela_sp_metadata_age_seconds: told of every good copy taken and every SP that leaves. */
  metrics?: Pick<Metrics, 'setMetadataRefreshed' | 'forgetSpMetadata'>;
}

const ALGSUPPORT = 'urn:oasis:names:tc:SAML:metadata:algsupport';
const SUPPORTED_SIG = new Set<string>(Object.values(SIG_ALG));
const KEY_TRANSPORT = new Set<string>([ENC_ALG.rsaOaepMgf1p, ENC_ALG.rsaOaep]);
const GOOD_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

export class TrustAdmin {
  private readonly audit: AuditLog;
  private readonly now: () => Date;

  constructor(private readonly o: TrustAdminOptions) {
    this.audit = new AuditLog(o.ds);
    this.now = o.now ?? (() => new Date());
  }

  // ---- validation ----------------------------------------------------------------------------

  /**
   * Everything the trust list checks before an SP is accepted. Throws SpRefusedError listing
   * every problem; returns the SP as the hot path would hold it.
   */
  validate(xml: string, policyOverride: Partial<SpPolicy>, source: string): ServiceProvider {
    if (Buffer.byteLength(xml, 'utf8') > this.o.fetch.maxBytes) {
      throw new SpRefusedError([`the metadata is larger than ${this.o.fetch.maxBytes} bytes, the most accepted for one SP`], 'ERR_METADATA_TOO_LARGE');
    }
    let meta: ParsedSpMetadata;
    let policy: SpPolicy;
    let sp: ServiceProvider;
    let doc: Document;
    try {
      policy = resolvePolicy(this.o.defaults, checkPolicy(policyOverride), source);
      // One parse: the metadata checks, the SP as the hot path keeps it and the algorithm lists all read this DOM.
      doc = parseSpMetadataXml(xml, { maxBytes: this.o.fetch.maxBytes });
      meta = parseSpMetadataDocument(doc, { now: this.now() });
      sp = serviceProviderFrom(meta, policy, source);
    } catch (err) {
      if (err instanceof PasarelaError) throw new SpRefusedError([plain(err.message)], err.code);
      throw err;
    }
    const problems: string[] = [];
    if (this.o.env !== 'development') {
      for (const a of meta.acs) {
        if (!a.location.startsWith('https://')) problems.push(`AssertionConsumerService ${a.location} is not https (plain http is accepted in development only)`);
      }
    }
    const now = this.now().getTime();
    const certs = [...meta.signingCertsPem, ...(meta.encryptionCert ? [meta.encryptionCert.certPem] : [])];
    for (const pem of new Set(certs)) {
      const c = new X509Certificate(pem);
      if (new Date(c.validTo).getTime() <= now) problems.push(`the certificate "${c.subject}" expired on ${new Date(c.validTo).toISOString()}; the SP must publish a current key`);
      else if (new Date(c.validFrom).getTime() > now) problems.push(`the certificate "${c.subject}" is not valid before ${new Date(c.validFrom).toISOString()}`);
    }
    for (const key of meta.signingKeys) {
      if (key.asymmetricKeyType === 'ec' && !GOOD_CURVES.has(key.asymmetricKeyDetails?.namedCurve ?? '')) {
        problems.push(`an EC signing key uses curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'}; P-256, P-384 or P-521 expected`);
      }
    }
    problems.push(...algorithmProblems(doc, policy));
    if (problems.length > 0) throw new SpRefusedError(problems);
    return sp;
  }

  // ---- reads ---------------------------------------------------------------------------------

  async list(): Promise<SpSummary[]> {
    const [rows, sources] = await Promise.all([
      this.o.ds.getRepository(ServiceProviderEntity).find({ order: { entityId: 'ASC' } }),
      this.o.ds.getRepository(MetadataSourceEntity).find(),
    ]);
    const byId = new Map(sources.map((s) => [s.id, s]));
    return rows.map((r) => this.summary(r, sourceOf(r, byId)));
  }

  /** One SP's summary (one row and its source: no scan of the whole list). */
  async one(entityId: string): Promise<SpSummary> {
    const row = await this.row(entityId);
    return this.summary(row, (await this.sourceRow(row)) ?? undefined);
  }

  async show(entityId: string): Promise<SpDetail> {
    const row = await this.row(entityId);
    const override = JSON.parse(row.policy) as Partial<SpPolicy>;
    let policy = resolvePolicy(this.o.defaults, override, row.source);
    // What the metadata makes stricter; metadata that no longer reads (expired) still shows the stored policy.
    const cached = this.o.registry.get(entityId);
    if (cached) policy = cached.policy;
    else {
      try {
        policy = buildServiceProvider(row.metadataXml, policy, row.source).policy;
      } catch {
        // keep the stored policy
      }
    }
    return { ...this.summary(row, (await this.sourceRow(row)) ?? undefined), policyOverride: override, policy, metadataXml: row.metadataXml };
  }

  // ---- changes -------------------------------------------------------------------------------

  /** Import (or replace) one SP from its metadata document. */
  async importMetadata(xml: string, opts: { policy?: Partial<SpPolicy>; actor: string; source?: string }): Promise<{ sp: SpSummary; created: boolean }> {
    const existing = await this.o.ds.getRepository(ServiceProviderEntity).findOneBy({ entityId: peekEntityId(xml) ?? '' });
    const policy = opts.policy ?? (existing ? (JSON.parse(existing.policy) as Partial<SpPolicy>) : {});
    const sp = this.validate(xml, policy, opts.source ?? opts.actor);
    const created = await this.o.ds.transaction(async (m) => {
      // A document imported by hand takes over from the SP's metadata URL, if it had one.
      await m.getRepository(MetadataSourceEntity).delete({ kind: 'sp', entityId: sp.entityId });
      const c = await this.write(m, sp, xml, policy, opts.source ?? opts.actor, undefined);
      await this.audit.record({ type: c ? 'sp.added' : 'sp.updated', actor: opts.actor, detail: { entityId: sp.entityId, source: opts.source ?? opts.actor } }, m);
      await bumpTrustVersion(m);
      return c;
    });
    await this.o.registry.reload();
    this.o.metrics?.setMetadataRefreshed(sp.entityId, this.now());
    return { sp: await this.one(sp.entityId), created };
  }

  /** Fetch an SP's metadata from its URL, import it, and keep the URL for later refreshes. */
  async importFromUrl(url: string, opts: { policy?: Partial<SpPolicy>; actor: string }): Promise<{ sp: SpSummary; created: boolean }> {
    const xml = await this.download(url, this.o.fetch.maxBytes);
    const entityId = peekEntityId(xml) ?? '';
    const existing = await this.o.ds.getRepository(MetadataSourceEntity).findOneBy({ kind: 'sp', entityId });
    const sourceId = existing?.id ?? randomUUID();
    const current = await this.o.ds.getRepository(ServiceProviderEntity).findOneBy({ entityId });
    // Without a policy, an SP already in the list keeps the overrides it has.
    const policy = opts.policy ?? (current ? (JSON.parse(current.policy) as Partial<SpPolicy>) : {});
    const sp = this.validate(xml, policy, `url:${url}`);
    const now = this.now();
    const created = await this.o.ds.transaction(async (m) => {
      await m.getRepository(MetadataSourceEntity).save({
        id: sourceId,
        kind: 'sp',
        url,
        entityId: sp.entityId,
        pinnedCertPem: null,
        policy: JSON.stringify(policy),
        status: 'ok',
        lastError: null,
        lastAttemptAt: now,
        lastSuccessAt: now,
        validUntil: sp.validUntil ?? null,
        createdAt: existing?.createdAt ?? now,
      } satisfies MetadataSourceRow);
      const c = await this.write(m, sp, xml, policy, `url:${sourceId}`, undefined);
      await this.audit.record({ type: c ? 'sp.added' : 'sp.updated', actor: opts.actor, detail: { entityId: sp.entityId, metadataUrl: url } }, m);
      await bumpTrustVersion(m);
      return c;
    });
    await this.o.registry.reload();
    this.o.metrics?.setMetadataRefreshed(sp.entityId, now);
    return { sp: await this.one(sp.entityId), created };
  }

  /** Change some policy keys (the others stay); the result is validated against the metadata first. */
  async updatePolicy(entityId: string, patch: unknown, actor: string): Promise<SpDetail> {
    return this.patch(entityId, { policy: patch }, actor);
  }

  /**
   * Policy keys and/or status (`active` / `suspended`) in one transaction: both apply or
   * neither. Each change gets its audit record; nothing changed, nothing written.
   */
  async patch(entityId: string, changes: { policy?: unknown; status?: 'active' | 'suspended' }, actor: string): Promise<SpDetail> {
    // Read and written in one transaction, the row locked: a refresh or another operator's change
    // that lands meanwhile is merged with this one, never overwritten by a copy read before it.
    const wrote = await this.o.ds.transaction(async (m) => {
      const row = await lockedSpRow(m, entityId);
      if (!row) throw noSuchSp(entityId);
      const keys = changes.policy !== undefined ? checkPolicy(changes.policy) : undefined;
      let policyJson = row.policy;
      if (keys !== undefined) {
        const merged = { ...(JSON.parse(row.policy) as Partial<SpPolicy>), ...keys };
        resolvePolicy(this.o.defaults, merged, 'policy');
        this.validatePolicyOnly(row, merged);
        policyJson = JSON.stringify(merged);
      }
      const enabled = changes.status === undefined ? row.enabled : changes.status === 'active';
      if (keys === undefined && enabled === row.enabled) return false;
      await m.getRepository(ServiceProviderEntity).update({ entityId }, { policy: policyJson, enabled, updatedAt: nextStamp(row.updatedAt, this.now()) });
      if (keys !== undefined) await this.audit.record({ type: 'sp.policy.updated', actor, detail: { entityId, changed: Object.keys(keys) } }, m);
      if (enabled !== row.enabled) await this.audit.record({ type: enabled ? 'sp.resumed' : 'sp.suspended', actor, detail: { entityId } }, m);
      await bumpTrustVersion(m);
      return true;
    });
    if (wrote) await this.o.registry.reload();
    return this.show(entityId);
  }

  async suspend(entityId: string, actor: string): Promise<SpSummary> {
    return this.setEnabled(entityId, false, actor);
  }

  async resume(entityId: string, actor: string): Promise<SpSummary> {
    return this.setEnabled(entityId, true, actor);
  }

  async remove(entityId: string, actor: string): Promise<void> {
    await this.row(entityId);
    await this.o.ds.transaction(async (m) => {
      await m.getRepository(ServiceProviderEntity).delete({ entityId });
      await m.getRepository(MetadataSourceEntity).delete({ kind: 'sp', entityId });
      await this.audit.record({ type: 'sp.removed', actor, detail: { entityId } }, m);
      await bumpTrustVersion(m);
    });
    await this.o.registry.reload();
    this.o.metrics?.forgetSpMetadata(entityId);
  }

  // ---- refresh -------------------------------------------------------------------------------

  /** Refresh one SP from where it came (its URL or its aggregate). */
  async refresh(entityId: string, actor: string): Promise<SpSummary> {
    const row = await this.row(entityId);
    const source = await this.sourceRow(row);
    if (!source) {
      throw new PasarelaError('ERR_SP_NO_SOURCE', `${entityId} was imported from a document (${row.source}), not from a URL or an aggregate; import its new metadata instead`);
    }
    if (source.kind === 'aggregate') await this.refreshAggregate(source.id, actor);
    else await this.refreshSpSource(source, actor);
    // An SP that left its aggregate is gone after the refresh: answer with what it was.
    return this.one(entityId).catch(() => this.summary(row, source));
  }

  /** Register a signed aggregate (with the certificate its signature must verify against) and load it. */
  async addAggregate(url: string, pinnedCertPem: string, opts: { policy?: Partial<SpPolicy>; actor: string }): Promise<AggregateResult> {
    try {
      new X509Certificate(pinnedCertPem);
    } catch (err) {
      throw new PasarelaError('ERR_AGGREGATE_PIN', `the pinned certificate cannot be read as an X.509 certificate (${(err as Error).message})`);
    }
    const policy = checkPolicy(opts.policy ?? {});
    resolvePolicy(this.o.defaults, policy, url);
    const id = randomUUID();
    await this.o.ds.transaction(async (m) => {
      await m.getRepository(MetadataSourceEntity).insert({
        id,
        kind: 'aggregate',
        url,
        entityId: null,
        pinnedCertPem,
        policy: JSON.stringify(policy),
        status: 'never',
        lastError: null,
        lastAttemptAt: null,
        lastSuccessAt: null,
        validUntil: null,
        createdAt: this.now(),
      });
      await this.audit.record({ type: 'trust.aggregate.added', actor: opts.actor, detail: { sourceId: id, url } }, m);
    });
    try {
      return await this.refreshAggregate(id, opts.actor);
    } catch (err) {
      // Not accepted: an aggregate that cannot be loaded once is not kept (its failure is in the audit trail).
      await this.removeAggregate(id, opts.actor);
      throw err;
    }
  }

  /** Forget an aggregate and every SP taken from it. */
  async removeAggregate(sourceId: string, actor: string): Promise<{ removed: number }> {
    const source = await this.o.ds.getRepository(MetadataSourceEntity).findOneBy({ id: sourceId, kind: 'aggregate' });
    if (!source) throw new PasarelaError('ERR_NOT_FOUND', `no metadata aggregate ${sourceId}`);
    const tag = `aggregate:${sourceId}`;
    const ids = (await this.o.ds.getRepository(ServiceProviderEntity).find({ select: { entityId: true }, where: { source: tag } })).map((r) => r.entityId);
    await this.o.ds.transaction(async (m) => {
      await m.getRepository(ServiceProviderEntity).delete({ source: tag });
      await m.getRepository(MetadataSourceEntity).delete({ id: sourceId });
      await this.audit.record({ type: 'trust.aggregate.removed', actor, detail: { sourceId, url: source.url, removed: ids.length } }, m);
      if (ids.length) await bumpTrustVersion(m);
    });
    await this.o.registry.reload();
    for (const id of ids) this.o.metrics?.forgetSpMetadata(id);
    return { removed: ids.length };
  }

  async listSources(): Promise<RefreshState[]> {
    return (await this.o.ds.getRepository(MetadataSourceEntity).find({ order: { createdAt: 'ASC' } })).map(refreshState);
  }

  /**
   * Fetch, verify and apply an aggregate. When anything fails before the apply (download,
   * signature, validUntil), nothing changes: the SPs keep their last good metadata, and the
   * source records the failure and its reason.
   */
  async refreshAggregate(sourceId: string, actor: string, xmlOverride?: string): Promise<AggregateResult> {
    const source = await this.o.ds.getRepository(MetadataSourceEntity).findOneBy({ id: sourceId, kind: 'aggregate' });
    if (!source) throw new PasarelaError('ERR_NOT_FOUND', `no metadata aggregate ${sourceId}`);
    const attempt = this.now();
    let entities: Array<{ entityId: string; xml: string }>;
    let validUntil: Date;
    try {
      const xml = xmlOverride ?? (await this.download(source.url, this.o.aggregateMaxBytes));
      ({ entities, validUntil } = verifyAggregate(xml, { pinnedCertPem: source.pinnedCertPem ?? '', now: attempt, maxBytes: this.o.aggregateMaxBytes }));
    } catch (err) {
      await this.recordFailure(source, attempt, err, actor);
      throw err;
    }
    const policy = JSON.parse(source.policy) as Partial<SpPolicy>;
    const tag = `aggregate:${source.id}`;
    const refused: AggregateResult['refused'] = [];
    const accepted: Array<{ entityId: string; xml: string; displayName?: string }> = [];
    // An entry identical to the one stored was validated when it was stored: only new or changed ones are checked.
    const stored = new Map((await this.o.ds.getRepository(ServiceProviderEntity).find({ select: { entityId: true, metadataXml: true }, where: { source: tag } })).map((r) => [r.entityId, r.metadataXml]));
    for (const e of entities) {
      if (stored.get(e.entityId) === e.xml) {
        accepted.push(e);
        continue;
      }
      try {
        const sp = this.validate(e.xml, policy, tag);
        accepted.push({ entityId: sp.entityId, xml: e.xml, ...(sp.displayName ? { displayName: sp.displayName } : {}) });
      } catch (err) {
        refused.push({ entityId: e.entityId, problem: (err as Error).message });
      }
    }
    let goneIds: string[] = [];
    const result = await this.o.ds.transaction(async (m) => {
      // As for one SP's refresh: the aggregate's rows as they are now, locked (the SPs, then the
      // source: the order removeAggregate deletes them in); one removed meanwhile is not brought back.
      const repo = m.getRepository(ServiceProviderEntity);
      const mine = await repo.find({ where: { source: tag }, ...lockFor(m) });
      if (!(await m.getRepository(MetadataSourceEntity).findOne({ where: { id: source.id }, ...lockFor(m) }))) return undefined;
      const current = new Map(mine.map((r) => [r.entityId, r]));
      let added = 0;
      let updated = 0;
      const keep = new Set<string>();
      const rows: ServiceProviderRow[] = [];
      for (const { entityId, xml, displayName } of accepted) {
        keep.add(entityId);
        const old = current.get(entityId);
        if (old && old.metadataXml === xml) continue;
        if (!old && (await repo.existsBy({ entityId }))) {
          refused.push({ entityId, problem: 'already in the trust list from another source; remove it there first' });
          continue;
        }
        if (old) updated++;
        else added++;
        rows.push({
          entityId,
          displayName: displayName ?? null,
          metadataXml: xml,
          policy: old?.policy ?? source.policy,
          source: tag,
          enabled: old?.enabled ?? true,
          createdAt: old?.createdAt ?? attempt,
          updatedAt: nextStamp(old?.updatedAt, attempt),
        });
      }
      for (let i = 0; i < rows.length; i += 500) await repo.save(rows.slice(i, i + 500), { reload: false });
      // An entry refused this time keeps its last good copy; entities that left the aggregate go.
      for (const x of refused) if (current.has(x.entityId)) keep.add(x.entityId);
      const gone = mine.filter((r) => !keep.has(r.entityId)).map((r) => r.entityId);
      goneIds = gone;
      for (let i = 0; i < gone.length; i += 500) await repo.delete(gone.slice(i, i + 500));
      await m.getRepository(MetadataSourceEntity).update(
        { id: source.id },
        { status: 'ok', lastError: refused.length ? `${refused.length} entit${refused.length === 1 ? 'y' : 'ies'} refused; first: ${refused[0]!.entityId}: ${refused[0]!.problem}` : null, lastAttemptAt: attempt, lastSuccessAt: attempt, validUntil },
      );
      const r: AggregateResult = { sourceId: source.id, entities: entities.length, added, updated, removed: gone.length, refused };
      await this.audit.record({ type: 'trust.aggregate.refreshed', actor, detail: { sourceId: source.id, url: source.url, entities: r.entities, added, updated, removed: r.removed, refused: refused.length } }, m);
      if (added + updated + gone.length > 0) await bumpTrustVersion(m);
      return r;
    });
    if (!result) throw new PasarelaError('ERR_NOT_FOUND', `the aggregate ${source.url} was removed while it was being fetched; nothing was written`);
    await this.o.registry.reload();
    const takenIds = new Set(accepted.map((a) => a.entityId));
    for (const id of takenIds) if (!result.refused.some((x) => x.entityId === id)) this.o.metrics?.setMetadataRefreshed(id, attempt);
    for (const id of goneIds) this.o.metrics?.forgetSpMetadata(id);
    return result;
  }

  /**
   * Refresh every metadata source; failures are recorded per source and do not stop the others.
   * `freshWithinMs`: skip sources some node attempted that recently (several nodes on one
   * schedule then share the work instead of each fetching everything).
   */
  async refreshAll(actor: string, opts: { freshWithinMs?: number } = {}): Promise<Array<{ sourceId: string; ok: boolean; error?: string }>> {
    const out: Array<{ sourceId: string; ok: boolean; error?: string }> = [];
    const cutoff = this.now().getTime() - (opts.freshWithinMs ?? 0);
    const sources = this.o.ds.getRepository(MetadataSourceEntity);
    for (const s of await sources.find()) {
      if (opts.freshWithinMs) {
        // Claimed, not only checked: one conditional UPDATE, so that of several nodes whose
        // schedules fire together exactly one fetches each source (the others see 0 rows), and a
        // source attempted within the window is left alone.
        const claim = await sources.update({ id: s.id, lastAttemptAt: Or(IsNull(), LessThanOrEqual(new Date(cutoff))) }, { lastAttemptAt: this.now() });
        if (!claim.affected) continue;
      }
      try {
        if (s.kind === 'aggregate') await this.refreshAggregate(s.id, actor);
        else await this.refreshSpSource(s, actor);
        out.push({ sourceId: s.id, ok: true });
      } catch (err) {
        out.push({ sourceId: s.id, ok: false, error: (err as Error).message });
      }
    }
    return out;
  }

  // ---- internals -----------------------------------------------------------------------------

  private async refreshSpSource(source: MetadataSourceRow, actor: string): Promise<void> {
    const attempt = this.now();
    const policyRow = await this.o.ds.getRepository(ServiceProviderEntity).findOneBy({ entityId: source.entityId ?? '' });
    const policyJson = policyRow ? policyRow.policy : source.policy;
    let sp: ServiceProvider;
    let xml: string;
    try {
      xml = await this.download(source.url, this.o.fetch.maxBytes);
      sp = this.validate(xml, JSON.parse(policyJson) as Partial<SpPolicy>, `url:${source.url}`);
      if (sp.entityId !== source.entityId) {
        throw new PasarelaError('ERR_METADATA_ENTITY_ID', `${source.url} now describes ${sp.entityId}, not ${source.entityId ?? '?'}; import it as a new SP if that is intended`);
      }
    } catch (err) {
      await this.recordFailure(source, attempt, err, actor);
      throw err;
    }
    const written = await this.o.ds.transaction(async (m) => {
      // The download took seconds (as long as the SP's server likes): write over the row as it
      // is now, locked, not as it was. An operator who suspended the SP, changed its policy or
      // removed it meanwhile keeps that; metadata that does not pass the new policy is refused.
      // The SP, then its source: the order remove() deletes them in, so the two cannot deadlock.
      const current = await lockedSpRow(m, sp.entityId);
      const stillThere = await m.getRepository(MetadataSourceEntity).findOne({ where: { id: source.id }, ...lockFor(m) });
      if (!stillThere) return 'removed' as const;
      const policyNow = current ? current.policy : stillThere.policy;
      const policy = JSON.parse(policyNow) as Partial<SpPolicy>;
      const checked = policyNow === policyJson ? sp : this.validate(xml, policy, `url:${source.url}`);
      const changed = current?.metadataXml !== xml;
      if (changed) await this.write(m, checked, xml, policy, `url:${source.id}`, current ?? undefined);
      await m.getRepository(MetadataSourceEntity).update({ id: source.id }, { status: 'ok', lastError: null, lastAttemptAt: attempt, lastSuccessAt: attempt, validUntil: checked.validUntil ?? null });
      await this.audit.record({ type: 'sp.refreshed', actor, detail: { entityId: checked.entityId, url: source.url, changed } }, m);
      if (changed) await bumpTrustVersion(m);
      return 'written' as const;
    }).catch(async (err: unknown) => {
      if (err instanceof SpRefusedError) await this.recordFailure(source, attempt, err, actor);
      throw err;
    });
    if (written === 'removed') {
      throw new PasarelaError('ERR_NOT_FOUND', `${source.entityId ?? source.url} left the trust list while its metadata was being fetched; nothing was written`);
    }
    await this.o.registry.reload();
    this.o.metrics?.setMetadataRefreshed(sp.entityId, attempt);
  }

  private async recordFailure(source: MetadataSourceRow, attempt: Date, err: unknown, actor: string): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    this.o.log.warn({ event: 'trust.refresh.failed', sourceId: source.id, url: source.url, err: message }, 'metadata refresh failed; the last good copy stays in use');
    await this.o.ds.transaction(async (m) => {
      await m.getRepository(MetadataSourceEntity).update({ id: source.id }, { status: 'failed', lastError: message.slice(0, 4000), lastAttemptAt: attempt });
      await this.audit.record({ type: 'trust.refresh.failed', actor, detail: { sourceId: source.id, url: source.url, error: message.slice(0, 500) } }, m);
    });
  }

  private async download(url: string, maxBytes: number): Promise<string> {
    return fetchMetadata(url, { maxBytes, timeoutMs: this.o.fetch.timeoutMs, privateAddresses: this.o.fetch.privateAddresses });
  }

  /** Insert or replace the row; true when it is new. */
  private async write(m: EntityManager, sp: ServiceProvider, xml: string, policy: Partial<SpPolicy>, source: string, known: ServiceProviderRow | undefined): Promise<boolean> {
    const repo = m.getRepository(ServiceProviderEntity);
    const existing = known ?? (await repo.findOneBy({ entityId: sp.entityId }));
    const now = this.now();
    await repo.save({
      entityId: sp.entityId,
      displayName: sp.displayName ?? null,
      metadataXml: xml,
      policy: JSON.stringify(policy),
      source,
      enabled: existing?.enabled ?? true,
      createdAt: existing?.createdAt ?? now,
      updatedAt: nextStamp(existing?.updatedAt, now),
    } satisfies ServiceProviderRow);
    return !existing;
  }

  private validatePolicyOnly(row: ServiceProviderRow, override: Partial<SpPolicy>): void {
    try {
      buildServiceProvider(row.metadataXml, resolvePolicy(this.o.defaults, override, row.entityId), row.entityId);
    } catch (err) {
      if (err instanceof PasarelaError) throw new PasarelaError('ERR_SP_POLICY', plain(err.message));
      throw err;
    }
    const algo = algorithmProblems(parseSpMetadataXml(row.metadataXml, { maxBytes: Math.max(this.o.fetch.maxBytes, row.metadataXml.length * 4) }), resolvePolicy(this.o.defaults, override, row.entityId));
    if (algo.length) throw new PasarelaError('ERR_SP_POLICY', algo.join('; '));
  }

  private async setEnabled(entityId: string, enabled: boolean, actor: string): Promise<SpSummary> {
    await this.patch(entityId, { status: enabled ? 'active' : 'suspended' }, actor);
    return this.one(entityId);
  }

  private async row(entityId: string): Promise<ServiceProviderRow> {
    const row = await this.o.ds.getRepository(ServiceProviderEntity).findOneBy({ entityId });
    if (!row) throw noSuchSp(entityId);
    return row;
  }

  private async sourceRow(row: ServiceProviderRow): Promise<MetadataSourceRow | null> {
    const m = /^(url|aggregate):(.+)$/.exec(row.source);
    if (!m) return null;
    return this.o.ds.getRepository(MetadataSourceEntity).findOneBy({ id: m[2]! });
  }

  private summary(r: ServiceProviderRow, source: MetadataSourceRow | undefined): SpSummary {
    let acs: string[] = [];
    let signingKeys = 0;
    let encryptionKey = false;
    let validUntil: string | null = null;
    const cached = this.o.registry.get(r.entityId);
    if (cached) {
      acs = cached.acs.map((a) => a.location);
      signingKeys = cached.signingKeys.length;
      encryptionKey = !!cached.encryptionCert;
      validUntil = cached.validUntil?.toISOString() ?? null;
    } else {
      try {
        const meta = parseSpMetadata(r.metadataXml, { now: new Date(0), maxBytes: Math.max(this.o.fetch.maxBytes, r.metadataXml.length * 4) });
        acs = meta.acs.map((a) => a.location);
        signingKeys = meta.signingKeys.length;
        encryptionKey = !!meta.encryptionCert;
        validUntil = meta.validUntil?.toISOString() ?? null;
      } catch {
        // Shown as is: the row is listed even when its stored metadata no longer reads.
      }
    }
    return {
      entityId: r.entityId,
      displayName: r.displayName,
      status: r.enabled ? 'active' : 'suspended',
      source: r.source,
      acs,
      signingKeys,
      encryptionKey,
      validUntil,
      updatedAt: new Date(r.updatedAt).toISOString(),
      refresh: source ? refreshState(source) : null,
    };
  }
}

function sourceOf(r: ServiceProviderRow, byId: Map<string, MetadataSourceRow>): MetadataSourceRow | undefined {
  const m = /^(url|aggregate):(.+)$/.exec(r.source);
  return m ? byId.get(m[2]!) : undefined;
}

function refreshState(s: MetadataSourceRow): RefreshState {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return { sourceId: s.id, kind: s.kind, url: s.url, status: s.status, lastError: s.lastError, lastAttemptAt: iso(s.lastAttemptAt), lastSuccessAt: iso(s.lastSuccessAt), validUntil: iso(s.validUntil) };
}

/** A policy override must be a JSON object; its keys and values are checked by resolvePolicy (strict schema). */
function checkPolicy(policy: unknown): Partial<SpPolicy> {
  if (policy === undefined || policy === null) return {};
  if (typeof policy !== 'object' || Array.isArray(policy)) throw new PasarelaError('ERR_SP_POLICY', 'the policy must be a JSON object of policy keys');
  return policy as Partial<SpPolicy>;
}

/** The metadata parser's messages start with "SP metadata: " and the registry's with the source: keep the reason. */
function plain(message: string): string {
  return message.replace(/^SP metadata: /, '');
}

/** The entityID, read cheaply before validation (to find an existing row); undefined when unreadable. */
function peekEntityId(xml: string): string | undefined {
  return /<(?:[A-Za-z_][\w.-]*:)?EntityDescriptor\b[^>]*\bentityID\s*=\s*"([^"]*)"/.exec(xml.slice(0, 64 * 1024))?.[1];
}

/**
 * The SAML metadata algorithm-support profile: an SP may list the signature and encryption
 * algorithms it takes. When it does, what the broker would use for it must be among them.
 */
function algorithmProblems(doc: Document, policy: SpPolicy): string[] {
  const problems: string[] = [];
  const all = (el: Element, ns: string, name: string): Element[] => {
    const out: Element[] = [];
    const walk = (e: Element): void => {
      for (const c of childElements(e)) {
        if (isElement(c, ns, name)) out.push(c);
        walk(c);
      }
    };
    walk(el);
    return out;
  };
  const signing = all(doc.documentElement, ALGSUPPORT, 'SigningMethod').map((e) => e.getAttribute('Algorithm') ?? '');
  if (signing.length > 0) {
    if (!signing.some((a) => SUPPORTED_SIG.has(a))) {
      problems.push(`the metadata lists only signature algorithms the broker does not support (${signing.join(', ')})`);
    } else if (!signing.includes(policy.signatureAlgorithm)) {
      problems.push(`the SP accepts signatures made with ${signing.filter((a) => SUPPORTED_SIG.has(a)).join(', ')} but the policy signs with ${policy.signatureAlgorithm}; set signatureAlgorithm to one of them`);
    }
  }
  if (policy.encryptAssertion) {
    const kds = all(doc.documentElement, NS.md, 'KeyDescriptor').filter((k) => (k.getAttribute('use') ?? '') !== 'signing');
    const methods = kds.flatMap((k) => childElements(k).filter((c) => isElement(c, NS.md, 'EncryptionMethod')).map((c) => c.getAttribute('Algorithm') ?? ''));
    if (methods.length > 0 && !methods.some((a) => KEY_TRANSPORT.has(a))) {
      problems.push(`the SP's encryption key lists only key-transport algorithms the broker does not use (${methods.join(', ')}); RSA-OAEP is needed`);
    }
  }
  if (!policy.allowSha1 && signing.length > 0 && signing.every((a) => a === SIG_ALG.rsaSha1)) {
    problems.push('the SP offers only RSA-SHA1 signatures, which are refused unless its policy sets allowSha1');
  }
  return problems;
}

/**
 * A row lock where the database has them (PostgreSQL: SELECT … FOR UPDATE). SQLite has none: the
 * embedded database serves one process, whose transactions data-source.ts runs one at a time.
 */
function lockFor(m: EntityManager): { lock?: { mode: 'pessimistic_write' } } {
  return m.connection.options.type === 'postgres' ? { lock: { mode: 'pessimistic_write' } } : {};
}

function noSuchSp(entityId: string): PasarelaError {
  return new PasarelaError('ERR_NOT_FOUND', `no service provider ${entityId} in the trust list`);
}

/** The SP's row inside a transaction, locked until it ends. */
function lockedSpRow(m: EntityManager, entityId: string): Promise<ServiceProviderRow | null> {
  return m.getRepository(ServiceProviderEntity).findOne({ where: { entityId }, ...lockFor(m) });
}
