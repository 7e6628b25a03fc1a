/**
 * Which functions can return. A call to one that cannot (exit, abort, glibc's __libc_fatal) is
 * often followed by padding and then unrelated code; data-flow must not treat that code as
 * reachable from the call, or the call's clobbered registers leak into other paths as unknowns.
 * The answer errs towards "may return": only a function whose every path provably ends in
 * hlt, ud2, int3 or a call to another function that cannot return is said not to return.
 */
import { FlowControl } from 'iced-x86';
import { FLOW_DIRECT_CALL, FLOW_DIRECT_JUMP, FLOW_NO_FALLTHROUGH, type Disassembly } from './decode.js';
import type { FunctionIndex } from './functions.js';

/** A function bigger than this (in instructions visited) is assumed to return. */
const EXPLORE_LIMIT = 20_000;

export class ReturnAnalysis {
  /** Known answers; `true` is also recorded while a function is being explored (recursion). */
  private readonly known = new Map<number, boolean>();

  constructor(private readonly code: Disassembly, private readonly functions: FunctionIndex) {}

  /** The target of the direct call or jump at `index`. */
  branchTarget(index: number): number {
    return Number(this.code.decodeAt(index).nearBranch64);
  }

  /** False only when no path from the function at `start` reaches a return. */
  mayReturn(start: number): boolean {
    const cached = this.known.get(start);
    if (cached !== undefined) return cached;
    this.known.set(start, true);
    const answer = this.explore(start);
    this.known.set(start, answer);
    return answer;
  }

  private explore(start: number): boolean {
    const first = this.code.indexOf(start);
    if (first < 0) return true;
    const seen = new Set<number>();
    const pending = [first];
    while (pending.length > 0) {
      const i = pending.pop() as number;
      if (seen.has(i)) continue;
      seen.add(i);
      if (seen.size > EXPLORE_LIMIT) return true;
      const flow = this.code.flow[i] as number;
      if ((flow & FLOW_DIRECT_CALL) !== 0 && !this.mayReturn(this.branchTarget(i))) continue;
      if ((flow & FLOW_DIRECT_JUMP) !== 0 && this.jumpMayReturn(i, pending)) return true;
      if ((flow & FLOW_NO_FALLTHROUGH) === 0) {
        if (!this.code.fallsThrough(i)) return true; // runs off the end of the decoded code
        pending.push(i + 1);
        continue;
      }
      const fc = this.code.decodeAt(i).flowControl;
      if (fc === FlowControl.Return || fc === FlowControl.IndirectBranch) return true;
      // Otherwise hlt, ud2, int3, invalid or a direct jmp (queued above): this path ends here.
    }
    return false;
  }

  /** Queues the target of the direct jump at `i`; true when it leaves to a function that may return. */
  private jumpMayReturn(i: number, pending: number[]): boolean {
    const target = this.branchTarget(i);
    if (this.functions.isStart(target)) return this.mayReturn(target); // a tail call
    const t = this.code.indexOf(target);
    if (t < 0) return true;
    pending.push(t);
    return false;
  }
}
