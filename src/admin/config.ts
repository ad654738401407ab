import { z } from 'zod';

/**
 * `admin` configuration: the admin API's JWT verification, the limits of metadata downloads,
 * the refresh schedule and how often broker nodes look for trust-list changes.
 * Environment: ADMIN_JWKS_URL, ADMIN_JWT_ISSUER, ADMIN_JWT_AUDIENCE, TRUST_POLL_MS.
 */
export const adminConfigSchema = z
  .object({
    jwt: z
      .object({
        /** JWKS the admin JWTs verify against (https, or http on the loopback in development and tests). */
        jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** Required `iss`; without jwksUrl, its JWKS is found through `<issuer>/.well-known/openid-configuration`. */
        issuer: z.string().min(1).optional(),
        /** Required `aud`, when set. */
        audience: z.string().min(1).optional(),
        /** Claim holding the role(s): a string or an array of operator / registrar / auditor. */
        roleClaim: z.string().min(1).default('roles'),
      })
      .strict()
      .prefault({}),
    fetch: z
      .object({
        /** Largest SP metadata document fetched or uploaded, in bytes. */
        maxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
        timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
        /** `refuse`: metadata URLs (and their redirects) may not reach loopback, private or link-local addresses (SSRF); config/production.json sets it. */
        privateAddresses: z.enum(['allow', 'refuse']).default('allow'),
      })
      .strict()
      .prefault({}),
    /** Largest signed aggregate fetched, in bytes. */
    aggregateMaxBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(128 * 1024 * 1024),
    /** Refresh every metadata source this often (minutes); 0 = only on demand. */
    refreshIntervalMinutes: z.number().int().min(0).max(7 * 24 * 60).default(60),
    /** Broker nodes look at the trust-list version this often (ms) and reload what changed. */
    trustPollMs: z.coerce.number().int().min(100).max(60_000).default(1500),
  })
  .strict();

export type AdminConfig = z.infer<typeof adminConfigSchema>;
