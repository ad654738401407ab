import { existsSync, readFileSync } from 'node:fs';
import { formAction, formFields } from './harness';

/**
 * A citizen's browser over plain HTTP (fetch + a cookie jar, no JavaScript), for a broker
 * running as a process (test/support/broker-process.ts) or any other URL. It follows what the
 * broker answers to the SP's AuthnRequest (a 303 to /login/:txn), picks Cl@ve Permanente in
 * the chooser, logs in, and when the OTP page appears (LoA substantial) reads the code from the
 * development outbox (JSON lines `{"to","channel","text","code","at"}`); it returns the fields
 * of the auto-POST form to the SP's ACS. Field names follow the form contract in DESIGN.md
 * (`method`, `username`, `password`, `otp`, hidden `_csrf`).
 *
 *   const citizen = new HttpCitizen({ outboxPath: broker.outboxPath });
 *   const posted = await citizen.login({ method: 'GET', url: redirectUrl });
 *   // posted.action === the ACS, posted.SAMLResponse, posted.RelayState
 *
 * One HttpCitizen is one browser: its cookies (SSO session included) persist between logins.
 */

/** What an SP hands the browser: a redirect (HTTP-Redirect binding) or an auto-POST form (HTTP-POST). */
export type SpAuthnRequest = { method: 'GET'; url: string } | { method: 'POST'; url: string; fields: Record<string, string> };

export interface HttpPage {
  status: number;
  /** The URL that answered. */
  url: string;
  /** Absolute Location of a redirect. */
  location?: string;
  headers: Headers;
  text: string;
}

/** The auto-POST page to the SP: its action (the ACS) and fields. */
export interface PostedResponse {
  action: string;
  SAMLResponse: string;
  RelayState?: string;
  /** Every hidden field of the form. */
  fields: Record<string, string>;
  /** The decoded SAMLResponse. */
  xml: string;
}

export interface CitizenCredentials {
  dni: string;
  password: string;
  /** The registered mobile the SMS codes go to (outbox `to`). */
  mobile: string;
}

/** The demo citizen every embedded broker seeds (src/services.ts DEMO_CITIZEN). */
export const DEMO_CREDENTIALS: CitizenCredentials = { dni: '12345678Z', password: 'Demo-Pasarela-2026', mobile: '+34600000000' };

export interface HttpCitizenOptions {
  /** The broker's development outbox file (for the SMS code). */
  outboxPath: string;
  credentials?: CitizenCredentials;
  /** Headers on every request (e.g. Accept-Language). */
  headers?: Record<string, string>;
}

interface PageForm {
  action: string;
  hidden: Record<string, string>;
  /** Names of the visible inputs. */
  inputs: string[];
  /** Values of the `<button name="method">` buttons that are not disabled. */
  methods: string[];
  disabledMethods: string[];
}

function decode(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function pageForms(html: string): PageForm[] {
  const forms: PageForm[] = [];
  for (const m of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
    const chunk = m[0];
    const action = formAction(chunk);
    if (!action) continue;
    const inputs = [...chunk.matchAll(/<input\b([^>]*)>/g)]
      .map((i) => i[1]!)
      .filter((a) => !/type="hidden"/.test(a))
      .map((a) => /\bname="([^"]+)"/.exec(a)?.[1])
      .filter((n): n is string => n !== undefined);
    const methods: string[] = [];
    const disabledMethods: string[] = [];
    for (const b of chunk.matchAll(/<button\b([^>]*)\bname="method"([^>]*)>/g)) {
      const attrs = b[1]! + b[2]!;
      const value = /\bvalue="([^"]+)"/.exec(attrs)?.[1];
      if (!value) continue;
      (/\bdisabled\b/.test(attrs) ? disabledMethods : methods).push(value);
    }
    forms.push({ action, hidden: formFields(chunk), inputs, methods, disabledMethods });
  }
  return forms;
}

/** The visible error of a page, if any (role=alert), else its title, for failure messages. */
function describePage(page: HttpPage): string {
  const alert = /<p class="error" role="alert"[^>]*>([\s\S]*?)<\/p>/.exec(page.text)?.[1];
  const title = /<title>([\s\S]*?)<\/title>/.exec(page.text)?.[1];
  const main = /<main[^>]*>([\s\S]*?)<\/main>/.exec(page.text)?.[1]?.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return `${page.status} ${page.url}${title ? ` "${decode(title)}"` : ''}${alert ? ` alert: ${decode(alert)}` : ''}${main ? `\n  page: ${decode(main).slice(0, 600)}` : `\n  body: ${page.text.slice(0, 600)}`}`;
}

interface OutboxLine {
  to: string;
  channel: string;
  text: string;
  code: string | null;
  at: string;
}

function outboxLines(file: string): OutboxLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutboxLine);
}

export class HttpCitizen {
  readonly credentials: CitizenCredentials;
  private readonly outboxPath: string;
  private readonly extraHeaders: Record<string, string>;
  /** origin -> cookie name -> value (the broker sets host-only, Path=/ cookies). */
  private readonly jar = new Map<string, Map<string, string>>();

  constructor(opts: HttpCitizenOptions) {
    this.outboxPath = opts.outboxPath;
    this.credentials = opts.credentials ?? DEMO_CREDENTIALS;
    this.extraHeaders = opts.headers ?? {};
  }

