import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PasarelaError } from '../../src/errors';
import { HttpNotifier, renderBody, parseBodyTemplate, type HttpNotifierOptions } from '../../src/notify/http';
import { DEFAULT_BODY_TEMPLATE } from '../../src/notify/config';

interface Seen {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real provider on loopback: each request is answered by the next handler (the last one repeats). */
async function provider(handlers: ((req: IncomingMessage, res: ServerResponse) => void)[]) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method!, headers: req.headers, body });
      const handler = handlers[Math.min(seen.length - 1, handlers.length - 1)]!;
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const status = (code: number, body = '{}') => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(code, { 'content-type': 'application/json' }).end(body);
};
const never = () => undefined; // accept the request, never answer

const MSG = { to: '+34600111222', channel: 'sms' as const, text: 'Cl@ve PIN: 123456', code: '123456' };

function notifier(url: string, over: Partial<HttpNotifierOptions> = {}, sleeps: number[] = []): HttpNotifier {
  return new HttpNotifier(
    { url, bodyTemplate: DEFAULT_BODY_TEMPLATE, timeoutMs: 2000, retries: 2, backoffMs: 10, ...over },
    { sleep: async (ms) => void sleeps.push(ms) },
  );
}

async function failure(p: Promise<unknown>): Promise<PasarelaError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PasarelaError);
    return err as PasarelaError;
  }
  throw new Error('expected the send to fail');
}

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

test('success: one POST with the JSON body from the template and the auth header', async () => {
  const p = await provider([status(200)]);
  servers.push(p);
  const template = '{"recipient":"{to}","message":{"body":"{text}","kind":"{channel}"},"sender":"Cl@ve","tags":["{channel}", 1]}';
  await notifier(p.url, { bodyTemplate: template, authHeader: 'Bearer s3cret' }).send(MSG);
  expect(p.seen).toHaveLength(1);
  expect(p.seen[0]!.method).toBe('POST');
  expect(p.seen[0]!.headers.authorization).toBe('Bearer s3cret');
  expect(p.seen[0]!.headers['content-type']).toBe('application/json');
  expect(JSON.parse(p.seen[0]!.body)).toEqual({
    recipient: '+34600111222',
    message: { body: 'Cl@ve PIN: 123456', kind: 'sms' },
    sender: 'Cl@ve',
    tags: ['sms', 1],
  });
});

test('a custom auth header "Name: value"', async () => {
  const p = await provider([status(202)]);
  servers.push(p);
  await notifier(p.url, { authHeader: 'X-Api-Key: k-123' }).send(MSG);
  expect(p.seen[0]!.headers['x-api-key']).toBe('k-123');
  expect(p.seen[0]!.headers.authorization).toBeUndefined();
});

test('values are JSON-escaped: quotes, backslashes, newlines and placeholders in the text stay text', () => {
  const text = 'a "quoted" \\ back\nslash {to} </script> ñ';
  const body = renderBody(parseBodyTemplate(DEFAULT_BODY_TEMPLATE), { to: '+34"}', text, channel: 'app' });
  expect(JSON.parse(body)).toEqual({ to: '+34"}', text, channel: 'app' });
});

test('500 then success: retried with backoff, delivered once', async () => {
  const p = await provider([status(500), status(503), status(200)]);
  servers.push(p);
  const sleeps: number[] = [];
  await notifier(p.url, { retries: 2, backoffMs: 10 }, sleeps).send(MSG);
  expect(p.seen).toHaveLength(3);
  expect(sleeps).toEqual([10, 20]);
  expect(new Set(p.seen.map((s) => s.body)).size).toBe(1);
});

test('5xx every time: bounded retries, then a clear error naming the provider and the last answer', async () => {
  const p = await provider([status(502)]);
  servers.push(p);
  const err = await failure(notifier(p.url, { retries: 2 }).send(MSG));
  expect(p.seen).toHaveLength(3);
  expect(err.code).toBe('ERR_NOTIFY_FAILED');
  expect(err.message).toContain(new URL(p.url).origin);
  expect(err.message).toContain('3 attempt(s)');
  expect(err.message).toContain('HTTP 502');
  expect(err.message).not.toContain('+34600111222');
  expect(err.message).not.toContain('123456');
});

test('timeout: each attempt is aborted after timeoutMs, retried, then a clear error', async () => {
  const p = await provider([never]);
  servers.push(p);
  const started = Date.now();
  const err = await failure(notifier(p.url, { timeoutMs: 150, retries: 1 }).send(MSG));
  expect(Date.now() - started).toBeLessThan(2000);
  expect(p.seen).toHaveLength(2);
  expect(err.code).toBe('ERR_NOTIFY_FAILED');
  expect(err.message).toContain('no answer within 150 ms');
});

test('a slow body counts against the timeout too', async () => {
  const p = await provider([
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{'); // headers sent, body never finished
    },
  ]);
  servers.push(p);
  const err = await failure(notifier(p.url, { timeoutMs: 150, retries: 0 }).send(MSG));
  expect(err.message).toContain('no answer within 150 ms');
});

test.each([400, 401, 404, 422, 429])('HTTP %i is the provider refusing the message: not retried', async (code) => {
  const p = await provider([status(code)]);
  servers.push(p);
  const err = await failure(notifier(p.url, { retries: 3 }).send(MSG));
  expect(p.seen).toHaveLength(1);
  expect(err.code).toBe('ERR_NOTIFY_REJECTED');
  expect(err.message).toContain(`HTTP ${code}`);
});

test('network error (nothing listening): retried, then a clear error', async () => {
  const p = await provider([status(200)]);
  const url = p.url;
  await p.close();
  const sleeps: number[] = [];
  const err = await failure(notifier(url, { retries: 2 }, sleeps).send(MSG));
  expect(sleeps).toHaveLength(2);
  expect(err.code).toBe('ERR_NOTIFY_FAILED');
  expect(err.message).toMatch(/network error \(ECONNREFUSED/);
});
