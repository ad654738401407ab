import type { Logger } from 'pino';
import type { TrustAdmin } from './admin';

/**
 * Refresh every metadata source (per-SP URLs, aggregates) every `minutes` (0: never). Runs in
 * the process serving the operator listener. A failed source keeps its last good copy and
 * records why (TrustAdmin.refreshAll); the schedule goes on.
 */
export function scheduleRefresh(admin: TrustAdmin, minutes: number, log: Logger): () => void {
  if (minutes <= 0) return () => undefined;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    admin
      .refreshAll('schedule')
      .then((results) => {
        const failed = results.filter((r) => !r.ok);
        if (results.length) log.info({ event: 'trust.refresh.scheduled', sources: results.length, failed: failed.length }, 'metadata sources refreshed');
      })
      .catch((err: unknown) => log.error({ err }, 'scheduled metadata refresh failed'))
      .finally(() => {
        busy = false;
      });
  }, minutes * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