  /** Forget every cookie (a new browser). */
  clearCookies(): void {
    this.jar.clear();
  }

  cookies(url: string): Record<string, string> {
    return Object.fromEntries(this.jar.get(new URL(url).origin) ?? []);
  }

  private async fetchPage(url: string, init: { method: 'GET' | 'POST'; form?: Record<string, string> }): Promise<HttpPage> {
    const origin = new URL(url).origin;
    const headers: Record<string, string> = { ...this.extraHeaders };
    const cookies = this.jar.get(origin);
    if (cookies && cookies.size > 0) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair!.indexOf('=');
      if (eq < 1) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let jar = this.jar.get(origin);
      if (!jar) this.jar.set(origin, (jar = new Map()));
      const expired = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const loc = res.headers.get('location');
    return { status: res.status, url, location: loc ? new URL(loc, url).toString() : undefined, headers: res.headers, text: await res.text() };
  }

  get(url: string): Promise<HttpPage> {
    return this.fetchPage(url, { method: 'GET' });
  }

  post(url: string, form: Record<string, string>): Promise<HttpPage> {
    return this.fetchPage(url, { method: 'POST', form });
  }

  /** Send the SP's AuthnRequest to the broker: follow its redirect, or submit its auto-POST form. Returns the broker's answer. */
  send(req: SpAuthnRequest): Promise<HttpPage> {
    return req.method === 'GET' ? this.get(req.url) : this.post(req.url, req.fields);
  }

  /**
   * From the broker's answer to the SP's request to the auto-POST page back to the SP: follows
   * redirects, picks Cl@ve Permanente, fills username/password, then the SMS code when asked.
   * Throws, describing the page, on anything else (an error page, a disabled method, …).
   */
  async signIn(first: HttpPage, opts: { method?: string } = {}): Promise<PostedResponse> {
    const method = opts.method ?? 'permanente';
    let page = first;
    let outboxSeen = outboxLines(this.outboxPath).length;
    for (let step = 0; step < 12; step++) {
      if (page.status >= 300 && page.status < 400) {
        if (!page.location) throw new Error(`redirect without Location: ${describePage(page)}`);
        page = await this.get(page.location);
        continue;
      }
      if (page.status !== 200) throw new Error(`the broker answered ${describePage(page)}`);
      const auto = posted(page.text);
      if (auto) return auto;
      const forms = pageForms(page.text);
      const chooser = forms.find((f) => f.methods.length + f.disabledMethods.length > 0);
      const fillable = forms.find((f) => f.inputs.length > 0);
      if (chooser) {
        if (!chooser.methods.includes(method)) {
          throw new Error(`the chooser does not offer "${method}" (enabled: ${chooser.methods.join(', ') || 'none'}; disabled: ${chooser.disabledMethods.join(', ') || 'none'}): ${describePage(page)}`);
        }
        page = await this.post(new URL(chooser.action, page.url).toString(), { ...chooser.hidden, method });
      } else if (fillable) {
        const fields: Record<string, string> = { ...fillable.hidden };
        for (const name of fillable.inputs) {
          if (name === 'username' || name === 'dni') fields[name] = this.credentials.dni;
          else if (name === 'password' || name === 'current_password') fields[name] = this.credentials.password;
          else if (name === 'otp' || name === 'pin') {
            fields[name] = await this.waitForCode(outboxSeen);
            outboxSeen = outboxLines(this.outboxPath).length;
          } else throw new Error(`the citizen does not know what to put in "${name}": ${describePage(page)}`);
        }
        if (fields.password !== undefined) outboxSeen = outboxLines(this.outboxPath).length;
        page = await this.post(new URL(fillable.action, page.url).toString(), fields);
      } else {
        throw new Error(`no form the citizen can fill: ${describePage(page)}`);
      }
    }
    throw new Error(`still no auto-POST page after 12 steps: ${describePage(page)}`);
  }

  /** send + signIn. */
  async login(req: SpAuthnRequest, opts: { method?: string } = {}): Promise<PostedResponse> {
    return this.signIn(await this.send(req), opts);
  }

  /** The code of the first message with a code to our mobile after line `seen` of the outbox (waits up to 5 s). */
  private async waitForCode(seen: number): Promise<string> {
    for (let i = 0; i < 50; i++) {
      const fresh = outboxLines(this.outboxPath)
        .slice(seen)
        .filter((l) => l.to === this.credentials.mobile && l.code);
      if (fresh.length > 0) return fresh.at(-1)!.code!;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no SMS code to ${this.credentials.mobile.slice(0, 4)}… in ${this.outboxPath}`);
  }
}

/** The auto-POST form to the SP (form id="saml-post"), or undefined when the page is something else. */
export function posted(html: string): PostedResponse | undefined {
  const action = formAction(html, 'saml-post');
  if (!action) return undefined;
  const form = /<form method="post" action="[^"]+" id="saml-post">[\s\S]*?<\/form>/.exec(html)?.[0] ?? '';
  const fields = formFields(form);
  if (!fields.SAMLResponse) return undefined;
  return { action, SAMLResponse: fields.SAMLResponse, RelayState: fields.RelayState, fields, xml: Buffer.from(fields.SAMLResponse, 'base64').toString('utf8') };
}
