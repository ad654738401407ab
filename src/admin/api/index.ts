import type { Router } from 'express';
import { AuditLog } from '../../audit/log';
import type { Services } from '../../services';
import { TrustAdmin } from '../../trust/admin';
import { DbTrustRegistry } from '../../trust/registry';
import { AdminTokens } from '../tokens';
import { jwtVerifier } from './auth';
import { createAdminApi } from './router';

/** The trust-list service over a broker's services (the registry it updates is the one the hot path reads). */
export function trustAdminFor(s: Pick<Services, 'config' | 'ds' | 'trust' | 'log' | 'now'>): TrustAdmin {
  if (!(s.trust instanceof DbTrustRegistry)) throw new Error('the trust-list service needs the database trust registry');
  return new TrustAdmin({
    ds: s.ds,
    registry: s.trust,
    defaults: s.config.trust.defaultPolicy,
    env: s.config.env,
    log: s.log,
    fetch: s.config.admin.fetch,
    aggregateMaxBytes: s.config.admin.aggregateMaxBytes,
    now: s.now,
  });
}

/** The /admin/api router for one broker process. */
export function adminApiFor(s: Services, trustAdmin = trustAdminFor(s)): Router {
  return createAdminApi({
    trustAdmin,
    tokens: new AdminTokens(s.ds),
    audit: new AuditLog(s.ds),
    jwt: jwtVerifier(s.config.admin.jwt, s.config.admin.fetch.timeoutMs),
    intake: {
      trust: s.trust,
      store: s.store,
      ssoUrls: s.config.ssoUrls,
      clockSkewSeconds: s.config.saml.clockSkewSeconds,
      maxRequestAgeSeconds: s.config.saml.maxRequestAgeSeconds,
      now: s.now,
      broker: s.broker,
    },
    maxMetadataBytes: s.config.admin.fetch.maxBytes,
    log: s.log,
  });
}
