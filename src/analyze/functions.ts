/**
 * Function starts and names. With a symbol table, every STT_FUNC symbol is a start; in a
 * stripped program (busybox) the starts are the targets of direct calls and the entry point.
 * Data-flow stops at a start and continues at the function's callers, so a start must be a
 * real entry: call targets that land inside another instruction are dropped.
 */
import type { Disassembly } from './decode.js';
import type { FunctionSymbol } from '../elf/index.js';

export interface FunctionRef {
  start: number;
  /** The symbol's name, or undefined in a stripped program. */
  name: string | undefined;
}

export class FunctionIndex {
  /** Ascending start addresses. */
  readonly starts: number[];
  readonly fromSymbols: number;
  readonly fromCallTargets: number;
  private readonly startSet: Set<number>;
  private readonly names = new Map<number, string>();

  constructor(code: Disassembly, symbols: readonly FunctionSymbol[], entry: number) {
    const starts = new Set<number>();
    for (const s of symbols) {
      if (code.indexOf(s.address) < 0) continue;
      starts.add(s.address);
      this.names.set(s.address, s.name);
    }
    this.fromSymbols = starts.size;
    for (const target of code.callsTo.keys()) if (code.indexOf(target) >= 0) starts.add(target);
    if (code.indexOf(entry) >= 0) starts.add(entry);
    this.fromCallTargets = starts.size - this.fromSymbols;
    this.startSet = starts;
    this.starts = [...starts].sort((a, b) => a - b);
  }

  isStart(address: number): boolean {
    return this.startSet.has(address);
  }

  nameOf(start: number): string | undefined {
    return this.names.get(start);
  }

  /** The function whose start is the closest at or below `address`. */
  containing(address: number): FunctionRef | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.starts[mid] as number) <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return undefined;
    const start = this.starts[found] as number;
    return { start, name: this.names.get(start) };
  }
}

/** How a report names a function: its symbol, or `sub_<hex>` as disassemblers do. */
export function functionLabel(f: FunctionRef): string {
  return f.name ?? `sub_${f.start.toString(16)}`;
}
