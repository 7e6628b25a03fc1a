/**
 * The HTTP side of the bench: free host ports, one-shot GETs, waiting until a server answers
 * (the definition of "ready"), and wrk runs parsed into requests/s and latency percentiles.
 * The same shapes as bench/net.ts, kept here so that the CLI bundle carries them.
 */
import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';

export interface WrkResult {
  requestsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
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
  o.failed?.then((v) => { failure = v; hasFailed = true; }, (e: unknown) => { failure = e; hasFailed = true; });
  while (Date.now() < deadline) {
    if (hasFailed) throw failure instanceof Error ? failure : new Error(`the server ended before it answered on ${host}:${port}`);
    const body = await fetchOnce(host, port, '/stats', 1000).catch(() => '');
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

export async function wrk(url: string, o: { threads: number; connections: number; durationS: number }): Promise<WrkResult> {
  const { stdout } = await promisify(execFile)('wrk', [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency', url], { timeout: (o.durationS + 30) * 1000 });
  return parseWrk(stdout);
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
