/**
 * The SSO load generator when Debian's `wrk` is installed (`apt-get install wrk`): wrk is C, so
 * on a 2-core machine the client leaves the broker most of the CPU that autocannon (a Node
 * process parsing every response) takes, which is what the cluster and p99 figures need; the
 * issue's own measurements were made with it. Every message is sent once (replays would be
 * refused): each wrk thread gets its own slice of the pre-signed messages, and when the last
 * one is answered the script says so and wrk is stopped (SIGINT, after which it reports): the run
 * ends by count, not by wrk's -d (which only bounds it).
 *
 * Every response is checked in wrk's Lua: status 200, the auto-POST form's SAMLResponse field,
 * and a Success status inside the base64 (matched as the base64 of the status URI at each of
 * its three possible alignments, so no decoding per response). The rate is timed from the
 * first request to the last response with a monotonic clock (LuaJIT FFI), not over -d.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function wrkAvailable(): boolean {
  if (process.env.BENCH_CLIENT === 'autocannon') return false;
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version prints its banner and exits 1; only a missing binary throws ENOENT.
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** The base64 text a stream containing `needle` at a byte offset ≡ k (mod 3) must contain, for k = 0, 1, 2. */
export function base64Fragments(needle: string): string[] {
  const bytes = Buffer.from(needle);
  return [0, 1, 2].map((k) => {
    const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64').replace(/=+$/, '');
    const start = k === 0 ? 0 : 4; // the first quad mixes in bytes before the needle
    const total = k + bytes.length;
    const end = total % 3 === 0 ? enc.length : Math.floor(total / 3) * 4; // the last one mixes in bytes after it
    return enc.slice(start, end);
  });
}

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success"';

function luaString(s: string): string {
  return JSON.stringify(s); // the strings here are ASCII without backslashes: JSON's quoting is Lua's
}

function script(dir: string, method: 'GET' | 'POST', headers: Record<string, string>): string {
  const fragments = base64Fragments(SUCCESS);
  return `
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } pasarela_ts; int clock_gettime(int clk, pasarela_ts *tp); ]]
local ts = ffi.new("pasarela_ts")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end

local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local messages = {}
local next_index = 1
local headers = { ${Object.entries(headers).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`).join(', ')} }
local fragments = { ${fragments.map(luaString).join(', ')} }
function init(args)
  for line in io.lines(${luaString(dir)} .. "/messages-" .. id .. ".txt") do table.insert(messages, line) end
  sent = 0; received = 0; bad = 0; t0 = 0; t1 = 0
end

-- wrk calls request() once on its first thread to see how many requests it builds, and never
-- sends that one: give it the filler, not a message.
local verified = false
function request()
  if id == 0 and not verified then
    verified = true
    return wrk.format("GET", "/static/pasarela.css", headers)
  end
  local m = messages[next_index]
  if m == nil then
    -- All sent: the other connections wait for their last answers. A stylesheet GET keeps this
    -- one busy without an SSO (a repeated message would be a refused replay); its answers are not counted.
    return wrk.format("GET", "/static/pasarela.css", headers)
  end
  next_index = next_index + 1
  if sent == 0 then t0 = now_ms() end
  sent = sent + 1
  ${method === 'POST' ? 'return wrk.format("POST", "/saml/sso", headers, m)' : 'return wrk.format("GET", m, headers)'}
end

function response(status, hdrs, body)
  local ctype = hdrs["Content-Type"] or hdrs["content-type"] or ""
  if ctype:find("text/css", 1, true) then return end
  received = received + 1
  t1 = now_ms()
  local ok = status == 200 and body:find('name="SAMLResponse"', 1, true) ~= nil
  if ok then
    ok = false
    for _, f in ipairs(fragments) do if body:find(f, 1, true) then ok = true; break end end
  end
  if not ok then bad = bad + 1 end
  if received == #messages then io.stderr:write("PASARELA_WRK_DONE\\n"); io.stderr:flush() end
end

function done(summary, latency, requests)
  local first, last, n, b = nil, 0, 0, 0
  for _, t in ipairs(threads) do
    local a = t:get("t0")
    if a and a > 0 and (first == nil or a < first) then first = a end
    local z = t:get("t1")
    if z and z > last then last = z end
    n = n + (t:get("received") or 0)
    b = b + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.stderr:write(string.format('PASARELA_WRK {"received":%d,"bad":%d,"ms":%.3f,"p50":%.3f,"p99":%.3f,"errors":%d}\\n',
    n, b, last - (first or last), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout))
end
`;
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  bad: number;
  done: number;
}

/** Send every message once at `connections` concurrency with wrk; every response checked in Lua. */
export async function hammerWrk(base: string, binding: 'redirect' | 'post', cookie: string, messages: string[], connections: number): Promise<WrkResult> {
  const threads = 1; // one C thread keeps up with the broker here; a second would only take CPU from it
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-wrk-'));
  try {
    const slices: string[][] = Array.from({ length: threads }, () => []);
    messages.forEach((m, i) => slices[i % threads]!.push(m));
    slices.forEach((s, i) => writeFileSync(path.join(dir, `messages-${i}.txt`), s.join('\n') + '\n'));
    const headers: Record<string, string> = { Cookie: cookie, ...(binding === 'post' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) };
    writeFileSync(path.join(dir, 'run.lua'), script(dir, binding === 'post' ? 'POST' : 'GET', headers));
    // -d only bounds the run (it ends when the last message is answered): at least 20 s, 10 ms per message.
    const seconds = Math.max(20, Math.ceil(messages.length / 100));
    const stderr = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', path.join(dir, 'run.lua'), base], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      let finished = 0;
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const now = err.split('PASARELA_WRK_DONE').length - 1;
        if (now > finished && (finished = now) === threads) child.kill('SIGINT');
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => (code === 0 || signal === 'SIGINT' || code === 130 ? resolve(err) : reject(new Error(`wrk exited with ${code ?? signal}: ${err}`))));
    });
    const line = /PASARELA_WRK (\{.*\})/.exec(stderr);
    if (!line) throw new Error(`wrk printed no result: ${stderr}`);
    const r = JSON.parse(line[1]!) as { received: number; bad: number; ms: number; p50: number; p99: number; errors: number };
    // Messages never answered (wrk's -d ran out first, or a socket error) count as bad: nothing is left unchecked.
    const missing = Math.max(0, messages.length - r.received);
    return { rps: r.received / (r.ms / 1000), p50: Math.round(r.p50), p99: Math.round(r.p99), bad: r.bad + r.errors + missing, done: r.received };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
