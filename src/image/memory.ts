/**
 * How much guest RAM an image needs, estimated before any VM starts so that a hopeless --mem is
 * refused with a useful number instead of a guest out-of-memory failure.
 */
import { MemTooSmallError, SegmentsDontFitError, formatBytes } from './errors.js';

/**
 * What the guest needs besides the kernel image, the initrd and the program's segments: the
 * first MiB of physical memory (below the kernel's load address), page tables, the kernel heap,
 * the program's stack and first allocations. Measured with kernel.elf of 2026-11-27: hello ran
 * with 1112 KiB above that sum, busybox with 1160 KiB; 1.25 MiB leaves a little margin.
 */
export const MEMORY_RESERVE = 1280 << 10;
/** --mem values are rounded up to this step when unikit proposes one. */
export const MEMORY_STEP = 256 << 10;
/** What an image gets when --mem is not given. */
export const DEFAULT_MEMORY = 64 << 20;

export interface MemoryNeeds {
  kernel: number;
  initrd: number;
  program: number;
}

/** The smallest --mem (a MEMORY_STEP multiple) that the estimate says is workable. */
export function smallestMemory(needs: MemoryNeeds): number {
  const total = needs.kernel + needs.initrd + needs.program + MEMORY_RESERVE;
  return Math.ceil(total / MEMORY_STEP) * MEMORY_STEP;
}

/** Throws SegmentsDontFitError or MemTooSmallError when `mem` cannot be enough. */
export function checkMemory(needs: MemoryNeeds, mem: number, app: string): void {
  if (needs.program > mem) throw new SegmentsDontFitError(needs.program, mem, app);
  const smallest = smallestMemory(needs);
  if (mem < smallest) {
    const breakdown = `kernel ${formatBytes(needs.kernel)} + initrd ${formatBytes(needs.initrd)} + program ${formatBytes(needs.program)} + ${formatBytes(MEMORY_RESERVE)} reserve`;
    throw new MemTooSmallError(smallest, mem, breakdown);
  }
}
