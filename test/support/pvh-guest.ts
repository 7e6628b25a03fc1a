/**
 * Builds stand-in PVH guests from test/fixtures/pvh-guest.S: they print given bytes on the three
 * streams and exit, so the VMM can be tested against real QEMU without the real kernel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/project/index.js';

export interface GuestSpec {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  klog?: string;
  /** Value written to isa-debug-exit (QEMU exits with (v << 1) | 1). */
  exitValue?: number;
  /** Spin forever after writing. */
  hang?: boolean;
}

let counter = 0;

export function buildGuest(spec: GuestSpec, dir = mkdtempSync(join(tmpdir(), 'unikit-guest-'))): string {
  const n = counter++;
  const file = (name: string, data: string | Buffer): string => {
    const p = join(dir, `${name}-${n}.bin`);
    writeFileSync(p, data);
    return p;
  };
  const src = join(projectRoot(), 'test', 'fixtures', 'pvh-guest.S');
  const obj = join(dir, `guest-${n}.o`);
  const elf = join(dir, `guest-${n}.elf`);
  execFileSync('gcc', [
    '-m32', '-c', src, '-o', obj,
    `-DSTATUS=${spec.exitValue ?? 0}`,
    `-DOUT_FILE="${file('out', spec.stdout ?? '')}"`,
    `-DERR_FILE="${file('err', spec.stderr ?? '')}"`,
    `-DKLOG_FILE="${file('klog', spec.klog ?? '')}"`,
    ...(spec.hang ? ['-DHANG'] : []),
  ]);
  execFileSync('ld', ['-m', 'elf_i386', '-nostdlib', '-static', '-z', 'noexecstack', '-Ttext=0x100000', '-e', 'guest_start', '-o', elf, obj]);
  return elf;
}
