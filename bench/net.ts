/**
 * npm run bench:net [-- --duration S] [--mem SIZE] [--targets user,tap,native] [--json]
 *
 * apps/httpd under load, measured in one run on this machine:
 *   - small: wrk -t2 -c16 (keep-alive) on a 1 KiB file; and wrk -t2 -c10, the load Nanos'
 *     figure (8,200 requests/s under TCG) was measured with;
 *   - light and heavy: wrk -t2 -c16 on /compute?n=1000 and /compute?n=1000000;
 *   - transfer: one 100 MB response (/bytes) read by a host client, in MB/s;
 * for the unikernel over QEMU user networking (-p), over a tap (root only), and for the same
 * binary as a native host process (informational). The VMs run with --mem 16M (the target is
 * 16 MiB or less). Prints requests/s, p50 and p99 latency, MB/s and the accelerator; wrk comes
 * from Debian (scripts/setup.sh installs it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { type WrkResult, fetchOnce, waitForHttp, wrk as runWrk } from '../src/bench/index.js';
import { cachedImage } from '../src/image/index.js';
import { artifacts } from '../src/project/index.js';
import { type Accel, type VmNetwork, freeTcpPort, resolveAccel, runVm, tapUnavailable } from '../src/vmm/index.js';

type Target = 'user' | 'tap' | 'native';

interface Options {
  durationS: number;
  memBytes: number;
  targets: Target[];
  json: boolean;
}

interface TargetResult {
  target: Target;
  small: WrkResult;
  smallC10?: WrkResult;
  light: WrkResult;
  heavy: WrkResult;
  transferMBps: number;
  /** The guest's free RAM (sysinfo) after the runs, of memBytes. */
  guestFreeBytes?: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { durationS: 10, memBytes: 16 << 20, targets: ['user', 'tap', 'native'], json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--duration') o.durationS = Math.max(1, Number(argv[++i]));
    else if (a === '--mem') o.memBytes = Number(argv[++i]) * (1 << 20);
    else if (a === '--targets') o.targets = String(argv[++i]).split(',') as Target[];
    else throw new Error(`bench/net: unknown option ${String(a)} (use --duration S, --mem MiB, --targets user,tap,native, --json)`);
  }
  return o;
}

/** Reads one /bytes response of n bytes and returns MB/s (10^6 bytes), header to last byte. */
function transfer(host: string, port: number, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let got = 0;
    const t0 = performance.now();
    s.on('data', (b: Buffer) => (got += b.length));
    s.on('end', () => {
      if (got < n) reject(new Error(`bench/net: the transfer ended after ${got} of ${n} bytes`));
      else resolve(n / 1e6 / ((performance.now() - t0) / 1000));
    });
    s.on('error', reject);
    s.write(`GET /bytes?n=${n} HTTP/1.1\r\nConnection: close\r\n\r\n`);
  });
}

/** wrk with two threads (the figures the issue asks for), parsed by src/bench. */
function wrk(url: string, connections: number, durationS: number): Promise<WrkResult> {
  return runWrk(url, { threads: 2, connections, durationS });
}

interface Server {
  host: string;
  port: number;
  stop(): Promise<void>;
}

async function startVm(network: 'user' | 'tap', docroot: string, o: Options, accel: Accel): Promise<Server> {
  const image = await cachedImage({ elf: artifacts.app('httpd'), files: [{ host: docroot, guest: '/www' }] });
  const port = network === 'user' ? await freeTcpPort() : 80;
  let address = '127.0.0.1';
  const stop = new AbortController();
  const net: VmNetwork = network === 'user'
    ? { mode: 'user', ports: [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, guestPort: 80 }] }
    : { mode: 'tap' };
  let ready: (() => void) | undefined;
  const readyP = new Promise<void>((r) => (ready = r));
  let out = '';
  const done = runVm({
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    prog: image.manifest.app.path,
    argv: [image.manifest.app.path, '80', '/www'],
    memory: o.memBytes,
    accel,
    network: net,
    signal: stop.signal,
    onStdout: (b) => {
      out += b.toString();
      if (out.includes('listening')) ready?.();
    },
    onMessage: (line) => {
      const m = /network: guest ([\d.]+)\//.exec(line);
      if (m) address = m[1] as string;
    },
  });
  const failed = done.then((r) => {
    throw new Error(`bench/net: httpd ended (status ${r.status}) before the benchmark: ${out}`);
  });
  failed.catch(() => undefined);   // after the race, its end is stop()'s business
  await Promise.race([readyP, failed]);
  await waitForHttp(address, port);
  return {
    host: address,
    port,
    async stop() {
      stop.abort();
      await done.catch(() => undefined);
    },
  };
}

