import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { certificateHostUrl, createCertificateAuthenticator, type CertificateSettings } from './authn/certificate';
import { ensureDevPki, type DevPki } from './authn/certificate/dev-pki';
import { createPermanente } from './authn/permanente';
import { createPin } from './authn/pin';
import type { CodeMethodDeps } from './authn/pin/channel';
import type { Authenticator } from './authn/types';
import { Broker } from './broker/broker';
import { CitizenLifecycle } from './citizens/lifecycle';
import { CitizenRepository } from './citizens/repository';
import type { Config } from './config';
import { ConfigError } from './errors';
import { loadKeys, loadSecrets, type BrokerKeys, type Secrets } from './config/keys';
import { createDataSource } from './db/data-source';
import { createDemoSp, type DemoSp } from './demo';
import { createNotifier, type Notifier } from './notify';
import { createMetrics, type Metrics } from './metrics';
import type { MethodId } from './saml/types';
import { createStore } from './store';
import type { KeyValueStore } from './store/types';
import { DbTrustRegistry, importMetadataDir } from './trust/registry';
import { ServiceProviderEntity } from './db/entities';
import { TrustSync } from './trust/sync';
import type { TrustRegistry } from './trust/types';

export interface Services {
  config: Config;
  log: Logger;
  store: KeyValueStore;
  ds: DataSource;
  trust: TrustRegistry;
  citizens: CitizenRepository;
  /** The Cl@ve Permanente services: register, activate, change, recover, deregister (issue 7). */
  lifecycle: CitizenLifecycle;
  keys: BrokerKeys;
  secrets: Secrets;
  broker: Broker;
  authenticators: Authenticator[];
  /** SMS / app channel (outbox file in development, HTTP provider in production). */
  notifier: Notifier;
  /** Certificate host settings with the development PKI's anchors merged in. */
  certificate: CertificateSettings;
  devPki?: DevPki;
  demo?: DemoSp;
  metrics: Metrics;
  now: () => Date;
  /** Polls the trust-list version and reloads the cache when another node (or the CLI) changed it. */
  trustSync: TrustSync;
  close(): Promise<void>;
}

/** The demo citizen seeded on first start of an embedded broker (printed by the start banner). */
export const DEMO_CITIZEN = {
  dni: '12345678Z',
  password: 'Demo-Pasarela-2026',
  givenName: 'María',
  firstSurname: 'García',
  secondSurname: 'López',
  dateOfBirth: '1985-04-12',
  mobile: '+34600000000',
  registrationLevel: 'advanced' as const,
  dniValidityDate: '2031-01-01',
};

/** Every authenticator; those that send one-time codes get the notification channel and code settings. */
function allAuthenticators(codeDeps: CodeMethodDeps, certificate: CertificateSettings): Authenticator[] {
  return [createPin(codeDeps), createPermanente(codeDeps), createCertificateAuthenticator({ hostUrl: certificateHostUrl(certificate) })];
}

export interface BuildOptions {
  now?: () => Date;
  /** Use these instead of building them from the configuration (tests pass the storage pair under test). */
  store?: KeyValueStore;
  ds?: DataSource;
  /**
   * Do the once-per-deployment work: import the metadata directory, register the demo SP, seed
   * the demo citizen (default true). Cluster workers pass false: the primary did it, and
   * concurrent upserts of the same rows would collide.
   */
  bootstrap?: boolean;
}

