import { z } from 'zod';
import { SIG_ALG, type SignatureAlgorithmUri } from '../saml/constants';
import { certificateConfigSchema } from '../authn/certificate/config';
import { otpConfigSchema } from '../authn/pin/config';
import { notifyConfigSchema } from '../notify/config';
import { parseRedisUrl, RedisUrlError } from '../store/redis-url';

/** Checked by the same parser the store uses, so a URL the config accepts is one the store can open. */
const redisUrlSchema = z.string().superRefine((url, ctx) => {
  try {
    parseRedisUrl(url);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof RedisUrlError ? `a redis:// URL (${err.message})` : 'a redis:// URL' });
  }
});
import { adminConfigSchema } from '../admin/config';
import { citizensConfigSchema } from '../citizens/config';

const loaLevel = z.enum(['low', 'substantial', 'high']);
const nameIdFormat = z.enum(['persistent', 'transient', 'unspecified']);
const methodId = z.enum(['pin', 'permanente', 'certificate', 'eidas', 'movil']);
const sigAlg = z.enum(Object.values(SIG_ALG) as [SignatureAlgorithmUri, ...SignatureAlgorithmUri[]]);

export const spPolicySchema = z
  .object({
    requireSignedRequests: z.boolean(),
    allowedMethods: z.array(methodId).optional(),
    minLoa: loaLevel,
    maxLoa: loaLevel,
    releasedAttributes: z.array(z.string().min(1)).optional(),
    nameIdFormats: z.array(nameIdFormat).min(1),
    encryptAssertion: z.boolean(),
    signResponse: z.boolean(),
    signAssertion: z.boolean(),
    signatureAlgorithm: sigAlg,
    allowSha1: z.boolean(),
    profile: z.enum(['auto', 'eidas', 'saml']).default('auto'),
    oneTimeUse: z.boolean().optional(),
  })
  .strict()
  .refine((p) => p.signResponse || p.signAssertion, { message: 'at least one of signResponse/signAssertion must be true' });

/** Method variant -> registration level ('basic' | 'advanced' | 'none' for no registration) -> LoA reached. */
export const loaPolicySchema = z.record(
  z.string().regex(/^[a-z]+\.[a-z+]+$/, 'a method variant such as "permanente.password"'),
  z.object({ basic: loaLevel.nullable().optional(), advanced: loaLevel.nullable().optional(), none: loaLevel.nullable().optional() }).strict(),
);

export const configSchema = z
  .object({
    env: z.enum(['development', 'production', 'test']),
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    /** Broker processes on this machine: 1 (default), a number, or "auto" (one per core). More than 1 needs Redis and PostgreSQL. */
    workers: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)]).default(1),
    /** The operator listener: /healthz, /readyz, /metrics (later the admin API). Never the citizen port. */
    operator: z
      .object({ host: z.string().min(1).default('127.0.0.1'), port: z.coerce.number().int().min(0).max(65535).default(9090) })
      .strict()
      .prefault({}),
    /** Public base URL, e.g. https://pasarela.example.gob.es — every endpoint URL derives from it. */
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Our SAML entityID (defaults to `${baseUrl}/metadata`). */
    entityId: z.string().min(1).optional(),
    database: z.object({ url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL').optional(), sqlitePath: z.string().min(1) }).strict(),
    store: z
      .object({
        /** redis://, rediss://, redis+sentinel://…/<master>, redis+cluster://… (store/redis-url.ts). */
        redisUrl: redisUrlSchema.optional(),
        keyPrefix: z.string(),
        /** In-memory store only: refuse writes beyond this many bytes (keys + values), so a flood cannot exhaust the process. */
        memoryMaxBytes: z.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
      })
      .strict(),
    keys: z
      .object({
        dir: z.string().min(1),
        generateIfMissing: z.boolean(),
        /** Optional next signing certificate published in metadata ahead of a rollover. */
        nextSigningCertPath: z.string().optional(),
        /** Optional next encryption certificate published in metadata ahead of an encryption-key rollover. */
        nextEncryptionCertPath: z.string().optional(),
      })
      .strict(),
    secrets: z
      .object({
        /** HMAC key for pairwise persistent NameIDs; changing it changes every persistent NameID. */
        pairwise: z.string().min(32).optional(),
        /** HMAC key for CSRF tokens. */
        csrf: z.string().min(32).optional(),
      })
      .strict()
      .default({}),
    saml: z
      .object({
        clockSkewSeconds: z.number().int().min(0).max(600),
        maxRequestAgeSeconds: z.number().int().min(30).max(3600),
        assertionLifetimeSeconds: z.number().int().min(30).max(3600),
        transactionTtlSeconds: z.number().int().min(60).max(86400),
        /** Life of a login transaction until the citizen picks a method (then it gets transactionTtlSeconds from its start). */
        pendingTransactionTtlSeconds: z.number().int().min(30).max(86400).default(600),
        /** An expired login in which the citizen picked a method is kept this long (unusable) so its page can offer "return to the service" (an AuthnFailed response). */
        expiredTransactionGraceSeconds: z.number().int().min(0).max(86400).default(900),
        /** New login transactions per client address and per SP (fixed windows in the store, shared by every node). */
        transactionLimits: z
          .object({
            perAddress: z.object({ max: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(86400) }).strict(),
            perSp: z.object({ max: z.number().int().min(1), windowSeconds: z.number().int().min(1).max(86400) }).strict(),
          })
          .strict()
          .prefault({ perAddress: { max: 300, windowSeconds: 60 }, perSp: { max: 5000, windowSeconds: 60 } }),
        metadataValidityHours: z.number().int().min(1).max(24 * 30),
        supportedLoas: z.array(loaLevel).min(1),
      })
      .strict(),
    session: z.object({ ttlSeconds: z.number().int().min(60).max(7 * 86400), cookieName: z.string().regex(/^[A-Za-z0-9_-]+$/) }).strict(),
    methods: z.object({ enabled: z.array(methodId).min(1) }).strict(),
    loaPolicy: loaPolicySchema,
    trust: z.object({ metadataDir: z.string().min(1), defaultPolicy: spPolicySchema }).strict(),
    demo: z.object({ enabled: z.boolean(), seedCitizen: z.boolean() }).strict(),
    notify: notifyConfigSchema,
    otp: otpConfigSchema.prefault({}),
    certificate: certificateConfigSchema.prefault({}),
    /** Citizen credential lifecycle: activation codes, password validity and history (issue 7). */
    citizens: citizensConfigSchema.prefault({}),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).strict(),
    /** Express "trust proxy" (false, or a list of proxy addresses) so client addresses and https are read correctly behind a load balancer. */
    trustProxy: z.union([z.boolean(), z.array(z.string())]),
    /** Admin API, metadata refresh and trust-list propagation (src/admin/config.ts). */
    admin: adminConfigSchema.prefault({}),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