async function startNative(docroot: string): Promise<Server> {
  const port = await freeTcpPort();
  const child: ChildProcess = spawn(artifacts.app('httpd'), [String(port), docroot], { stdio: 'ignore' });
  await waitForHttp('127.0.0.1', port);
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      child.kill();
      await new Promise((r) => child.once('close', r));
    },
  };
}

async function measure(target: Target, server: Server, o: Options): Promise<TargetResult> {
  const base = `http://${server.host}:${server.port}`;
  const computeS = Math.max(2, Math.round(o.durationS / 2));
  const small = await wrk(`${base}/1k.bin`, 16, o.durationS);
  const smallC10 = target === 'native' ? undefined : await wrk(`${base}/1k.bin`, 10, o.durationS);
  const light = await wrk(`${base}/compute?n=1000`, 16, computeS);
  const heavy = await wrk(`${base}/compute?n=1000000`, 16, computeS);
  const transferMBps = await transfer(server.host, server.port, 100_000_000);
  let guestFreeBytes: number | undefined;
  if (target !== 'native') {
    const stats = await fetchOnce(server.host, server.port, '/stats');
    const m = /freeram=(\d+)/.exec(stats);
    guestFreeBytes = m ? Number(m[1]) : undefined;
  }
  return { target, small, smallC10, light, heavy, transferMBps, guestFreeBytes };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const accel = resolveAccel('auto', () => undefined);
  const docroot = mkdtempSync(join(tmpdir(), 'unikit-bench-www-'));
  writeFileSync(join(docroot, '1k.bin'), Buffer.alloc(1024, 'x'));
  await promisify(execFile)('wrk', ['--version']).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new Error('bench/net: wrk is missing: apt-get install wrk (bash scripts/setup.sh does)');
  });
  const results: TargetResult[] = [];
  const skipped: string[] = [];
  for (const target of o.targets) {
    if (target === 'tap' && tapUnavailable()) {
      skipped.push(`tap: ${tapUnavailable() as string}`);
      continue;
    }
    const server = target === 'native' ? await startNative(docroot) : await startVm(target, docroot, o, accel);
    try {
      results.push(await measure(target, server, o));
    } finally {
      await server.stop();
    }
  }
  const report = { accel, memBytes: o.memBytes, durationS: o.durationS, results, skipped };
  if (o.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const f = (w: WrkResult | undefined): string =>
    w ? `${w.requestsPerS.toFixed(0).padStart(7)} req/s  p50 ${w.p50Ms.toFixed(2).padStart(6)} ms  p99 ${w.p99Ms.toFixed(2).padStart(7)} ms${w.errors ? `  (${w.errors} errors)` : ''}` : '-';
  const lines = [`apps/httpd, accelerator ${accel}, VMs with --mem ${o.memBytes >> 20}M, wrk -t2, keep-alive, ${o.durationS} s runs`];
  for (const r of results) {
    const name = r.target === 'native' ? 'native host process (informational)' : `unikernel, ${r.target === 'user' ? 'user networking' : 'tap'}`;
    lines.push(`${name}:`);
    lines.push(`  1 KiB file,  -c16:       ${f(r.small)}`);
    if (r.smallC10) lines.push(`  1 KiB file,  -c10:       ${f(r.smallC10)}${r.target === 'user' ? `   (target >= 8200: ${r.smallC10.requestsPerS >= 8200 ? 'met' : 'NOT met'})` : ''}`);
    lines.push(`  /compute?n=1000:         ${f(r.light)}`);
    lines.push(`  /compute?n=1000000:      ${f(r.heavy)}`);
    lines.push(`  100 MB transfer:         ${r.transferMBps.toFixed(1)} MB/s`);
    if (r.guestFreeBytes !== undefined) lines.push(`  guest free RAM after:    ${(r.guestFreeBytes / 1048576).toFixed(1)} MiB of ${o.memBytes >> 20} MiB`);
  }
  for (const s of skipped) lines.push(`skipped ${s}`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
