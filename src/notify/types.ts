/** One message to a citizen's phone: an SMS, or a push to the Cl@ve app. */
export interface NotifyMessage {
  /** Phone number in international form (+34600000000). */
  to: string;
  /** `letter` and `email` carry activation codes (lifecycle); a provider driver passes the channel on. */
  channel: 'sms' | 'app' | 'letter' | 'email';
  /** The text the citizen reads (for one-time codes it contains the code). */
  text: string;
  /** The one-time code inside `text`; only the development outbox records it separately. */
  code?: string;
}

/** The notification channel: outbox file (development, tests) or an HTTP provider (production). */
export interface Notifier {
  send(msg: NotifyMessage): Promise<void>;
}
