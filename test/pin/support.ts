import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { formAction, formFields, type Agent, type BrokerUnderTest } from '../support/harness';

/** A fresh outbox file path (the directory is created by the driver on first send). */
export function tempOutbox(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'pasarela-outbox-')), 'nested', 'outbox.jsonl');
}

export interface OutboxLine {
  to: string;
  channel: 'sms' | 'app';
  text: string;
  code: string | null;
  at: string;
}

export function readOutbox(file: string): OutboxLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutboxLine);
}

/** Messages sent to one phone number, oldest first. */
export function messagesTo(file: string, phone: string): OutboxLine[] {
  return readOutbox(file).filter((m) => m.to === phone);
}

/** The code of the last message to `phone`; fails the test when there is none. */
export function lastCode(file: string, phone: string): string {
  const last = messagesTo(file, phone).at(-1);
  if (!last?.code) throw new Error(`no message with a code to ${phone} in the outbox`);
  return last.code;
}

/** A controllable clock for `startBroker({ now })`: real time plus an offset. */
export function testClock(): { now: () => Date; advance(ms: number): void; reset(): void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
    reset: () => {
      offset = 0;
    },
  };
}

/** Chooser -> pick `method`; returns the method's path (`/login/<txn>/<method>`). */
export async function pickMethod(agent: Agent, chooserPath: string, method: string): Promise<string> {
  const chooser = await agent.get(chooserPath).expect(200);
  const picked = await agent.post(chooserPath).type('form').send({ _csrf: formFields(chooser.text)._csrf, method }).expect(303);
  return picked.headers.location!;
}

/** GET a form page, then POST `fields` to the form's action with its CSRF token. */
export async function submit(agent: Agent, pagePath: string, fields: Record<string, string>, formIndex = 0): Promise<request.Response> {
  const page = await agent.get(pagePath).expect(200);
  return postForm(agent, page.text, fields, formIndex);
}

/** POST `fields` to the n-th form of an already loaded page, with that page's CSRF token. */
export function postForm(agent: Agent, html: string, fields: Record<string, string>, formIndex = 0): request.Test {
  const actions = [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((m) => m[1]!);
  const action = actions[formIndex];
  if (!action) throw new Error(`no form #${formIndex} on the page:\n${html.slice(0, 800)}`);
  return agent.post(action).type('form').send({ _csrf: formFields(html)._csrf, ...fields });
}

/** The auto-POST page to the SP: ACS, SAMLResponse and its XML. */
export function posted(text: string): { action: string; samlResponse: string; relayState?: string; xml: string } {
  const fields = formFields(text);
  const action = formAction(text, 'saml-post');
  if (!action || !fields.SAMLResponse) throw new Error(`not an auto-POST page:\n${text.slice(0, 800)}`);
  return { action, samlResponse: fields.SAMLResponse, relayState: fields.RelayState, xml: Buffer.from(fields.SAMLResponse, 'base64').toString('utf8') };
}

/** The visible error of a page (role=alert), for comparing answers. */
/** The message the page announces: the error summary's entries (form pages) or an error page's alert. */
export function alertText(html: string): string | undefined {
  const summary = /<div class="error-summary" role="alert"[^>]*>[\s\S]*?<ul>([\s\S]*?)<\/ul>/.exec(html)?.[1];
  if (summary !== undefined) {
    return [...summary.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, '').trim()).join(' ');
  }
  return /<p class="error" role="alert"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];
}

let ipSerial = 0;
/**
 * A browser with its own client address (the broker under test trusts X-Forwarded-For), so the
 * per-address abuse counters of one test do not spill into the next. `net` keeps files apart.
 */
export function browserFromOwnAddress(b: BrokerUnderTest, net: '198.51' | '203.0'): Agent {
  ipSerial++;
  return request.agent(b.app).set('X-Forwarded-For', `${net}.${Math.floor(ipSerial / 250)}.${ipSerial % 250}`);
}
