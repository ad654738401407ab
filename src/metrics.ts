import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Backend } from './faults';

/** One finished login as the SP sees it (broker/broker.ts reports it). */
export interface LoginOutcome {
  /** Authentication method ("pin", "permanente", …) or "none" (refused before one was chosen). */
  method: string;
  /** LoA reached (success, SSO) or requested (errors): low | substantial | high | unspecified. */
  loa: string;
  sp: string;
  /** success | sso (session reused) | refused (rate limits) | the SAML second-level status, e.g. NoPassive, AuthnFailed. */
  outcome: string;
}

/**
 * The Prometheus registry of one broker process, served on the operator listener only.
 * Built per process (no prom-client global registry), so tests can build several brokers.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Histogram<'route' | 'method' | 'status'>;
  samlRejections: Counter<'code'>;
  /** pasarela_logins_total{method,loa,sp,outcome}. */
  logins: Counter<'method' | 'loa' | 'sp' | 'outcome'>;
  /** pasarela_backend_errors_total{backend,where}: Redis / PostgreSQL failures seen by requests and by /readyz. */
  backendErrors: Counter<'backend' | 'where'>;
  /**
   * pasarela_certificate_tls_failures_total{reason}: handshakes the certificate host refused
   * (no HTTP request, so no page, no audit record: see host.ts). A spike is a broken anchor or
   * intermediate, a card reader fault or a scan.
   */
  certificateTlsFailures: Counter<'reason'>;
  recordLogin(o: LoginOutcome): void;
  recordBackendError(backend: Backend, where: 'request' | 'probe'): void;
  /**
   * The trust list's metadata refresh (issue 10): call with the time of each SP's last good
   * metadata copy; `pasarela_sp_metadata_age_seconds{sp}` is computed at scrape time.
   */
  setMetadataRefreshed(entityId: string, at: Date): void;
  /** The SP left the trust list: drop its series. */
  forgetSpMetadata(entityId: string): void;
}

export function createMetrics(now: () => Date = () => new Date()): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pasarela_' });
  const refreshedAt = new Map<string, number>();
  const logins = new Counter({
    name: 'pasarela_logins_total',
    help: 'Logins answered to SPs, by authentication method, LoA, SP entityID and outcome',
    labelNames: ['method', 'loa', 'sp', 'outcome'],
    registers: [registry],
  });
  const backendErrors = new Counter({
    name: 'pasarela_backend_errors_total',
    help: 'Failures of the store (Redis) and the database (PostgreSQL), seen by requests or by the readiness probe',
    labelNames: ['backend', 'where'],
    registers: [registry],
  });
  for (const backend of ['store', 'database']) for (const where of ['request', 'probe']) backendErrors.inc({ backend, where }, 0);
  new Gauge({
    name: 'pasarela_sp_metadata_age_seconds',
    help: 'Seconds since the last good copy of each SP metadata was fetched or imported',
    labelNames: ['sp'],
    registers: [registry],
    // Several worker processes (cluster.ts): report the stalest copy.
    aggregator: 'max',
    collect() {
      this.reset();
      const t = now().getTime();
      for (const [sp, at] of refreshedAt) this.set({ sp }, Math.max(0, (t - at) / 1000));
    },
  });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'pasarela_http_request_duration_seconds',
      help: 'Citizen and SP facing HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    samlRejections: new Counter({
      name: 'pasarela_saml_request_rejections_total',
      help: 'AuthnRequests refused, by reason code',
      labelNames: ['code'],
      registers: [registry],
    }),
    logins,
    backendErrors,
    certificateTlsFailures: new Counter({
      name: 'pasarela_certificate_tls_failures_total',
      help: 'TLS handshakes the certificate host refused, by reason (the OpenSSL or socket error code)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    recordLogin: (o) => logins.inc({ method: o.method, loa: o.loa, sp: o.sp, outcome: o.outcome }),
    recordBackendError: (backend, where) => backendErrors.inc({ backend, where }),
    setMetadataRefreshed: (entityId, at) => void refreshedAt.set(entityId, at.getTime()),
    forgetSpMetadata: (entityId) => void refreshedAt.delete(entityId),
  };
}
