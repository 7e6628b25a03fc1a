/**
 * npm run bench:boot [-- --runs N] [-- --json]
 *
 * Boot time against the floor, measured in one run on this machine, N times each (interleaved,
 * after one warm-up of each), medians:
 *   (a) floor: kernel/build/floor.elf, an empty PVH guest, on the same QEMU command line src/vmm builds
 *   (b) hello through src/vmm: QEMU spawn to QEMU exit
 *   (c) hello through the CLI: `node dist/cli/unikit.js run <image-dir>` (the bin), process spawn to exit
 * and the ratios b/a and c/a, the accelerator, kernel.elf's size and the smallest --mem with
 * which hello still runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildImage, type Image } from '../src/image/index.js';
import { artifacts } from '../src/project/index.js';
import { type Accel, type VmOptions, hostTscKhz, resolveAccel, runVm } from '../src/vmm/index.js';

const EXPECTED_HELLO = 'Hello from unikit!\n';
const KERNEL_TARGET_BYTES = 200 * 1000;

interface Options {
  runs: number;
  json: boolean;
  memSearchFrom: number;
  memStep: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: 20, json: false, memSearchFrom: 16 << 20, memStep: 256 << 10 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') o.json = true;
    else if (argv[i] === '--runs') o.runs = Math.max(1, Number(argv[++i]));
    else throw new Error(`bench/boot: unknown option ${String(argv[i])} (use --runs N, --json)`);
  }
  return o;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One hello (or floor) VM through src/vmm; throws unless it printed hello and exited 0. */
async function vmOnce(image: Image, accel: Accel, tscKhz: number | undefined, overrides: Partial<VmOptions> = {}): Promise<{ totalMs: number; bootMs?: number }> {
  let out = '';
  const r = await runVm({
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    prog: image.manifest.app.path,
    argv: image.manifest.argv,
    env: image.manifest.env,
    memory: image.manifest.memory,
    accel,
    tscKhz: tscKhz ?? null,
    timeoutMs: 20_000,
    onStdout: (b) => (out += b.toString()),
    ...overrides,
  });
  const isFloor = overrides.exitMarker === 'optional';
  if (r.status !== 0 || (!isFloor && out !== EXPECTED_HELLO)) {
    throw new Error(`hello did not run: status ${r.status}, output ${JSON.stringify(out.slice(0, 200))}`);
  }
  return { totalMs: r.timings.totalMs, bootMs: r.timings.bootMs };
}

/** `node dist/cli/unikit.js run <image>` from spawn to exit, in ms. */
function cliOnce(imageDir: string, accel: Accel): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [artifacts.cli(), 'run', imageDir, '--accel', accel], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0 || out !== EXPECTED_HELLO) reject(new Error(`the CLI did not run hello: status ${String(code)}: ${err.trim()}`));
      else resolve(ms);
    });
  });
}

/** Downward from `from` in `step`s: the last --mem with which hello still ran. */
async function smallestMemory(image: Image, accel: Accel, tscKhz: number | undefined, o: Options): Promise<number | undefined> {
  let smallest: number | undefined;
  for (let mem = o.memSearchFrom; mem >= o.memStep; mem -= o.memStep) {
    try {
      await vmOnce(image, accel, tscKhz, { memory: mem, timeoutMs: 10_000 });
      smallest = mem;
    } catch {
      break;
    }
  }
  return smallest;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const notices: string[] = [];
  const accel = resolveAccel('auto', (l) => notices.push(l));
  const tscKhz = hostTscKhz();
  const work = mkdtempSync(join(tmpdir(), 'unikit-bench-'));
  try {
    const hello = await buildImage({ elf: artifacts.app('hello'), outDir: join(work, 'hello.unikit'), mem: 16 << 20 });
    const floor: Image = { ...hello, kernelPath: artifacts.floor() };
    const runFloor = (): Promise<{ totalMs: number }> => vmOnce(floor, accel, tscKhz, { exitMarker: 'optional' });

    // Warm-up: page cache, QEMU's shared libraries, the TSC cache.
    await runFloor();
    await vmOnce(hello, accel, tscKhz);
    await cliOnce(hello.dir, accel);

    const a: number[] = [];
    const b: number[] = [];
    const bBoot: number[] = [];
    const c: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      a.push((await runFloor()).totalMs);
      const h = await vmOnce(hello, accel, tscKhz);
      b.push(h.totalMs);
      if (h.bootMs !== undefined) bBoot.push(h.bootMs);
      c.push(await cliOnce(hello.dir, accel));
    }
    const minMem = await smallestMemory(hello, accel, tscKhz, o);
    const kernelBytes = statSync(artifacts.kernel()).size;
    const result = {
      accel,
      runs: o.runs,
      tscKhz: tscKhz ?? null,
      floorMs: median(a),
      helloVmmMs: median(b),
      helloBootMs: bBoot.length ? median(bBoot) : null,
      helloCliMs: median(c),
      ratioVmmToFloor: median(b) / median(a),
      ratioCliToFloor: median(c) / median(a),
      kernelBytes,
      kernelTargetBytes: KERNEL_TARGET_BYTES,
      smallestMemBytes: minMem ?? null,
      notices,
    };
    if (o.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    const f = (ms: number): string => `${ms.toFixed(1)} ms`;
    const lines = [
      `unikit boot benchmark: ${o.runs} runs each, medians, accelerator ${accel}${tscKhz ? `, host TSC ${tscKhz} kHz` : ''}`,
      ...notices,
      `  (a) floor (empty PVH guest), QEMU spawn to exit   ${f(result.floorMs)}  [${accel}]`,
      `  (b) hello through src/vmm, QEMU spawn to exit     ${f(result.helloVmmMs)}  [${accel}]  b/a = ${result.ratioVmmToFloor.toFixed(3)}`,
      `      of which spawn to the program's first instruction ${result.helloBootMs === null ? 'n/a' : f(result.helloBootMs)}`,
      `  (c) hello through the CLI, process spawn to exit   ${f(result.helloCliMs)}  [${accel}]  c/a = ${result.ratioCliToFloor.toFixed(3)}`,
      `  kernel.elf: ${kernelBytes} bytes (${(kernelBytes / 1000).toFixed(1)} KB; target at most ${KERNEL_TARGET_BYTES / 1000} KB)`,
      `  smallest --mem for hello: ${minMem === undefined ? `none from ${o.memSearchFrom >> 20} MiB down worked` : `${minMem / 1024} KiB (${(minMem / (1 << 20)).toFixed(2)} MiB), searched downward from ${o.memSearchFrom >> 20} MiB in ${o.memStep >> 10} KiB steps`}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/boot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
