import http from 'node:http';
import https from 'node:https';

/** A bounded HTTP exchange for CRLs and OCSP: one deadline for the whole exchange, a size cap, no redirects. */
export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  maxBytes: number;
}

export interface HttpResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export type HttpFetcher = (req: HttpRequest) => Promise<HttpResponse>;

export class FetchError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'network' | 'too_large' | 'scheme',
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

/** Only http: and https: locations (ldap: distribution points are skipped). */
export function isFetchableUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export const fetchBytes: HttpFetcher = (r) =>
  new Promise<HttpResponse>((resolve, reject) => {
    if (!isFetchableUrl(r.url)) {
      reject(new FetchError(`unsupported URL ${r.url}`, 'scheme'));
      return;
    }
    const u = new URL(r.url);
    const lib = u.protocol === 'https:' ? https : http;
    let settled = false;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = lib.request(
      u,
      {
        method: r.method ?? 'GET',
        headers: { ...(r.headers ?? {}), ...(r.body ? { 'content-length': String(r.body.length) } : {}) },
        // No connection reuse: a hung keep-alive socket must not outlive the deadline.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > r.maxBytes) {
          req.destroy();
          done(new FetchError(`${r.url} answered ${declared} bytes, more than the ${r.maxBytes} allowed`, 'too_large'));
          return;
        }
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > r.maxBytes) {
            req.destroy();
            done(new FetchError(`${r.url} answered more than the ${r.maxBytes} bytes allowed`, 'too_large'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(null, { status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
        res.on('error', (err) => done(new FetchError(`${r.url}: ${err.message}`, 'network')));
      },
    );
    // Request events are asynchronous, so `done` never runs before this line.
    const timer = setTimeout(() => {
      req.destroy();
      done(new FetchError(`${r.url} did not answer within ${r.timeoutMs} ms`, 'timeout'));
    }, r.timeoutMs);
    req.on('error', (err) => done(new FetchError(`${r.url}: ${err.message}`, 'network')));
    req.end(r.body);
  });
