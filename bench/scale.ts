/**
 * npm run bench:scale: boot N = 1, 50, 100, 200, 500 idle "server" unikernels through unikitd and
 * keep them all running; for each N, the per-instance boot latency (QEMU spawn to the kernel's
 * "@entering-program", as unikitd measures it) p50 and p99, the time to boot all N (first create
 * request to the last one running), the proportional memory (PSS) per instance, and the
 * accelerator. Every N uses the same boot concurrency limit, a fresh daemon and a fresh home.
 * The target: p50 at the largest N at most 1.25 times the p50 at N = 1 (N = 1 is booted nine
 * times, one instance at a time, for a steadier baseline).
 *
 * Options: --n 1,50,100 (the Ns), --concurrency C (default unikitd's: cores - 1), --mem SIZE (guest RAM, default 4M),
 * --json FILE (also write the results there).
 * The guest is bench/guests/idle.c with the real kernel (kernel/build/kernel.elf), or the stand-in
 * guest when the kernel is not built (the report says which).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { FleetClient, FleetError, type InstanceView, type StatsView, defaultBootConcurrency } from '../src/fleet/index.js';
import { buildImage } from '../src/image/index.js';
import { artifacts, projectRoot } from '../src/project/index.js';
import { runVm } from '../src/vmm/index.js';
import { buildStandinImage } from './guests/standin.js';

interface Row {
  n: number;
  running: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  allMs: number;
  pssMiB: number;
  rssMiB: number;
  accel: string;
  /** The empty PVH guest (kernel/build/floor.elf) started and stopped beside the N running
   * instances, median of FLOOR_REPEATS: what this host charges any QEMU start at this N. */
  floorMs: number;
  boundBy?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const NS = (arg('n') ?? process.env.SCALE_N ?? '1,50,100,200,500').split(',').map(Number);
const CONCURRENCY = Number(arg('concurrency') ?? defaultBootConcurrency());
const MEM = parseMiB(arg('mem') ?? '4M');
/** N = 1 is measured this many times, one instance at a time; its p50 is the baseline. */
const N1_REPEATS = 9;
const FLOOR_REPEATS = 9;

