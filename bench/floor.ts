/**
 * The floor of an SSO round trip on this machine: a bare `node:http` server that, per request,
 * reads the request, makes the two RSA-2048 signatures a response carries (sequentially, as the
 * Response's signature covers the Assertion's, on the libuv pool in one process or inline in
 * cluster workers, exactly as the broker does) and answers with the broker's own auto-POST page,
 * headers and body byte for byte, captured from the broker in the same run. No parsing, no
 * store, no XML, no middleware: what is left is Node's HTTP, the kernel's loopback and the two
 * signatures. `npm run bench` drives it with the same client, messages and concurrency as the
 * broker, so its efficiency, its 2-worker scaling and its p99 are the ceiling any server on
 * Node's HTTP stack can reach here — the figure the broker's own are read against. In mode
 * `crypto` (FloorMode) it also does the protocol's own crypto per request: the bound of any broker
 * of this profile, whatever its parser.
 *
 * Run as a child: `node --import tsx bench/floor.ts <port> <workers> <capture.json> pool|inline [bare|crypto]`; it prints
 * `PASARELA_FLOOR {"pids":[…]}` when every process listens. CPU is read from /proc/<pid>/stat
 * (user + system of every thread, pool threads included) by `floorCpuSeconds`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { procCpuSeconds } from './proc';

export interface Capture {
  /** The broker's response headers for one SSO (name → value; Set-Cookie as a list), Date and Content-Length left out. */
  headers: Record<string, string | string[]>;
  body: string;
  /** The bench SP's public key (SPKI PEM): the `crypto` floor verifies each request's signature with it. */
  spPublicKey: string;
}

/**
 * `bare`: the two signatures and the page, nothing else. `crypto`: also what the protocol itself
 * makes every conforming IdP do per SSO beyond its two signatures, whatever its parser: decode the
 * binding (Redirect: percent-decoding, base64, raw inflate; POST: the form body, base64), verify the
 * SP's RSA signature (one `crypto.verify` with the SP's key: over the query octets on Redirect,
 * over a SignedInfo-sized buffer on POST), the SHA-256 digests of an enveloped signature
 * (POST: over the request and its SignedInfo; the response: over the Assertion, the Response and
 * their two SignedInfos, at the captured response's own sizes), and the base64 of the Response.
 * No XML is parsed, walked or built, no check is made: the cost that no implementation of the
 * profile avoids, so its efficiency bounds every broker's from above on this machine.
 */
export type FloorMode = 'bare' | 'crypto';

export interface Floor {
  child: ChildProcess;
  pids: number[];
}

/** `inline`: one process signing on its event loop with one pool thread, as one cluster worker (and the broker's RSA_SIGNING=inline). */
export async function startFloor(port: number, workers: number, capturePath: string, inline = false, mode: FloorMode = 'bare'): Promise<Floor> {
  const child = spawn(process.execPath, ['--import', 'tsx', __filename, String(port), String(workers), capturePath, inline ? 'inline' : 'pool', mode], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, UV_THREADPOOL_SIZE: inline ? '1' : String(availableParallelism()) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /PASARELA_FLOOR (\{.*\})/.exec(out);
      if (m) resolve((JSON.parse(m[1]!) as { pids: number[] }).pids);
    });
    child.once('exit', (code) => reject(new Error(`the floor server exited with ${code}`)));
  });
  return { child, pids };
}

/** CPU seconds (user + system, every thread) of the floor's processes so far. */
export function floorCpuSeconds(floor: Floor): number {
  return floor.pids.reduce((sum, pid) => sum + procCpuSeconds(`/proc/${pid}/stat`), 0);
}

export async function stopFloor(floor: Floor): Promise<void> {
  if (floor.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    floor.child.once('exit', () => resolve());
    floor.child.kill('SIGTERM');
  });
}

