/**
 * Backward data-flow over the control-flow graph: the set of constants a register may hold just
 * before an instruction. The search walks predecessors (fallthrough and direct jumps) through
 * the instructions' register effects; at a function start it continues before every direct call
 * (and tail jump) to that function, which is how a number passed to a libc wrapper such as
 * `syscall(long n, ...)` is found in the wrapper's callers. Every path that ends somewhere this
 * analysis cannot follow (a load from memory, an indirect jump target, a function with no direct
 * caller) is reported, so a result with no unknown paths is complete for the decoded code.
 */
import { Mnemonic } from 'iced-x86';
import { FLOW_DIRECT_CALL, type Disassembly } from './decode.js';
import { instructionEffects, pushedValue, REGISTER_NAMES, type InstructionEffects, type RegisterEffect } from './effects.js';
import { functionLabel, type FunctionIndex } from './functions.js';
import type { AddressReferences } from './references.js';
import { ReturnAnalysis } from './returns.js';

/** Where and why one path of the search stopped without a constant. */
export interface UnknownPath {
  address: number;
  why: string;
}

export interface ResolvedValue {
  values: Set<number>;
  unknown: UnknownPath[];
  /** Starts of the functions through whose callers the search went (the wrappers). */
  throughCallers: Set<number>;
}

/** A search visits at most this many (instruction, register) states before giving up. */
export const DEFAULT_SEARCH_BUDGET = 20_000;

/** One pending question: the value of `family` just before instruction `index`, plus `add`. */
interface State {
  index: number;
  family: number;
  add: number;
}

export class BackwardDataFlow {
  private readonly effectsCache = new Map<number, InstructionEffects>();
  private readonly returns: ReturnAnalysis;

  constructor(
    private readonly code: Disassembly,
    private readonly functions: FunctionIndex,
    private readonly references: AddressReferences,
    private readonly budget: number = DEFAULT_SEARCH_BUDGET,
  ) {
    this.returns = new ReturnAnalysis(code, functions);
  }

  /** The values register `family` (0 = rax ... 15 = r15) may hold just before instruction `index`. */
  valueBefore(index: number, family: number): ResolvedValue {
    const result: ResolvedValue = { values: new Set(), unknown: [], throughCallers: new Set() };
    const unknownSeen = new Set<string>();
    const addUnknown = (address: number, why: string): void => {
      const key = `${address}:${why}`;
      if (unknownSeen.has(key)) return;
      unknownSeen.add(key);
      result.unknown.push({ address, why });
    };
    // The offset each state was first reached with: reaching it again with the same offset adds
    // nothing (a loop that does not change the register); with another, the loop computes it.
    const seen = new Map<number, number>();
    const pending: State[] = [{ index, family, add: 0 }];
    let steps = 0;

    while (pending.length > 0) {
      const state = pending.pop() as State;
      const key = state.index * 16 + state.family;
      const before = seen.get(key);
      if (before !== undefined) {
        if (before !== state.add) addUnknown(this.code.address[state.index] as number, `${REGISTER_NAMES[state.family]} changes around a loop`);
        continue;
      }
      seen.set(key, state.add);
      if (++steps > this.budget) {
        addUnknown(this.code.address[index] as number, `search limit of ${this.budget} steps reached`);
        break;
      }
      const address = this.code.address[state.index] as number;

      if (this.functions.isStart(address)) {
        // A function's registers at entry are its callers' registers before the call. Code
        // that runs into the start from above is followed too: a call target in a stripped
        // program may be a shared tail of another function rather than a real start.
        result.throughCallers.add(address);
        const callers = [...(this.code.callsTo.get(address) ?? []), ...(this.code.jumpsTo.get(address) ?? [])];
        const above = this.fallthroughPredecessor(state.index);
        const label = (): string => functionLabel({ start: address, name: this.functions.nameOf(address) });
        if (callers.length === 0 && above === undefined) {
          addUnknown(address, `${REGISTER_NAMES[state.family]} at the start of ${label()}, which has no direct caller`);
        } else {
          const taken = this.references.takenAt(address);
          if (taken !== undefined) {
            addUnknown(address, `${REGISTER_NAMES[state.family]} at the start of ${label()}, whose address is taken at 0x${taken.toString(16)}: calls through pointers are not followed`);
          }
        }
        for (const c of callers) pending.push({ index: c, family: state.family, add: state.add });
        if (above !== undefined) this.follow(above, state, this.effects(above).get(state.family), pending, result, addUnknown);
        continue;
      }

      const predecessors = this.predecessors(state.index, address);
      // A nop nothing reaches is alignment padding after a jump or return: a dead path, not an
      // unknown one (compilers pad before a label, never make the padding a jump target).
      if (predecessors.length === 0 && !this.isNop(state.index)) addUnknown(address, 'reached only through an indirect jump or call');
      for (const p of predecessors) {
        const effect = this.effects(p).get(state.family);
        this.follow(p, state, effect, pending, result, addUnknown);
      }
    }
    return result;
  }

  /** Steps back over instruction `p` whose effect on the register is `effect`. */
  private follow(
    p: number, state: State, effect: RegisterEffect | undefined, pending: State[], result: ResolvedValue,
    addUnknown: (address: number, why: string) => void,
  ): void {
    if (!effect) {
      pending.push({ index: p, family: state.family, add: state.add });
      return;
    }
    switch (effect.kind) {
      case 'const':
        result.values.add(effect.value + state.add);
        return;
      case 'copy':
        pending.push({ index: p, family: effect.from, add: state.add + effect.add });
        return;
      case 'pop': {
        // Only the `push x; pop r` idiom: the push right before, on the only path to the pop.
        const push = p - 1;
        const address = this.code.address[p] as number;
        const straight = push >= 0 && this.code.fallsThrough(push) && !this.code.jumpsTo.has(address) && !this.functions.isStart(address);
        const pushed = straight ? pushedValue(this.code.decodeAt(push)) : undefined;
        if (pushed?.kind === 'const') result.values.add(pushed.value + state.add);
        else if (pushed?.kind === 'copy') pending.push({ index: push, family: pushed.from, add: state.add + pushed.add });
        else addUnknown(address, `${REGISTER_NAMES[state.family]} popped from the stack`);
        return;
      }
      case 'unknown':
        addUnknown(this.code.address[p] as number, effect.why);
    }
  }

  /** The instructions that may execute right before `index`: direct jumps to it and the one above. */
  private predecessors(index: number, address: number): number[] {
    const jumps = this.code.jumpsTo.get(address) ?? [];
    const above = this.fallthroughPredecessor(index);
    return above === undefined ? jumps : [above, ...jumps];
  }

  /**
   * The instruction before `index` when execution continues from it into `index`: not a jmp or
   * ret, not a call of a function that never returns, and not dead padding.
   */
  private fallthroughPredecessor(index: number): number | undefined {
    const p = index - 1;
    if (p < 0 || !this.code.fallsThrough(p)) return undefined;
    if (((this.code.flow[p] ?? 0) & FLOW_DIRECT_CALL) !== 0 && !this.returns.mayReturn(this.returns.branchTarget(p))) return undefined;
    return p;
  }

  private isNop(index: number): boolean {
    return this.code.decodeAt(index).mnemonic === Mnemonic.Nop;
  }

  private effects(index: number): InstructionEffects {
    let e = this.effectsCache.get(index);
    if (!e) {
      e = instructionEffects(this.code.decodeAt(index), () => this.code.text(index));
      this.effectsCache.set(index, e);
    }
    return e;
  }
}
