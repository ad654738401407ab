import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus registry of one broker process, served on the operator listener only.
 * Built per process (no prom-client global registry), so tests can build several brokers.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Histogram<'route' | 'method' | 'status'>;
  samlRejections: Counter<'code'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pasarela_' });
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
  };
}
