import { PasarelaError } from '../errors';

export interface FetchLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** Whole request (connect + headers + body), in milliseconds. */
  timeoutMs: number;
}

/**
 * GET a metadata document with a size and a time limit. The body is read as a stream and the
 * download is cut as soon as it passes `maxBytes`, so a hostile or broken server can neither
 * fill the memory nor hold the caller. Every failure is a PasarelaError in plain words.
 */
export async function fetchMetadata(url: string, limits: FetchLimits): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PasarelaError('ERR_METADATA_URL', `metadata URL "${url}" is not an absolute URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new PasarelaError('ERR_METADATA_URL', `metadata URL "${url}": only http and https URLs can be fetched`);
  }
  if (parsed.username || parsed.password) throw new PasarelaError('ERR_METADATA_URL', 'metadata URL must not carry a user name or password');
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let res: Response | undefined;
  const get = () => fetch(parsed, { signal, redirect: 'follow', headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' } });
  for (let attempt = 0; !res; attempt++) {
    try {
      res = await get();
    } catch (err) {
      // A kept-alive connection the server closed meanwhile: a GET can be sent again, once.
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (attempt === 0 && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') && !signal.aborted) continue;
      throw new PasarelaError('ERR_METADATA_FETCH', `could not fetch ${url}: ${reason(err, limits)}`, { cause: err });
    }
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new PasarelaError('ERR_METADATA_FETCH', `fetching ${url} answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new PasarelaError('ERR_METADATA_TOO_LARGE', `${url} is ${declared} bytes; at most ${limits.maxBytes} bytes are accepted`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    const reader = res.body?.getReader();
    if (reader) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limits.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new PasarelaError('ERR_METADATA_TOO_LARGE', `${url} is larger than ${limits.maxBytes} bytes, the most accepted`);
        }
        chunks.push(Buffer.from(value));
      }
    }
  } catch (err) {
    if (err instanceof PasarelaError) throw err;
    throw new PasarelaError('ERR_METADATA_FETCH', `could not read ${url}: ${reason(err, limits)}`, { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reason(err: unknown, limits: FetchLimits): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no complete answer within ${limits.timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