/** The per-request work of the `crypto` floor (see FloorMode), as a function of the request's target and body. */
function protocolCrypto(capture: Capture): (url: string, body: string) => void {
  const spKey = createPublicKey(capture.spPublicKey);
  const signedInfo = Buffer.alloc(600, 2);
  const fakeSignature = Buffer.alloc(256, 3);
  // The Response the broker sent, from its page: its size and its Assertion's are what get digested.
  const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(capture.body)?.[1];
  if (!samlResponse) throw new Error('the captured page has no SAMLResponse');
  const responseXml = Buffer.from(samlResponse, 'base64');
  const text = responseXml.toString('utf8');
  const assertionStart = text.indexOf('<saml:Assertion');
  const assertionEnd = text.indexOf('</saml:Assertion>');
  if (assertionStart < 0 || assertionEnd < 0) throw new Error('the captured Response has no saml:Assertion');
  const assertion = responseXml.subarray(assertionStart, assertionEnd + '</saml:Assertion>'.length);
  const digest = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
  return (url, body) => {
    if (body === '') {
      // HTTP-Redirect: SAMLRequest=…&RelayState=…&SigAlg=…&Signature=… (the bench's own order).
      const query = url.slice(url.indexOf('?') + 1);
      const at = query.indexOf('&Signature=');
      const params = new URLSearchParams(query);
      inflateRawSync(Buffer.from(params.get('SAMLRequest') ?? '', 'base64'), { maxOutputLength: 256 * 1024 });
      const ok = verify('sha256', Buffer.from(query.slice(0, at), 'ascii'), spKey, Buffer.from(params.get('Signature') ?? '', 'base64'));
      if (!ok) throw new Error('the Redirect request signature did not verify');
    } else {
      // HTTP-POST: the form, the base64, the request's digest and SignedInfo's, one verify.
      const xml = Buffer.from(new URLSearchParams(body).get('SAMLRequest') ?? '', 'base64');
      digest(xml);
      digest(signedInfo);
      verify('sha256', signedInfo, spKey, fakeSignature);
    }
    digest(assertion);
    digest(signedInfo);
    digest(responseXml);
    digest(signedInfo);
    responseXml.toString('base64');
  };
}

function serve(port: number, inline: boolean, capture: Capture, mode: FloorMode): void {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  // A SignedInfo is about 600 bytes. The digests over the Assertion and Response are not the bare
  // floor's; the `crypto` floor adds them (protocolCrypto).
  const signedInfo = Buffer.alloc(600, 1);
  const body = Buffer.from(capture.body);
  const headers = { ...capture.headers, 'content-length': String(body.length) };
  const css = Buffer.from('body{}');
  const perRequest = mode === 'crypto' ? protocolCrypto(capture) : undefined;
  const signTwice = (done: () => void): void => {
    if (inline) {
      sign('sha256', signedInfo, key);
      sign('sha256', signedInfo, key);
      done();
      return;
    }
    sign('sha256', signedInfo, key, () => sign('sha256', signedInfo, key, () => done()));
  };
  createServer((req, res) => {
    if (req.url?.startsWith('/static/')) {
      res.writeHead(200, { 'content-type': 'text/css', 'content-length': String(css.length) }).end(css);
      return;
    }
    let requestBody = '';
    if (perRequest) req.setEncoding('latin1').on('data', (d: string) => (requestBody += d));
    else req.on('data', () => {});
    req.on('end', () => {
      perRequest?.(req.url ?? '', requestBody);
      signTwice(() => {
        res.writeHead(200, headers);
        res.end(body);
      });
    });
  }).listen(port, '127.0.0.1', () => process.send?.('listening') ?? console.log(`PASARELA_FLOOR ${JSON.stringify({ pids: [process.pid] })}`));
}

if (require.main === module) {
  const [portArg, workersArg, capturePath, signing, modeArg] = process.argv.slice(2);
  const mode: FloorMode = modeArg === 'crypto' ? 'crypto' : 'bare';
  const port = Number(portArg);
  const workers = Number(workersArg);
  if (cluster.isPrimary && workers > 1) {
    const pids: number[] = [process.pid];
    let listening = 0;
    for (let i = 0; i < workers; i++) {
      // As the broker's cluster: one worker per core, signing on its own event loop.
      const w = cluster.fork({ UV_THREADPOOL_SIZE: '1' });
      pids.push(w.process.pid!);
      w.on('message', () => {
        if (++listening === workers) console.log(`PASARELA_FLOOR ${JSON.stringify({ pids })}`);
      });
    }
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.kill();
      process.exit(0);
    });
  } else {
    serve(port, cluster.isWorker || signing === 'inline', JSON.parse(readFileSync(capturePath!, 'utf8')) as Capture, mode);
  }
}
