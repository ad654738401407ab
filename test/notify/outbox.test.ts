import { readFileSync } from 'node:fs';
import { OutboxNotifier } from '../../src/notify/outbox';
import { tempOutbox } from '../pin/support';

test('one JSON line per message {to, channel, text, code, at}, creating the directory', async () => {
  const file = tempOutbox(); // in a directory that does not exist yet
  const at = new Date('2030-05-06T07:08:09.000Z');
  const outbox = new OutboxNotifier(file, () => at);
  await outbox.send({ to: '+34600000001', channel: 'sms', text: 'Cl@ve PIN: 012345 "x"\nsecond line', code: '012345' });
  await outbox.send({ to: '+34600000002', channel: 'app', text: 'hola' });
  const lines = readFileSync(file, 'utf8').split('\n');
  expect(lines).toHaveLength(3);
  expect(lines[2]).toBe('');
  expect(JSON.parse(lines[0]!)).toEqual({ to: '+34600000001', channel: 'sms', text: 'Cl@ve PIN: 012345 "x"\nsecond line', code: '012345', at: '2030-05-06T07:08:09.000Z' });
  expect(Object.keys(JSON.parse(lines[0]!) as object)).toEqual(['to', 'channel', 'text', 'code', 'at']);
  expect(JSON.parse(lines[1]!)).toMatchObject({ to: '+34600000002', channel: 'app', code: null });
});

test('concurrent sends (two drivers on one file, as two processes would) never interleave lines', async () => {
  const file = tempOutbox();
  const a = new OutboxNotifier(file);
  const b = new OutboxNotifier(file);
  const long = 'x'.repeat(3000);
  await Promise.all(
    Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).send({ to: `+3460000${String(i).padStart(4, '0')}`, channel: 'sms', text: `${i} ${long}`, code: String(i) })),
  );
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  expect(lines).toHaveLength(100);
  const codes = lines.map((l) => (JSON.parse(l) as { code: string }).code).sort((x, y) => Number(x) - Number(y));
  expect(codes).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
});
