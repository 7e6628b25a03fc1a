/**
 * Stand-in guests for the VMM's and the CLI's tests, in the tests' terms: they print given bytes
 * on the three streams and exit (or hang), so the host side can be tested against real QEMU
 * without the real kernel. The guest itself is the one stand-in, bench/guests/standin.S.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStandinKernel } from '../../bench/guests/standin.js';

export interface GuestSpec {
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  /** Kernel log, written after stdout and stderr. */
  klog?: string;
  /** Value written to isa-debug-exit (QEMU exits with (v << 1) | 1). */
  exitValue?: number;
  /** Spin forever after writing. */
  hang?: boolean;
}

/** The guest's kernel ELF, built in `dir`. */
export function buildGuest(spec: GuestSpec, dir = mkdtempSync(join(tmpdir(), 'unikit-guest-'))): string {
  return buildStandinKernel({
    klog: '',
    out: spec.stdout ?? '',
    err: spec.stderr ?? '',
    klog2: spec.klog ?? '',
    end: spec.hang ? 'busy' : 'exit',
    status: spec.exitValue ?? 0,
  }, dir);
}
