import path from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { createNotifier } from '../../src/notify';
import { notifyConfigSchema } from '../../src/notify/config';
import { HttpNotifier } from '../../src/notify/http';
import { OutboxNotifier } from '../../src/notify/outbox';

const ROOT = path.resolve(__dirname, '../..');
const load = (overrides: Record<string, unknown>) => loadConfig({ root: ROOT, env: {}, overrides: { log: { level: 'silent' }, ...overrides } });

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

test('the default configuration: outbox at var/outbox.jsonl, every http and rate setting filled in', () => {
  const c = load({});
  expect(c.notify).toEqual({
    driver: 'outbox',
    outboxPath: 'var/outbox.jsonl',
    http: { timeoutMs: 5000, retries: 2, backoffMs: 250, bodyTemplate: expect.stringContaining('{text}') as unknown },
    rate: { perPhonePerHour: 10, perCitizenPerHour: 6 },
  });
  expect(c.otp.pin.ttlSeconds).toBe(600);
  expect(c.otp.otp.ttlSeconds).toBe(300);
  const n = createNotifier(c);
  expect(n).toBeInstanceOf(OutboxNotifier);
  expect((n as OutboxNotifier).file).toBe(path.join(ROOT, 'var/outbox.jsonl'));
});

test('driver "http" without notify.http.url is refused, naming the key', () => {
  const err = configError(() => load({ notify: { driver: 'http' } }));
  expect(err.key).toBe('notify.http.url');
  expect(err.message).toContain('notify.http.url');
});

test('a body template that is not JSON, or lacks {text}, is refused', () => {
  expect(configError(() => load({ notify: { driver: 'http', http: { url: 'https://sms.test/send', bodyTemplate: '{"to":"{to}", text' } } })).key).toBe(
    'notify.http.bodyTemplate',
  );
  expect(configError(() => load({ notify: { driver: 'http', http: { url: 'https://sms.test/send', bodyTemplate: '{"to":"{to}"}' } } })).message).toContain(
    '{text}',
  );
});

test('unknown keys are refused (strict)', () => {
  expect(configError(() => load({ notify: { http: { retry: 3 } } })).key).toMatch(/^notify\.http/);
  expect(notifyConfigSchema.safeParse({ driver: 'outbox', outboxPath: 'x', rate: { perHour: 1 } }).success).toBe(false);
  expect(notifyConfigSchema.safeParse({ driver: 'outbox', outboxPath: 'x', http: { retries: 50 } }).success).toBe(false);
});

test('driver "http" builds the HTTP notifier', () => {
  const c = load({ notify: { driver: 'http', http: { url: 'https://sms.test/send', authHeader: 'Bearer t' } } });
  expect(createNotifier(c)).toBeInstanceOf(HttpNotifier);
});

test('in production the outbox driver is refused at start with a ConfigError', () => {
  const c = { ...load({}), env: 'production' as const };
  const err = configError(() => createNotifier(c));
  expect(err.key).toBe('notify.driver');
  expect(err.message).toMatch(/production/);
});

test('in production the provider URL must be https', () => {
  const c = load({ notify: { driver: 'http', http: { url: 'http://sms.test/send' } } });
  expect(configError(() => createNotifier({ ...c, env: 'production' })).key).toBe('notify.http.url');
  expect(createNotifier({ ...c, notify: { ...c.notify, http: { ...c.notify.http, url: 'https://sms.test/send' } }, env: 'production' })).toBeInstanceOf(HttpNotifier);
});
