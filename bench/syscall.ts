/**
 * npm run bench:syscall [-- --calls N] [-- --runs N] [-- --json]
 *
 * What a system call costs, measured in one run on this machine:
 *   getppid   apps/build/syscall-bench (N raw getppid calls, ns per call): as a native host
 *             process, in the unikernel trapping (`syscall` in ring 3, the general kernel), and
 *             in the unikernel rewritten (`--fast`: its sites call the kernel's entry, ring 0)
 *   write     bench/guests/writeloop.c (64-byte writes to /dev/null and to a /tmp file), built
 *             here with musl-gcc: in-guest time and whole-VM time, trapping and rewritten
 *   kernel    hello's per-program kernel against the general one: size(1) text and file size
 * Medians of --runs runs (default 3); the ratios trapping/rewritten; the accelerator.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Image, buildImage, elfTextSize } from '../src/image/index.js';
import { artifacts, projectRoot } from '../src/project/index.js';
import { type Accel, type KernelFlag, hostTscKhz, resolveAccel, runVm } from '../src/vmm/index.js';
import { readFileSync, statSync } from 'node:fs';

interface Options {
  calls: number;
  writes: number;
  runs: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { calls: 1_000_000, writes: 200_000, runs: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') o.json = true;
    else if (argv[i] === '--runs') o.runs = Math.max(1, Number(argv[++i]));
    else if (argv[i] === '--calls') o.calls = Math.max(1, Number(argv[++i]));
    else if (argv[i] === '--writes') o.writes = Math.max(1, Number(argv[++i]));
    else throw new Error(`bench/syscall: unknown option ${String(argv[i])} (use --calls N, --writes N, --runs N, --json)`);
  }
  return o;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** "... 12.3 ns per call" and "... 45.6 ms, ..." from a benchmark program's line. */
function parseLine(out: string, what: string): { nsPerCall: number; ms?: number } {
  const m = /([\d.]+) ns per call/.exec(out);
  if (!m) throw new Error(`bench/syscall: ${what} printed no "ns per call" line: ${JSON.stringify(out.slice(0, 300))}`);
  const ms = /, ([\d.]+) ms, /.exec(out);
  return { nsPerCall: Number(m[1]), ms: ms ? Number(ms[1]) : undefined };
}

interface VmRun {
  nsPerCall: number;
  guestMs?: number;
  vmMs: number;
}

async function inVm(image: Image, args: string[], accel: Accel, tscKhz: number | undefined): Promise<VmRun> {
  let out = '';
  let err = '';
  const m = image.manifest;
  const r = await runVm({
    kernel: image.kernelPath, initrd: image.initrdPath, prog: m.app.path, argv: [m.app.path, ...args], env: [],
    memory: m.memory, accel, tscKhz: tscKhz ?? null, timeoutMs: 300_000, flags: (m.flags ?? []) as KernelFlag[],
    onStdout: (b) => (out += b.toString()), onStderr: (b) => (err += b.toString()),
  });
  if (r.status !== 0) throw new Error(`bench/syscall: ${m.app.name} ${args.join(' ')} ended with status ${r.status}: ${err.trim()}`);
  const p = parseLine(out, m.app.name);
  return { nsPerCall: p.nsPerCall, guestMs: p.ms, vmMs: r.timings.totalMs };
}

