/**
 * What the binary rewriter (fast syscalls) needs to know about one syscall site besides its
 * number: where it is in the file, the instructions around it, whether anything jumps into that
 * neighbourhood, and whether it is the `mov eax, imm32; syscall` pair that can be replaced whole.
 */
import { Code, Register } from 'iced-x86';
import type { Disassembly } from './decode.js';
import type { FunctionIndex } from './functions.js';

/** One instruction near a site, as the rewriter sees it. */
export interface SiteInstruction {
  address: number;
  fileOffset: number;
  length: number;
  /** The instruction bytes in hex, e.g. "b83c000000". */
  bytes: string;
  /** Intel syntax, e.g. "mov eax, 0x3c". */
  text: string;
  /** True when a direct jump or call lands on it (or it starts a function): code may enter here. */
  branchTarget: boolean;
}

/** The 7-byte `mov eax, imm32` (b8 imm32) + `syscall` pair, replaceable by one 5-byte call. */
export interface MovEaxSyscallPair {
  /** Where the pair (the mov) starts. */
  address: number;
  fileOffset: number;
  number: number;
}

export interface SiteNeighbourhood {
  /** Up to NEIGHBOURS instructions before the site on its fallthrough path, nearest last. */
  before: SiteInstruction[];
  /** Up to NEIGHBOURS instructions after the site, nearest first. */
  after: SiteInstruction[];
  /** True when a direct branch lands on the site itself. */
  branchTarget: boolean;
  /** Set when the site is the second half of a pair no branch enters in the middle. */
  movEaxPair: MovEaxSyscallPair | null;
}

export const NEIGHBOURS = 3;

export function siteNeighbourhood(code: Disassembly, functions: FunctionIndex, index: number): SiteNeighbourhood {
  const isTarget = (i: number): boolean => {
    const a = code.address[i] as number;
    return code.jumpsTo.has(a) || code.callsTo.has(a) || functions.isStart(a);
  };
  const describe = (i: number): SiteInstruction => ({
    address: code.address[i] as number,
    fileOffset: code.fileOffset(i),
    length: code.length[i] as number,
    bytes: code.bytes(i).toString('hex'),
    text: code.text(i),
    branchTarget: isTarget(i),
  });
  const contiguous = (a: number, b: number): boolean => (code.address[a] as number) + (code.length[a] as number) === code.address[b];

  const before: SiteInstruction[] = [];
  for (let i = index - 1; i >= 0 && before.length < NEIGHBOURS; i--) {
    if (!code.fallsThrough(i)) break;
    before.unshift(describe(i));
  }
  const after: SiteInstruction[] = [];
  for (let i = index + 1; i < code.count && after.length < NEIGHBOURS && contiguous(i - 1, i); i++) after.push(describe(i));

  const branchTarget = isTarget(index);
  let movEaxPair: MovEaxSyscallPair | null = null;
  const prev = before[before.length - 1];
  if (prev && !branchTarget && prev.length === 5) {
    const instr = code.decodeAt(index - 1);
    if (instr.code === Code.Mov_r32_imm32 && instr.op0Register === Register.EAX) {
      movEaxPair = { address: prev.address, fileOffset: prev.fileOffset, number: instr.immediate32 >>> 0 };
    }
  }
  return { before, after, branchTarget, movEaxPair };
}
