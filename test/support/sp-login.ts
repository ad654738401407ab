import { inflateRawSync } from 'node:zlib';
import type { HttpCitizen, HttpPage, PostedResponse } from './http-citizen';

/**
 * One login through a real SP stack (Apache + mellon / Shibboleth, SimpleSAMLphp): the
 * citizen opens the SP's protected page, the SP redirects to the broker with its
 * AuthnRequest (HTTP-Redirect), the citizen signs in (HttpCitizen), the auto-POST goes to the
 * SP's ACS, and the SP redirects back to the protected page, which is returned.
 *
 * Anything else (the SP answering 4xx/5xx at the ACS, no redirect to the broker, a protected
 * page that is not 200) throws with the status, the start of the body and the SP's logs, so a
 * test fails saying why the SP refused.
 */

export interface SentRequest {
  /** The redirect to the broker's SSO endpoint. */
  url: URL;
  /** The inflated AuthnRequest. */
  xml: string;
  sigAlg: string | null;
  signature: string | null;
}

export interface SpLogin {
  request: SentRequest;
  posted: PostedResponse;
  /** The SP's answer to the auto-POST. */
  acs: HttpPage;
  /** The protected page, 200. */
  page: HttpPage;
}

const isRedirect = (p: HttpPage): boolean => p.status >= 300 && p.status < 400 && p.location !== undefined;

function excerpt(p: HttpPage): string {
  const text = p.text
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
    .replace(/\s+/g, ' ')
    .trim();
  return `${p.status} ${p.url}${p.location ? ` -> ${p.location}` : ''}\n  ${text.slice(0, 800)}`;
}

export async function loginThroughSp(citizen: HttpCitizen, startUrl: string, brokerBaseUrl: string, logs: () => string): Promise<SpLogin> {
  const broker = new URL(brokerBaseUrl).origin;
  const fail = (what: string, p: HttpPage): Error => new Error(`${what}: ${excerpt(p)}\n${logs()}`);

  let page = await citizen.get(startUrl);
  for (let hop = 0; hop < 5 && isRedirect(page) && new URL(page.location!).origin !== broker; hop++) page = await citizen.get(page.location!);
  if (!isRedirect(page) || new URL(page.location!).origin !== broker) throw fail('the SP did not send the citizen to the broker', page);

  const url = new URL(page.location!);
  const samlRequest = url.searchParams.get('SAMLRequest');
  if (!samlRequest) throw fail('the redirect to the broker carries no SAMLRequest (HTTP-Redirect binding expected)', page);
  const request: SentRequest = {
    url,
    xml: inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8'),
    sigAlg: url.searchParams.get('SigAlg'),
    signature: url.searchParams.get('Signature'),
  };

  const posted = await citizen.signIn(page);
  const acs = await citizen.post(posted.action, posted.fields);
  if (!isRedirect(acs)) throw fail('the SP did not accept the Response at its ACS', acs);

  page = await citizen.get(acs.location!);
  for (let hop = 0; hop < 5 && isRedirect(page) && new URL(page.location!).origin !== broker; hop++) page = await citizen.get(page.location!);
  if (page.status !== 200) throw fail('the protected page did not open after the login', page);
  return { request, posted, acs, page };
}

/** The JSON the protected page prints (test/interop/apache/env.cgi, the SimpleSAMLphp page). */
export function pageJson(login: SpLogin): Record<string, string> {
  try {
    return JSON.parse(login.page.text) as Record<string, string>;
  } catch {
    throw new Error(`the protected page is not JSON: ${login.page.text.slice(0, 500)}`);
  }
}
