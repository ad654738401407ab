import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { PasarelaError } from '../errors';

export interface FetchLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Whole request (connect + headers + body), in milliseconds. */
  timeoutMs: number;
  /**
   * `refuse` (production): no connection to loopback, private, link-local, CGNAT, multicast or
   * unspecified addresses, whatever name or redirect leads there, so an operator's metadata URL
   * cannot be turned against the broker's own network (SSRF). `allow`: development and tests.
   */
  privateAddresses?: 'allow' | 'refuse';
}

/** Addresses a metadata fetch must not reach when private addresses are refused. */
const INTERNAL = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) INTERNAL.addSubnet(net, bits, 'ipv6');

/** Is this address one a refusing fetch must not connect to? (IPv4-mapped IPv6 is judged as IPv4.) */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return INTERNAL.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return INTERNAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * A DNS lookup for the connection itself that drops internal addresses: the address checked is
 * the address connected to (no second resolution to rebind).
 */
function publicOnlyLookup(hostname: string, options: { all?: boolean; family?: number }, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, options.all ? [] : '');
    const usable = addresses.filter((a) => !isInternalAddress(a.address));
    if (usable.length === 0) {
      const refused = Object.assign(new Error(`${hostname} resolves only to internal addresses (${addresses.map((a) => a.address).join(', ')}), which metadata fetches may not reach`), { code: 'ERR_INTERNAL_ADDRESS' });
      return callback(refused, options.all ? [] : '');
    }
    if (options.all) return callback(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  });
}

/**
 * GET a metadata document with a size and a time limit. The body is read as a stream and the
 * download is cut as soon as it passes `maxBytes`, so a hostile or broken server can neither
 * fill the memory nor hold the caller. Redirects (at most 5) are checked like the first URL.
 * Every failure is a PasarelaError in plain words.
 */
export async function fetchMetadata(url: string, limits: FetchLimits): Promise<string> {
  const deadline = Date.now() + limits.timeoutMs;
  let current = checkUrl(url, url, limits);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let answer: Answer | undefined;
    for (let attempt = 0; !answer; attempt++) {
      try {
        answer = await getOnce(current, limits, deadline);
      } catch (err) {
        if (err instanceof PasarelaError) throw err;
        // A kept-alive connection the server closed meanwhile: a GET can be sent again, once.
        const code = (err as { code?: string }).code;
        if (attempt === 0 && code === 'ECONNRESET' && Date.now() < deadline) continue;
        throw new PasarelaError('ERR_METADATA_FETCH', `could not fetch ${url}: ${reason(err, limits)}`, { cause: err });
      }
    }
    if (answer.kind === 'redirect') {
      current = checkUrl(new URL(answer.location, current).toString(), url, limits);
      continue;
    }
    return answer.body;
  }
  throw new PasarelaError('ERR_METADATA_FETCH', `fetching ${url} was redirected more than ${MAX_REDIRECTS} times`);
}

const MAX_REDIRECTS = 5;

type Answer = { kind: 'redirect'; location: string } | { kind: 'body'; body: string };

function checkUrl(candidate: string, original: string, limits: FetchLimits): URL {
  let parsed: URL;
  try {
    parsed = new URL(candidate);
  } catch {
    throw new PasarelaError('ERR_METADATA_URL', `metadata URL "${candidate}" is not an absolute URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new PasarelaError('ERR_METADATA_URL', `metadata URL "${candidate}": only http and https URLs can be fetched`);
  }
  if (parsed.username || parsed.password) throw new PasarelaError('ERR_METADATA_URL', 'metadata URL must not carry a user name or password');
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (limits.privateAddresses === 'refuse' && isIP(host) && isInternalAddress(host)) {
    throw new PasarelaError('ERR_METADATA_URL', `${candidate === original ? 'metadata URL' : `${original} redirects to`} ${candidate}: ${host} is an internal address, which metadata fetches may not reach`);
  }
  return parsed;
}

const timeoutError = () => Object.assign(new Error('timeout'), { name: 'TimeoutError' });

function getOnce(url: URL, limits: FetchLimits, deadline: number): Promise<Answer> {
  const left = deadline - Date.now();
  if (left <= 0) return Promise.reject(timeoutError());
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Answer>((settle, fail) => {
    // The deadline holds for the whole exchange: a socket timeout would restart with every byte
    // a slow server drips, and such a server could hold the caller for ever.
    const timer = setTimeout(() => {
      fail(timeoutError());
      req.destroy();
    }, left);
    const resolve = (a: Answer) => {
      clearTimeout(timer);
      settle(a);
    };
    const reject = (err: unknown) => {
      clearTimeout(timer);
      fail(err);
    };
    const req = client.get(
      url,
      {
        headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' },
        agent: false,
        ...(limits.privateAddresses === 'refuse' ? { lookup: publicOnlyLookup as unknown as typeof dnsLookup } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
          res.resume();
          return resolve({ kind: 'redirect', location: res.headers.location });
        }
        if (status < 200 || status > 299) {
          res.resume();
          return reject(new PasarelaError('ERR_METADATA_FETCH', `fetching ${url.toString()} answered HTTP ${status}`));
        }
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > limits.maxBytes) {
          reject(new PasarelaError('ERR_METADATA_TOO_LARGE', `${url.toString()} is ${declared} bytes; at most ${limits.maxBytes} bytes are accepted`));
          return res.destroy();
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > limits.maxBytes) {
            reject(new PasarelaError('ERR_METADATA_TOO_LARGE', `${url.toString()} is larger than ${limits.maxBytes} bytes, the most accepted`));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ kind: 'body', body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('aborted', () => reject(Object.assign(new Error('the server closed the connection mid-answer'), { code: 'ECONNRESET' })));
      },
    );
    req.on('error', reject);
  });
}

function reason(err: unknown, limits: FetchLimits): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no complete answer within ${limits.timeoutMs} ms`;
  if (e.code === 'ERR_INTERNAL_ADDRESS') return e.message ?? 'internal address';
  return e.code ?? e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