function native(program: string, args: string[]): number {
  const r = spawnSync(program, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/syscall: ${program} failed: ${r.stderr}`);
  return parseLine(r.stdout, program).nsPerCall;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const notices: string[] = [];
  const accel = resolveAccel('auto', (l) => notices.push(l));
  const tscKhz = hostTscKhz();
  const work = mkdtempSync(join(tmpdir(), 'unikit-bench-syscall-'));
  try {
    const writeloop = join(projectRoot(), 'build', 'bench', 'writeloop');
    mkdirSync(join(projectRoot(), 'build', 'bench'), { recursive: true });
    execFileSync('musl-gcc', ['-static', '-O2', '-Wall', '-o', writeloop, join(projectRoot(), 'bench', 'guests', 'writeloop.c')]);

    const bench = artifacts.app('syscall-bench');
    const image = (elf: string, name: string, fast: boolean): Promise<Image> =>
      buildImage({ elf, outDir: join(work, name), specialize: fast ? { fast: true } : {} });
    const trapping = await image(bench, 'bench-trap', false);
    const rewritten = await image(bench, 'bench-fast', true);
    const writeTrap = await image(writeloop, 'write-trap', false);
    const writeFast = await image(writeloop, 'write-fast', true);

    const getppid = { native: [] as number[], trapping: [] as number[], rewritten: [] as number[] };
    const writes: Record<string, { trapping: VmRun[]; rewritten: VmRun[] }> = { '/dev/null': { trapping: [], rewritten: [] }, '/tmp/w': { trapping: [], rewritten: [] } };
    // Interleaved, so a slow moment of the host hurts every variant alike.
    for (let i = 0; i < o.runs; i++) {
      getppid.native.push(native(bench, [String(o.calls)]));
      getppid.trapping.push((await inVm(trapping, [String(o.calls)], accel, tscKhz)).nsPerCall);
      getppid.rewritten.push((await inVm(rewritten, [String(o.calls)], accel, tscKhz)).nsPerCall);
      for (const [target, w] of Object.entries(writes)) {
        w.trapping.push(await inVm(writeTrap, [String(o.writes), target], accel, tscKhz));
        w.rewritten.push(await inVm(writeFast, [String(o.writes), target], accel, tscKhz));
      }
    }

    // Kernel sizes: hello's per-program kernel against the general one.
    const helloProgram = await buildImage({ elf: artifacts.app('hello'), outDir: join(work, 'hello'), specialize: { perProgramKernel: true } });
    const general = readFileSync(artifacts.kernel());
    const special = readFileSync(helloProgram.kernelPath);
    const sizes = {
      general: { text: elfTextSize(general), file: general.length },
      hello: { text: elfTextSize(special), file: special.length, syscalls: helloProgram.manifest.syscalls?.set.length ?? 0 },
    };

    const g = { native: median(getppid.native), trapping: median(getppid.trapping), rewritten: median(getppid.rewritten) };
    const w = Object.fromEntries(Object.entries(writes).map(([target, v]) => [target, {
      trapping: { nsPerCall: median(v.trapping.map((r) => r.nsPerCall)), guestMs: median(v.trapping.map((r) => r.guestMs ?? 0)), vmMs: median(v.trapping.map((r) => r.vmMs)) },
      rewritten: { nsPerCall: median(v.rewritten.map((r) => r.nsPerCall)), guestMs: median(v.rewritten.map((r) => r.guestMs ?? 0)), vmMs: median(v.rewritten.map((r) => r.vmMs)) },
    }]));
    const result = {
      accel,
      notices,
      runs: o.runs,
      getppid: { calls: o.calls, nsPerCall: g, trappingOverRewritten: g.trapping / g.rewritten, rewrittenOverNative: g.rewritten / g.native },
      rewrittenSites: {
        'syscall-bench': rewritten.manifest.fast,
        writeloop: writeFast.manifest.fast,
      },
      write: { calls: o.writes, bytes: 64, targets: w },
      kernel: { ...sizes, textRatio: sizes.hello.text / sizes.general.text, targetTextRatio: 0.5 },
      kernelCaveat: 'size(1) text of kernel.elf: .boot (boot code, page tables, boot stack), .text and .rodata',
    };
    if (o.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    const f = (n: number): string => n.toFixed(1);
    const lines = [
      `syscall cost, ${accel.toUpperCase()}, medians of ${o.runs} run${o.runs === 1 ? '' : 's'}${notices.length ? ` (${notices.join('; ')})` : ''}`,
      '',
      `getppid x ${o.calls.toLocaleString('en-US')}      ns per call`,
      `  native (host process)       ${f(g.native).padStart(8)}`,
      `  unikernel, trapping         ${f(g.trapping).padStart(8)}`,
      `  unikernel, rewritten        ${f(g.rewritten).padStart(8)}`,
      `  trapping / rewritten        ${(g.trapping / g.rewritten).toFixed(2).padStart(8)}x   (issue's target: 10x)`,
      `  sites rewritten: syscall-bench ${rewritten.manifest.fast?.rewritten}/${rewritten.manifest.fast?.sites}, writeloop ${writeFast.manifest.fast?.rewritten}/${writeFast.manifest.fast?.sites}`,
      '',
      `write of 64 bytes x ${o.writes.toLocaleString('en-US')}   in-guest ms   ns per call   whole VM ms`,
      ...Object.entries(w).flatMap(([target, v]) => [
        `  ${target.padEnd(10)} trapping     ${f(v.trapping.guestMs).padStart(8)}   ${f(v.trapping.nsPerCall).padStart(11)}   ${f(v.trapping.vmMs).padStart(11)}`,
        `  ${''.padEnd(10)} rewritten    ${f(v.rewritten.guestMs).padStart(8)}   ${f(v.rewritten.nsPerCall).padStart(11)}   ${f(v.rewritten.vmMs).padStart(11)}`,
        `  ${''.padEnd(10)} ratio        ${(v.trapping.guestMs / v.rewritten.guestMs).toFixed(2).padStart(8)}x`,
      ]),
      '',
      'kernel.elf (size(1) text / file bytes)',
      `  general                     ${String(sizes.general.text).padStart(8)} / ${sizes.general.file}`,
      `  hello's (${sizes.hello.syscalls} syscalls)       ${String(sizes.hello.text).padStart(8)} / ${sizes.hello.file}`,
      `  text ratio                  ${result.kernel.textRatio.toFixed(2).padStart(8)}    (target: <= 0.50)`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
