/**
 * The HTTP side of the bench: free host ports, one-shot GETs, waiting until a server answers
 * (the definition of "ready"), and wrk runs parsed into requests/s and latency percentiles.
 * The same shapes as bench/net.ts, kept here so that the CLI bundle carries them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { promisify } from 'node:util';

export interface WrkResult {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** One GET with Connection: close; the whole response as text. */
export function fetchOnce(host: string, port: number, path: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let data = '';
    s.setTimeout(timeoutMs, () => s.destroy(new Error('timeout')));
    s.on('data', (b: Buffer) => (data += b.toString('latin1')));
    s.on('end', () => resolve(data));
    s.on('error', reject);
    s.write(`GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`);
  });
}

/**
 * Polls GET /stats every `intervalMs` until apps/httpd answers it (QEMU's user networking accepts
 * on the host port before the guest listens, so a TCP connect alone does not mean ready).
 * Rejects after timeoutMs, or as soon as `failed` settles.
 */
export async function waitForHttp(host: string, port: number, o: { timeoutMs?: number; intervalMs?: number; failed?: Promise<unknown> } = {}): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  let failure: unknown;
  let hasFailed = false;
  let probeMs = 250;
  o.failed?.then((v) => { failure = v; hasFailed = true; }, (e: unknown) => { failure = e; hasFailed = true; });
  while (Date.now() < deadline) {
    if (hasFailed) throw failure instanceof Error ? failure : new Error(`the server ended before it answered on ${host}:${port}`);
    // A short first probe timeout: a probe sent while a Linux guest brings eth0 up gets no answer
    // (QEMU retries its SYN to the guest seconds later), and waiting 1 s for it added up to a
    // second to the Linux microVM's start-to-ready. Doubled after each timeout, up to 2 s, for
    // servers that are up but slow to answer.
    const body = await fetchOnce(host, port, '/stats', probeMs).catch((e: unknown) => {
      if (e instanceof Error && e.message === 'timeout') probeMs = Math.min(probeMs * 2, 2000);
      return '';
    });
    if (body.includes('connections=')) return;
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 2));
  }
  throw new Error(`nothing answers HTTP on ${host}:${port} after ${o.timeoutMs ?? 30_000} ms`);
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 'ms' ? v : unit === 's' ? v * 1000 : unit === 'm' ? v * 60_000 : NaN;
}

/** Parses `wrk --latency` output. */
export function parseWrk(stdout: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(stdout);
  if (!rps || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${stdout}`);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requestsPerS: Number(rps[1]),
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    errors: Number(errors?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/**
 * wrk's Lua script for a staggered start (see wrk() below): thread k starts k * STAGGER ms after
 * the first (wrk runs each thread's init() in its main thread before starting the next), holds
 * its requests until GO_AT (CLOCK_MONOTONIC ms, the clock of process.hrtime), and notes the
 * times of its first and last request; done() prints one JSON line with the window they span.
 */
export const STAGGERED_WRK_LUA = `-- unikit bench: staggered connections (src/bench/http.ts)
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } unikit_timespec; int clock_gettime(int, unikit_timespec *); int usleep(unsigned int); ]]
local ts = ffi.new("unikit_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
go_at = 0
first = nil
last = nil
function init(args)
  go_at = tonumber(args[2])
  ffi.C.usleep(tonumber(args[1]) * 1000)
end
function delay()
  local d = go_at - now_ms()
  if d > 0 then return math.ceil(d) end
  return 0
end
local req
function request()
  last = now_ms()
  if not first then first = last; req = wrk.request() end
  return req
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local t0, t1
  for _, t in ipairs(threads) do
    local f, l = t:get("first"), t:get("last")
    if f and (not t0 or f < t0) then t0 = f end
    if l and (not t1 or l > t1) then t1 = l end
  end
  local e = summary.errors
  io.write(string.format('UNIKIT-WRK {"requests":%d,"windowMs":%.3f,"p50Us":%.1f,"p99Us":%.1f,"errors":%d}\\n',
    summary.requests, t0 and (t1 - t0) or 0, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end
`;

/** Reads the JSON line STAGGERED_WRK_LUA's done() prints. */
export function parseStaggeredWrk(stdout: string): WrkResult {
  const m = /^UNIKIT-WRK (\{.*\})$/m.exec(stdout);
  if (!m) throw new Error(`cannot read wrk's output:\n${stdout}`);
  const r = JSON.parse(m[1] as string) as { requests: number; windowMs: number; p50Us: number; p99Us: number; errors: number };
  if (r.requests === 0 || r.windowMs <= 0) throw new Error(`wrk completed no requests:\n${stdout}`);
  return { requestsPerS: r.requests / (r.windowMs / 1000), p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, errors: r.errors };
}

/**
 * wrk against `url`. With `staggerMs`, a thread per two connections, the threads started
 * staggerMs apart, and all requests held until the last connection is open: QEMU's user-networking forwarder
 * listens with a backlog of 1, and wrk's usual burst of simultaneous connects overflows it
 * (dropped SYNs and handshake ACKs, retried by the client after 0.2-3 s), which put 0.2-1.5 s
 * p99s into the figures that came from connection set-up, not from serving requests
 * (docs/benchmarks.md). requests/s is then counted over the window the requests span.
 */
export async function wrk(url: string, o: { threads: number; connections: number; durationS: number; staggerMs?: number }): Promise<WrkResult> {
  const run = promisify(execFile);
  if (o.staggerMs === undefined) {
    const { stdout } = await run('wrk', [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency', url], { timeout: (o.durationS + 30) * 1000 });
    return parseWrk(stdout);
  }
  // Two connections per thread: a thread opens its connections at once, and QEMU's forwarder's
  // accept queue holds two (backlog 1); fewer threads keep wrk's share of the CPUs small.
  const threads = Math.ceil(o.connections / 2);
  const rampMs = threads * o.staggerMs + 100;
  const dir = mkdtempSync(join(tmpdir(), 'unikit-wrk-'));
  try {
    const script = join(dir, 'staggered.lua');
    writeFileSync(script, STAGGERED_WRK_LUA);
    const goAt = Number(process.hrtime.bigint() / 1000n) / 1000 + rampMs + 200;
    const durationS = o.durationS + Math.ceil((rampMs + 200) / 1000);
    const { stdout } = await run('wrk', [`-t${threads}`, `-c${o.connections}`, `-d${durationS}s`, '-s', script, url, '--', String(o.staggerMs), goAt.toFixed(3)], { timeout: (durationS + 30) * 1000 });
    return parseStaggeredWrk(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** undefined when wrk runs, else why not. */
export async function wrkUnavailable(): Promise<string | undefined> {
  try {
    await promisify(execFile)('wrk', ['--version']);
    return undefined;
  } catch (e) {
    // wrk --version exits 1 after printing its version
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'wrk is missing: apt-get install wrk (bash scripts/setup.sh does)' : undefined;
  }
}
