import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import type { TrustRegistry } from './types';
import { trustVersion } from './registry';

/**
 * Every broker node polls the one-row `trust_version` (bumped in the transaction of each
 * trust-list change, from any node, the CLI or the API) and reloads its cache when the number
 * moved. The reload re-parses only the rows whose updated_at changed; the hot path keeps
 * reading a Map and never parses metadata. A failed poll (database away) is logged and retried
 * at the next tick; the cache in memory keeps serving meanwhile.
 */
export class TrustSync {
  private timer: NodeJS.Timeout | undefined;
  private seen: number | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly registry: Pick<TrustRegistry, 'reload'>,
    private readonly pollMs: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.seen = await trustVersion(this.ds).catch(() => undefined);
    this.timer = setInterval(() => void this.tick(), this.pollMs);
    this.timer.unref();
  }

  /** One poll; resolves once a reload it started is done. */
  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        if (!this.ds.isInitialized) return;
        const v = await trustVersion(this.ds);
        if (v === this.seen) return;
        await this.registry.reload();
        this.seen = v;
        this.log.info({ event: 'trust.reloaded', version: v }, 'trust list changed: reloaded');
      } catch (err) {
        this.log.warn({ event: 'trust.poll_failed', err: (err as Error).message }, 'could not look for trust-list changes; retrying');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
