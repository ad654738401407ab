import { NotificationService, NotifyRateLimitedError, maskPhone, type Notifier, type NotifyMessage } from '../../src/notify';
import type { KeyValueStore } from '../../src/store/types';
import { describeEachPair } from '../support/pairs';

class Recorder implements Notifier {
  sent: NotifyMessage[] = [];
  async send(msg: NotifyMessage): Promise<void> {
    this.sent.push(msg);
  }
}

const sms = (to: string): NotifyMessage => ({ to, channel: 'sms', text: 'Cl@ve PIN: 000000', code: '000000' });

test('maskPhone keeps the last three digits only', () => {
  expect(maskPhone('+34 600 111 222')).toBe('•••222');
});

describeEachPair('notification rate limits', (pair) => {
  let store: KeyValueStore;
  beforeAll(async () => {
    store = await pair.makeStore();
  });

  test('per phone number: several citizens on one phone share its limit', async () => {
    const out = new Recorder();
    const svc = new NotificationService(out, store, { perPhonePerHour: 3, perCitizenPerHour: 10 });
    for (const who of ['c1', 'c2', 'c3']) await svc.send(sms('+34611000001'), who);
    const err = await svc.send(sms('+34611000001'), 'c4').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotifyRateLimitedError);
    expect((err as NotifyRateLimitedError).scope).toBe('phone');
    expect((err as NotifyRateLimitedError).code).toBe('ERR_NOTIFY_RATE_LIMITED');
    expect(out.sent).toHaveLength(3);
    await svc.send(sms('+34611000002'), 'c4'); // another phone is not affected
    expect(out.sent).toHaveLength(4);
  });

  test('per citizen, whatever the phone', async () => {
    const out = new Recorder();
    const svc = new NotificationService(out, store, { perPhonePerHour: 10, perCitizenPerHour: 2 });
    await svc.send(sms('+34622000001'), 'citizen-x');
    await svc.send(sms('+34622000002'), 'citizen-x');
    await expect(svc.send(sms('+34622000003'), 'citizen-x')).rejects.toMatchObject({ scope: 'citizen' });
    expect(out.sent).toHaveLength(2);
  });

  test('the counters are shared by broker nodes on the same store', async () => {
    if (!pair.sharedStore) return;
    const other = await pair.makeStore();
    const rate = { perPhonePerHour: 2, perCitizenPerHour: 10 };
    await new NotificationService(new Recorder(), store, rate).send(sms('+34633000001'), 'a');
    await new NotificationService(new Recorder(), other, rate).send(sms('+34633000001'), 'b');
    await expect(new NotificationService(new Recorder(), store, rate).send(sms('+34633000001'), 'c')).rejects.toBeInstanceOf(NotifyRateLimitedError);
  });
});
