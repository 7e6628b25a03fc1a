/**
 * Turning any failure into one stderr line "unikit: <problem>" and an exit status. A stack trace
 * is shown only for a bug in unikit itself (an error of no known kind).
 */
import { UNIKIT_ABI } from '../abi/index.js';
import { ElfError } from '../elf/index.js';
import { ImageError } from '../image/index.js';
import { TraceError } from '../trace/index.js';
import { VmmError } from '../vmm/index.js';
import { UsageError } from './usage.js';

export const STATUS_USAGE = 2;
export const STATUS_BUILD_FAILED = 1;

export interface Failure {
  line: string;
  status: number;
}

/** `running` is true for `unikit run`, whose statuses follow docs/guest-abi.md. */
export function describeFailure(e: unknown, running: boolean): Failure {
  if (e instanceof UsageError) return { line: `unikit: ${e.message}`, status: STATUS_USAGE };
  if (e instanceof ElfError) {
    return { line: `unikit: ${e.message}`, status: running ? UNIKIT_ABI.STATUS_LOAD_ERROR : STATUS_BUILD_FAILED };
  }
  if (e instanceof ImageError) {
    return { line: `unikit: ${e.message}`, status: running ? UNIKIT_ABI.STATUS_HOST_ERROR : STATUS_BUILD_FAILED };
  }
  if (e instanceof VmmError) return { line: `unikit: ${e.message}`, status: e.status };
  // src/analyze's KernelTableError, by its code: the analyzer is loaded only when used.
  if (e instanceof TraceError || (e as { code?: unknown } | null)?.code === 'ANALYZE_KERNEL_TABLE') return { line: `unikit: ${(e as Error).message}`, status: STATUS_BUILD_FAILED };
  const err = e instanceof Error ? e : new Error(String(e));
  const io = err as NodeJS.ErrnoException;
  if (io.code && io.syscall) {
    // A system call failed on a path the user gave (EACCES, ENOSPC, ...): their problem, no trace.
    return { line: `unikit: ${io.message}`, status: UNIKIT_ABI.STATUS_HOST_ERROR };
  }
  return { line: `unikit: internal error: ${err.stack ?? err.message}`, status: UNIKIT_ABI.STATUS_HOST_ERROR };
}