/** QEMU spawn to exit of the floor guest, median of FLOOR_REPEATS, on unikit's own command line. */
async function floorBoot(): Promise<number> {
  const times: number[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'uks-floor-'));
  try {
    writeFileSync(join(dir, 'initrd.cpio'), '');
    for (let i = 0; i < FLOOR_REPEATS; i++) {
      const t = performance.now();
      await runVm({ kernel: artifacts.floor(), initrd: join(dir, 'initrd.cpio'), prog: '/none', argv: ['/none'], memory: MEM, tscKhz: null })
        .catch(() => undefined);   // the floor ends without "@exit": only its time matters here
      times.push(performance.now() - t);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return pct(times.sort((a, b) => a - b), 50);
}

function parseMiB(t: string): number {
  const m = /^(\d+)([MG]?)$/i.exec(t);
  if (!m) throw new Error(`bad --mem ${t}`);
  return Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1 << 30 : 1 << 20);
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function makeImage(dir: string): Promise<{ path: string; guest: string }> {
  if (existsSync(artifacts.kernel())) {
    const bin = join(dir, 'idle');
    execFileSync('musl-gcc', ['-static', '-O2', '-o', bin, join(projectRoot(), 'bench', 'guests', 'idle.c')]);
    const img = await buildImage({ elf: bin, outDir: join(dir, 'image'), mem: MEM, guestPath: '/idle' });
    return { path: img.dir, guest: 'bench/guests/idle.c on the unikit kernel' };
  }
  const img = await buildStandinImage({ out: 'ready\n' }, join(dir, 'image'), { mem: MEM });
  return { path: img.dir, guest: 'the stand-in guest (bench/guests/standin.S; kernel/build/kernel.elf is not built)' };
}

function qemuPids(home: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(`${home}/fleet/instances/`)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

async function runOne(n: number, imageDir: string): Promise<Row> {
  const home = mkdtempSync(join(tmpdir(), 'uks-'));
  const daemon: ChildProcess = spawn(process.execPath, [artifacts.cli(), 'daemon', '--boot-concurrency', String(CONCURRENCY)], {
    env: { ...process.env, UNIKIT_HOME: home }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const c = new FleetClient({ home, autoStart: false });
  try {
    while (!(await c.ping())) await sleep(50);
    const image = await c.json<{ id: string }>('POST', '/v1/images', { path: imageDir, name: 'idle' });
    if (n === 1) {
      // One instance at a time, several times over: a single boot is too noisy a baseline.
      const boots: number[] = [];
      let floorMs = NaN;
      let last: InstanceView | undefined;
      let stats: StatsView | undefined;
      for (let r = 0; r < N1_REPEATS; r++) {
        const v = await c.json<InstanceView>('POST', '/v1/instances', { image: image.id, name: `one${r}`, memory: MEM });
        last = await c.json<InstanceView>('POST', `/v1/instances/${v.id}/start?wait=true`);
        if (last.bootMs !== null) boots.push(last.bootMs);
        if (r === N1_REPEATS - 1) {
          await sleep(1000);
          stats = await c.json<StatsView>('GET', `/v1/instances/${v.id}/stats`);
          floorMs = await floorBoot();
        } else {
          await c.json('DELETE', `/v1/instances/${v.id}?force=true`);
        }
      }
      boots.sort((a, b) => a - b);
      return {
        n, running: 1, failed: 0, p50Ms: pct(boots, 50), p99Ms: pct(boots, 99), meanMs: boots.reduce((a, b) => a + b, 0) / boots.length,
        allMs: last?.bootMs ?? NaN, pssMiB: (stats?.pssBytes ?? 0) / (1 << 20), rssMiB: (stats?.rssBytes ?? 0) / (1 << 20),
        accel: last?.accel ?? '?', floorMs,
      };
    }
    // Create all N first, then ask for the boots: the API traffic of creating them does not
    // share the CPU with the boots being timed (it would not at N = 1 either).
    const ids: string[] = [];
    let failed = 0;
    let boundBy: string | undefined;
    let next = 0;
    const creator = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const v = await c.json<InstanceView>('POST', '/v1/instances', { image: image.id, name: `s${i}`, memory: MEM });
        ids.push(v.id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, n) }, creator));
    const t0 = performance.now();
    for (const id of ids) {
      if (boundBy !== undefined) break;
      try {
        await c.json('POST', `/v1/instances/${id}/start`);
      } catch (e) {
        failed++;
        if (e instanceof FleetError && e.code === 'INSUFFICIENT_MEMORY') boundBy = e.message;
        else throw e;
      }
    }
    let views: InstanceView[] = [];
    for (;;) {
      views = await c.json<InstanceView[]>('GET', '/v1/instances');
      if (views.every((v) => v.state !== 'starting' && v.state !== 'created')) break;
      if (boundBy !== undefined && views.every((v) => v.state !== 'starting')) break;
      await sleep(1000); // bootedAt, not this poll, dates each boot: poll gently
    }
    const allMs = Math.max(...views.map((v) => Date.parse(v.bootedAt ?? v.createdAt))) - (performance.timeOrigin + t0);
    const running = views.filter((v) => v.state === 'running');
    failed += views.length - running.length;
    await sleep(1000); // let the last ones settle before measuring memory
    const stats = await c.json<StatsView[]>('GET', '/v1/stats');
    const floorMs = await floorBoot();
    const boots = running.map((v) => v.bootMs ?? NaN).filter((b) => !Number.isNaN(b)).sort((a, b) => a - b);
    const live = stats.filter((s) => s.pssBytes !== null);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return {
      n, running: running.length, failed, p50Ms: pct(boots, 50), p99Ms: pct(boots, 99), meanMs: mean(boots),
      allMs: Math.max(0, allMs), pssMiB: mean(live.map((s) => (s.pssBytes ?? 0) / (1 << 20))),
      rssMiB: mean(live.map((s) => (s.rssBytes ?? 0) / (1 << 20))), accel: running[0]?.accel ?? '?', floorMs, boundBy,
    };
  } finally {
    // Remove everything: kill the QEMUs (faster than n graceful stops), then the daemon.
    for (const pid of qemuPids(home)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(300);
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'uks-img-'));
  const { path, guest } = await makeImage(work);
  process.stderr.write(`bench:scale: N = ${NS.join(', ')}; boot concurrency ${CONCURRENCY}; guest RAM ${MEM >> 20} MiB; ${guest}\n`);
  const rows: Row[] = [];
  for (const n of NS) {
    const row = await runOne(n, path);
    rows.push(row);
    process.stderr.write(`  N=${n}: ${row.running} running, p50 ${row.p50Ms.toFixed(1)} ms, all in ${(row.allMs / 1000).toFixed(2)} s\n`);
  }
  rmSync(work, { recursive: true, force: true });
  const base = rows.find((r) => r.n === 1)?.p50Ms;
  const largest = rows[rows.length - 1];
  const ratio = base && largest ? largest.p50Ms / base : NaN;
  const baseFloor = rows.find((r) => r.n === 1)?.floorMs;
  const head = '| N | running | boot p50 | boot p99 | p50 / p50(N=1) | floor beside N | floor / floor(N=1) | all N booted in | PSS per instance | RSS per instance | accel |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.n} | ${r.running}${r.failed ? ` (${r.failed} refused)` : ''} | ${r.p50Ms.toFixed(1)} ms | ${r.p99Ms.toFixed(1)} ms | ${base ? (r.p50Ms / base).toFixed(2) : '-'} | ${r.floorMs.toFixed(1)} ms | ${baseFloor ? (r.floorMs / baseFloor).toFixed(2) : '-'} | ${(r.allMs / 1000).toFixed(2)} s | ${r.pssMiB.toFixed(1)} MiB | ${r.rssMiB.toFixed(1)} MiB | ${r.accel} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  const verdict = Number.isFinite(ratio)
    ? `p50 at N=${largest?.n} is ${ratio.toFixed(2)}x the p50 at N=1: ${ratio <= 1.25 ? 'within' : 'OVER'} the 1.25x target`
    : 'no N=1 run to compare with';
  // The floor column separates what the host charges any QEMU start with N others running from
  // what unikit adds: if the floor slows as much as the boots, the growth is not unikit's.
  if (largest && base && baseFloor) {
    const own = largest.p50Ms / largest.floorMs / (base / baseFloor);
    process.stdout.write(`Relative to the floor measured beside the same N: boot/floor at N=${largest.n} is ${own.toFixed(2)}x boot/floor at N=1.\n`);
  }
  process.stdout.write(`${verdict}. Host: ${cpus().length} cores, ${(totalmem() / (1 << 30)).toFixed(1)} GiB; boot concurrency ${CONCURRENCY}; guest ${guest}.\n`);
  for (const r of rows) if (r.boundBy) process.stdout.write(`N=${r.n} was bounded by memory admission after ${r.running} instances: ${r.boundBy}\n`);
  const out = arg('json');
  if (out) writeFileSync(out, JSON.stringify({ concurrency: CONCURRENCY, memory: MEM, guest, rows, ratio }, null, 2) + '\n');
}

await main();
