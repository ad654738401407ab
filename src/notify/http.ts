import { PasarelaError } from '../errors';
import type { Notifier, NotifyMessage } from './types';

export interface HttpNotifierOptions {
  /** The provider endpoint; the message is POSTed there as JSON. */
  url: string;
  /** `Bearer xyz` / `Basic ...` (sent as Authorization), or `Header-Name: value` for a custom header. */
  authHeader?: string;
  /** JSON text whose string values may hold the placeholders {to}, {text} and {channel}. */
  bodyTemplate: string;
  /** Per attempt, covering the answer's body too. */
  timeoutMs: number;
  /** Further attempts after the first, on 5xx answers, network errors and timeouts only. */
  retries: number;
  /** Backoff before retry n (0-based) is backoffMs * 2^n. */
  backoffMs: number;
}

export interface HttpNotifierDeps {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

const PLACEHOLDER = /\{(to|text|channel)\}/g;

/**
 * Parses a body template; throws when it is not JSON. Placeholders are replaced inside the
 * parsed string values and the body is serialized again, so a value can never break out of
 * its JSON string whatever characters it holds.
 */
export function parseBodyTemplate(template: string): Json {
  return JSON.parse(template) as Json;
}

export function renderBody(template: Json, msg: Pick<NotifyMessage, 'to' | 'text' | 'channel'>): string {
  const values: Record<string, string> = { to: msg.to, text: msg.text, channel: msg.channel };
  const walk = (v: Json): Json => {
    if (typeof v === 'string') return v.replace(PLACEHOLDER, (_m, name: string) => values[name]!); // one pass: no re-substitution
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(template));
}

/** `Bearer x` -> Authorization: Bearer x; `X-Api-Key: x` -> X-Api-Key: x. */
export function authHeaderOf(value: string): [string, string] {
  const m = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(value);
  return m ? [m[1]!, m[2]!] : ['Authorization', value];
}

/**
 * Production driver: POSTs each message as JSON to an SMS/push provider. Bounded retries with
 * exponential backoff on 5xx, network errors and timeouts (a duplicate SMS of the same code is
 * harmless, a lost one blocks the citizen); a 4xx is the provider refusing the message and is
 * not retried. Failures are a PasarelaError that names the provider's origin and what happened,
 * never the phone number or the text.
 */
export class HttpNotifier implements Notifier {
  private readonly template: Json;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly origin: string;

  constructor(
    private readonly opts: HttpNotifierOptions,
    deps: HttpNotifierDeps = {},
  ) {
    this.template = parseBodyTemplate(opts.bodyTemplate);
    this.headers = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'pasarela-notify' };
    if (opts.authHeader) {
      const [name, value] = authHeaderOf(opts.authHeader);
      this.headers[name.toLowerCase()] = value;
    }
    this.fetch = deps.fetch ?? fetch;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.origin = new URL(opts.url).origin;
  }

  async send(msg: NotifyMessage): Promise<void> {
    const body = renderBody(this.template, msg);
    const attempts = this.opts.retries + 1;
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.sleep(this.opts.backoffMs * 2 ** (attempt - 1));
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs);
      try {
        const res = await this.fetch(this.opts.url, { method: 'POST', headers: this.headers, body, signal: controller.signal, redirect: 'manual' });
        await res.arrayBuffer(); // drain, under the same timeout, so the connection is reused
        if (res.ok) return;
        if (res.status < 500) {
          throw new PasarelaError('ERR_NOTIFY_REJECTED', `the ${msg.channel} provider at ${this.origin} refused the message with HTTP ${res.status} (not retried)`);
        }
        last = `HTTP ${res.status}`;
      } catch (err) {
        if (err instanceof PasarelaError) throw err;
        last = controller.signal.aborted ? `no answer within ${this.opts.timeoutMs} ms` : `network error (${describe(err)})`;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new PasarelaError('ERR_NOTIFY_FAILED', `the ${msg.channel} provider at ${this.origin} failed ${attempts} attempt(s); last: ${last}`);
  }
}

function describe(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
