import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { PasarelaError } from '../errors';
import type { KeyValueStore } from '../store/types';
import type { NotifyRateConfig } from './config';
import type { Notifier, NotifyMessage } from './types';

const HOUR_MS = 3_600_000;

/** Too many messages to one phone or for one citizen this hour; the pages turn it into a message (HTTP 429). */
export class NotifyRateLimitedError extends PasarelaError {
  constructor(
    readonly scope: 'phone' | 'citizen',
    readonly limit: number,
  ) {
    super('ERR_NOTIFY_RATE_LIMITED', `more than ${limit} messages in an hour for this ${scope === 'phone' ? 'phone number' : 'citizen'}`);
    this.name = 'NotifyRateLimitedError';
  }
}

/** Store keys carry no phone number in clear. */
function phoneKey(phone: string): string {
  return createHash('sha256').update(phone.replace(/[\s-]/g, '')).digest('base64url').slice(0, 22);
}

/** Masked phone for pages and logs: `+34600111222` -> `•••222`. */
export function maskPhone(phone: string): string {
  return `•••${phone.replace(/\D/g, '').slice(-3)}`;
}

/**
 * The channel as the authenticators use it: rate-limited per phone number and per citizen with
 * counters in the store, so the limit holds across broker nodes. Each counter's window is one hour
 * from its first message (the store's fixed-window increment).
 */
export class NotificationService {
  constructor(
    private readonly notifier: Notifier,
    private readonly store: KeyValueStore,
    private readonly rate: NotifyRateConfig,
    private readonly log?: Logger,
  ) {}

  /** Throws NotifyRateLimitedError over a limit, or the driver's PasarelaError when the provider fails. */
  async send(msg: NotifyMessage, citizenId: string): Promise<void> {
    const [byPhone, byCitizen] = await Promise.all([
      this.store.increment(`notify:phone:${phoneKey(msg.to)}`, HOUR_MS),
      this.store.increment(`notify:citizen:${citizenId}`, HOUR_MS),
    ]);
    if (byPhone > this.rate.perPhonePerHour || byCitizen > this.rate.perCitizenPerHour) {
      const scope = byPhone > this.rate.perPhonePerHour ? 'phone' : 'citizen';
      this.log?.warn({ event: 'notify.rate_limited', scope, phone: maskPhone(msg.to), citizen: citizenId }, 'notification refused: rate limit');
      throw new NotifyRateLimitedError(scope, scope === 'phone' ? this.rate.perPhonePerHour : this.rate.perCitizenPerHour);
    }
    await this.notifier.send(msg);
    this.log?.info({ event: 'notify.sent', channel: msg.channel, phone: maskPhone(msg.to), citizen: citizenId }, 'notification sent');
  }
}
