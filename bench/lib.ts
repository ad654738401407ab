/** Shared pieces of the benchmark: a broker child process, a cookie jar, signed requests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import { LOA, SIG_ALG } from '../src/saml/constants';
import { buildAuthnRequestXml, newRequestId, signAuthnRequestXml, type SpSigner } from '../test/support/sp-requests';

export const ROOT = path.resolve(__dirname, '..');
export const SP_ENTITY = 'https://bench-sp.test/metadata';
export const SP_ACS = 'https://bench-sp.test/acs';
const signAsync = promisify(sign);

export { freePort } from '../test/support/ports';

export class Cookies {
  private jar = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }
  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export function hidden(html: string, name: string): string {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} in page:\n${html.slice(0, 600)}\n…\n${html.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").slice(0, 800)}`);
  return m[1]!;
}

/** A fresh, signed HTTP-Redirect AuthnRequest path for the bench SP. */
export async function signedRequestPath(ssoUrl: string, key: KeyObject, loa: keyof typeof LOA): Promise<string> {
  const xml = buildAuthnRequestXml({
    issuer: SP_ENTITY,
    destination: ssoUrl,
    id: newRequestId(),
    acsUrl: SP_ACS,
    loa: LOA[loa],
    comparison: 'minimum',
    nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    prefix: 'samlp',
  });
  let q = `SAMLRequest=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}&RelayState=bench&SigAlg=${encodeURIComponent(SIG_ALG.rsaSha256)}`;
  q += `&Signature=${encodeURIComponent((await signAsync('sha256', Buffer.from(q), key)).toString('base64'))}`;
  return `/saml/sso?${q}`;
}

/** A fresh, signed HTTP-POST AuthnRequest (Cl@ve 2 style: enveloped signature, plain base64) as a form body. */
export async function signedPostBody(ssoUrl: string, signer: SpSigner, loa: keyof typeof LOA): Promise<string> {
  const xml = buildAuthnRequestXml({
    issuer: SP_ENTITY,
    destination: ssoUrl,
    id: newRequestId(),
    acsUrl: SP_ACS,
    loa: LOA[loa],
    comparison: 'minimum',
    nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    providerName: 'bench_sp;Bench',
    spType: 'public',
    prefix: 'saml2p',
  });
  const signed = signAuthnRequestXml(xml, { signer, sigAlg: SIG_ALG.rsaSha256, keyInfo: false });
  return new URLSearchParams({ SAMLRequest: Buffer.from(signed, 'utf8').toString('base64'), RelayState: 'bench' }).toString();
}

/** One browser: a cookie jar and a fetch that never follows redirects. */
export class Browser {
  readonly cookies = new Cookies();
  constructor(private readonly base: string) {}
  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url.startsWith('http') ? url : this.base + url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.cookies.header() },
    });
    this.cookies.take(res);
    return res;
  }
  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.go(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  }
}

/** The last one-time code sent to `phone` in the outbox file. */
export function lastCodeFor(outbox: string, phone: string): string {
  const lines = readFileSync(outbox, 'utf8').trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = JSON.parse(lines[i]!) as { to: string; code: string | null };
    if (m.to === phone && m.code) return m.code;
  }
  throw new Error(`no code for ${phone} in the outbox`);
}

export async function startBrokerProcess(opts: { port: number; operatorPort: number; env: Record<string, string>; nodeArgs?: string[] }): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(opts.port), HOST: '127.0.0.1', OPERATOR_PORT: String(opts.operatorPort), ...opts.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const ready = `http://127.0.0.1:${opts.operatorPort}/readyz`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(ready)).ok) return child;
    } catch {
      /* not up yet */
    }
    if (i > 300 || child.exitCode !== null) throw new Error('broker did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The median of unsorted values (percentile 50: the lower middle one for an even count). */
export function median(xs: readonly number[]): number {
  return percentile([...xs].sort((a, b) => a - b), 50);
}

/**
 * What a page announces to the citizen: the error summary's entries (form pages), else an error
 * page's alert; attempt counts normalised, so "N tries left" compares across DNIs.
 */
export function announced(html: string): string {
  const summary = /<div class="error-summary"[\s\S]*?<ul>([\s\S]*?)<\/ul>/.exec(html)?.[1];
  const text = summary ?? /<p class="error" role="alert"[^>]*>([^<]*)/.exec(html)?.[1] ?? '';
  return text.replace(/<[^>]+>/g, '').replace(/\d+ intentos?/g, 'N intentos').trim();
}