/** config -> stores -> registries -> broker. Everything the app needs, nothing global. */
export async function buildServices(config: Config, log: Logger, options: BuildOptions = {}): Promise<Services> {
  const now = options.now ?? (() => new Date());
  const keys = loadKeys(config, log);
  const secrets = loadSecrets(config, log);
  // Before any store or database is opened: a refused driver (outbox in production) stops the start.
  const notifier = createNotifier(config, now);
  const store = options.store ?? (await createStore({ redisUrl: config.store.redisUrl, keyPrefix: config.store.keyPrefix, memoryMaxBytes: config.store.memoryMaxBytes }));
  const ds =
    options.ds ??
    (await createDataSource({ url: config.database.url, sqlitePath: path.resolve(config.root, config.database.sqlitePath) }));
  if (!config.store.redisUrl && !options.store) log.warn('using the in-memory store: transactions and sessions live in this process only');

  const trust = new DbTrustRegistry(ds, config.trust.defaultPolicy, log);
  await trust.reload();
  const bootstrap = options.bootstrap ?? true;

  let demo: DemoSp | undefined;
  if (config.demo.enabled) {
    demo = createDemoSp({
      baseUrl: config.baseUrl,
      ssoUrl: config.ssoUrls.redirect,
      idpCertPem: keys.signing.certPem,
      keysDir: path.resolve(config.root, config.keys.dir),
      log,
    });
  }

  const trustSync = new TrustSync(ds, trust, config.admin.trustPollMs, log);
  await trustSync.start();

  const citizens = new CitizenRepository(ds);
  const lifecycle = new CitizenLifecycle({ ds, config: config.citizens, notifier, activateUrl: `${config.baseUrl}/account/activate`, now });
  const codeDeps: CodeMethodDeps = { notifier, otp: config.otp, notifyRate: config.notify.rate, lifecycle };
  // Certificate method: configured anchors, plus the development PKI's (never in production).
  let devPki: DevPki | undefined;
  let certificate: CertificateSettings = config.certificate;
  if (config.methods.enabled.includes('certificate') && config.certificate.devPki) {
    if (config.env === 'production') throw new ConfigError('certificate.devPki', 'false in production (development test CAs must never be trusted there)');
    devPki = ensureDevPki({ dir: path.resolve(config.root, config.keys.dir, 'dev-pki'), baseUrl: config.baseUrl, citizen: DEMO_CITIZEN, log });
    if (devPki) certificate = { ...certificate, anchors: [...certificate.anchors, ...devPki.anchors] };
  }
  const authenticators = allAuthenticators(codeDeps, certificate).filter((a) => config.methods.enabled.includes(a.id));
  const metrics = createMetrics(now);
  const broker = new Broker({
    options: {
      entityId: config.entityId,
      methods: config.methods.enabled as MethodId[],
      loaPolicy: config.loaPolicy,
      assertionLifetimeSeconds: config.saml.assertionLifetimeSeconds,
      transactionTtlSeconds: config.saml.transactionTtlSeconds,
      pendingTransactionTtlSeconds: config.saml.pendingTransactionTtlSeconds,
      expiredTransactionGraceSeconds: config.saml.expiredTransactionGraceSeconds,
      transactionLimits: config.saml.transactionLimits,
      sessionTtlSeconds: config.session.ttlSeconds,
    },
    keys,
    secrets,
    trust,
    store,
    log,
    now,
    onOutcome: metrics.recordLogin,
  });

  const services: Services = {
    config,
    log,
    store,
    ds,
    trust,
    citizens,
    lifecycle,
    keys,
    secrets,
    broker,
    authenticators,
    notifier,
    certificate,
    devPki,
    demo,
    metrics,
    now,
    trustSync,
    async close() {
      await trustSync.stop();
      await store.close();
      if (ds.isInitialized) await ds.destroy();
    },
  };
  // Last, once every service is built: a start that fails above writes nothing.
  if (bootstrap) await bootstrapServices(services);
  else await publishMetadataAges(services);
  return services;
}

/**
 * pasarela_sp_metadata_age_seconds from the trust list's rows (the time each SP's metadata was
 * last imported or refreshed). The trust code calls metrics.setMetadataRefreshed on each refresh.
 */
export async function publishMetadataAges(s: Pick<Services, 'ds' | 'metrics'>): Promise<void> {
  const rows = await s.ds.getRepository(ServiceProviderEntity).find({ select: { entityId: true, updatedAt: true } });
  for (const row of rows) s.metrics.setMetadataRefreshed(row.entityId, new Date(row.updatedAt));
}

/**
 * The once-per-deployment writes: the metadata directory import, the demo SP (and the removal
 * of demo SPs of earlier base URLs), the demo citizen. server.ts runs it after the listeners
 * are bound, so a start that fails (a port in use, a bad key, a refused setting) leaves no row.
 */
export async function bootstrapServices(s: Pick<Services, 'config' | 'trust' | 'ds' | 'demo' | 'citizens' | 'log'> & { metrics?: Metrics }): Promise<void> {
  const { config, log } = s;
  await importMetadataDir(s.trust, path.resolve(config.root, config.trust.metadataDir), log);
  // The demo SP's entityID derives from BASE_URL: entries of earlier base URLs go (with the demo off, all of them).
  const demoRows = await s.ds.getRepository(ServiceProviderEntity).find({ where: { source: 'demo' }, select: { entityId: true } });
  for (const row of demoRows) {
    if (row.entityId === s.demo?.entityId) continue;
    await s.trust.remove(row.entityId);
    s.metrics?.forgetSpMetadata(row.entityId);
    log.info({ event: 'demo.sp.removed', entityId: row.entityId }, 'removed the demo SP of an earlier base URL');
  }
  if (s.demo) await s.trust.upsert(s.demo.metadataXml, {}, 'demo');
  if (config.demo.seedCitizen && !(await s.citizens.findByDni(DEMO_CITIZEN.dni))) {
    await s.citizens.create(DEMO_CITIZEN);
    log.warn({ event: 'demo.citizen.seeded' }, 'seeded the demo citizen (development only)');
  }
  if (s.metrics) await publishMetadataAges({ ds: s.ds, metrics: s.metrics });
}
