import path from 'node:path';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import { HttpNotifier } from './http';
import { OutboxNotifier } from './outbox';
import type { Notifier } from './types';

export type { Notifier, NotifyMessage } from './types';
export { NotificationService, NotifyRateLimitedError, maskPhone } from './limits';

/**
 * The configured driver. The outbox writes codes to a file in clear, so it is refused in
 * production (DESIGN: "it is off in production"), as is a provider URL that is not https.
 */
export function createNotifier(config: Pick<Config, 'env' | 'notify' | 'root'>, now: () => Date = () => new Date()): Notifier {
  const n = config.notify;
  if (n.driver === 'outbox') {
    if (config.env === 'production') {
      throw new ConfigError('notify.driver', '"http" in production: the outbox driver writes one-time codes to a file and is for development only (set notify.driver to "http" and notify.http.url)');
    }
    return new OutboxNotifier(path.resolve(config.root, n.outboxPath), now);
  }
  const url = n.http.url;
  if (!url) throw new ConfigError('notify.http.url', 'the provider endpoint, required when notify.driver is "http"');
  if (config.env === 'production' && !url.startsWith('https://')) throw new ConfigError('notify.http.url', 'an https:// URL in production');
  return new HttpNotifier({ ...n.http, url });
}
