/**
 * The stand-in guest (bench/guests/standin.S) assembled with the given output and behaviour: for
 * the VMM's and the CLI's tests as a kernel (test/support/pvh-guest.ts names its streams for
 * them), and, packed by src/image as an image's kernel.elf next to a real static program (which
 * it never runs), for the fleet's tests and bench/scale.ts while the real kernel is not built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Image, buildImage } from '../../src/image/index.js';
import { artifacts, projectRoot } from '../../src/project/index.js';

export interface StandinSpec {
  /** Kernel log written first (default "@entering-program\n"). */
  klog?: string;
  /** Console output (COM1) written at once. */
  out?: string | Buffer;
  /** Error output (COM2) written after `out`. */
  err?: string | Buffer;
  /** Busy-loop iterations before the late writes (about 1e8 per second under TCG). */
  spin?: number;
  /** Console output written after the busy loop. */
  late?: string;
  /** Kernel log written last, e.g. "@exit 139 signal\n". */
  klog2?: string;
  /**
   * After the writes: 'idle' (default) halts for ever using no host CPU, 'exit' writes `status`
   * to isa-debug-exit, 'busy' spins for ever.
   */
  end?: 'idle' | 'exit' | 'busy';
  /** Value for isa-debug-exit. */
  status?: number;
}

const END_DEFINE = { idle: 'END_IDLE', exit: 'END_EXIT', busy: 'END_BUSY' } as const;

let counter = 0;

export function buildStandinKernel(spec: StandinSpec, dir = mkdtempSync(join(tmpdir(), 'unikit-standin-'))): string {
  mkdirSync(dir, { recursive: true });
  const n = `${process.pid}-${counter++}`;
  const file = (name: string, data: string | Buffer): string => {
    const p = join(dir, `${name}-${n}.bin`);
    writeFileSync(p, data);
    return p;
  };
  const obj = join(dir, `standin-${n}.o`);
  const elf = join(dir, `standin-${n}.elf`);
  execFileSync('gcc', [
    '-m32', '-c', join(projectRoot(), 'bench', 'guests', 'standin.S'), '-o', obj,
    `-DSTATUS=${spec.status ?? 0}`, `-DSPIN=${Math.max(1, spec.spin ?? 1)}`,
    `-DKLOG_FILE="${file('klog', spec.klog ?? '@entering-program\n')}"`,
    `-DOUT_FILE="${file('out', spec.out ?? '')}"`,
    `-DERR_FILE="${file('err', spec.err ?? '')}"`,
    `-DLATE_FILE="${file('late', spec.late ?? '')}"`,
    `-DKLOG2_FILE="${file('klog2', spec.klog2 ?? '')}"`,
    `-D${END_DEFINE[spec.end ?? 'idle']}`,
  ]);
  execFileSync('ld', ['-m', 'elf_i386', '-nostdlib', '-static', '-z', 'noexecstack', '-Ttext=0x100000', '-e', 'guest_start', '-o', elf, obj]);
  return elf;
}

/** An image directory whose kernel is the stand-in. `program` defaults to apps/build/hello. */
export async function buildStandinImage(spec: StandinSpec, outDir: string, o: { mem?: number; program?: string } = {}): Promise<Image> {
  const program = o.program ?? artifacts.app('hello');
  if (!existsSync(program)) throw new Error(`${program} is missing: run \`make -C apps\``);
  const kernel = buildStandinKernel(spec, join(outDir, '..', '.standin-build'));
  return buildImage({ elf: program, kernel, outDir, mem: o.mem ?? 4 << 20 });
}
