/**
 * Decoding: which bytes of a program are code, and a linear sweep over them with iced-x86.
 * The sweep keeps only what the later passes need for every instruction (address, length,
 * whether execution can fall through to the next one) in typed arrays, plus the direct branch
 * and call edges and the system-call instructions. Anything else (operands, registers, text) is
 * decoded again on demand for the few instructions that data-flow visits, which keeps a
 * 400,000-instruction program well under a second.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Formatter, FormatterSyntax, Instruction } from 'iced-x86';
import { SHF_EXECINSTR, SHT_PROGBITS, type ElfProgram, type ElfSection } from '../elf/index.js';

const PF_X = 1;

/** Execution never continues with the next instruction (ret, jmp, ud2, int3, hlt, invalid). */
export const FLOW_NO_FALLTHROUGH = 1;
/** A direct near call (its target is in `callsTo`, or decode it again). */
export const FLOW_DIRECT_CALL = 2;
/** A direct jmp or jcc. */
export const FLOW_DIRECT_JUMP = 4;

// The iced enum members the sweep tests, as plain constants: the loop runs once per
// instruction, and a property read on an imported enum there costs more than the decoding.
const C = { invalid: Code.INVALID, syscall: Code.Syscall, sysenter: Code.Sysenter, int: Code.Int_imm8, int3: Code.Int3, hlt: Code.Hlt };
const F = {
  jump: FlowControl.UnconditionalBranch, conditionalJump: FlowControl.ConditionalBranch, call: FlowControl.Call,
  interrupt: FlowControl.Interrupt, indirectJump: FlowControl.IndirectBranch, ret: FlowControl.Return, exception: FlowControl.Exception,
};

/** A contiguous run of code bytes, from an executable section (or segment, without sections). */
export interface CodeRegion {
  name: string;
  address: number;
  fileOffset: number;
  size: number;
}

/** An instruction unikit cannot serve: it enters the kernel through the 32-bit ABIs. */
export type UnsupportedKind = 'int 0x80' | 'sysenter';

/**
 * The code regions: the SHF_EXECINSTR sections inside executable PT_LOAD segments, or, when a
 * file has no such sections, the file-backed part of each executable segment. Sections are
 * preferred because a segment may also hold read-only data, which decodes into noise.
 */
export function codeRegions(program: ElfProgram, sections: readonly ElfSection[]): CodeRegion[] {
  const executable = program.loads.filter((s) => (s.flags & PF_X) !== 0 && s.filesz > 0);
  const inExecutableSegment = (s: ElfSection): boolean =>
    executable.some((seg) => s.fileOffset >= seg.offset && s.fileOffset + s.size <= seg.offset + seg.filesz);
  const fromSections = sections
    .filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0 && inExecutableSegment(s))
    .map((s) => ({ name: s.name, address: s.address, fileOffset: s.fileOffset, size: s.size }));
  if (fromSections.length > 0) return fromSections.sort((a, b) => a.address - b.address);
  // A whole segment usually starts with the ELF header, whose bytes decode into instructions
  // that can run over the first real ones: start a fresh sweep at the entry point.
  const regions: CodeRegion[] = [];
  for (const s of executable) {
    const region = { name: `segment ${s.index}`, address: s.vaddr, fileOffset: s.offset, size: s.filesz };
    const split = program.entry - s.vaddr;
    if (split > 0 && split < s.filesz) {
      regions.push({ ...region, size: split });
      regions.push({ name: `segment ${s.index} from the entry point`, address: program.entry, fileOffset: s.offset + split, size: s.filesz - split });
    } else {
      regions.push(region);
    }
  }
  return regions.sort((a, b) => a.address - b.address);
}

/** Every instruction of the code regions, in address order, and the edges between them. */
export class Disassembly {
  /** Number of decoded instructions; the typed arrays below are valid up to this index. */
  count = 0;
  address: Float64Array;
  length: Uint8Array;
  /** FLOW_* bits of each instruction. */
  flow: Uint8Array;
  /** Indices of the direct jmp/jcc instructions, by target address. */
  readonly jumpsTo = new Map<number, number[]>();
  /** Indices of the direct call instructions, by target address. */
  readonly callsTo = new Map<number, number[]>();
  /** Indices of the `syscall` instructions. */
  readonly syscallSites: number[] = [];
  readonly unsupportedSites: { index: number; kind: UnsupportedKind }[] = [];
  invalidCount = 0;
  /** Branch targets inside an instruction (not just past its prefixes): code the sweep missed. */
  misalignedTargets = 0;

  private readonly decoders: Decoder[] = [];
  private readonly regionStart: number[] = [];
  private readonly scratch = new Instruction();
  private formatter: Formatter | undefined;

  constructor(readonly file: Buffer, readonly regions: readonly CodeRegion[]) {
    const bytes = regions.reduce((n, r) => n + r.size, 0);
    // x86-64 code averages about 4 bytes an instruction; start a little above that and grow.
    const guess = Math.max(16, Math.ceil(bytes / 3));
    this.address = new Float64Array(guess);
    this.length = new Uint8Array(guess);
    this.flow = new Uint8Array(guess);
    for (const r of regions) this.sweep(r);
    this.alignTargets(this.jumpsTo);
    this.alignTargets(this.callsTo);
  }

  /** Frees the decoders' WebAssembly memory; the object is unusable afterwards. */
  dispose(): void {
    for (const d of this.decoders) d.free();
    this.decoders.length = 0;
    this.scratch.free();
    this.formatter?.free();
  }

  /** The index of the instruction starting at `address`, or -1 if none starts there. */
  indexOf(address: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.address[mid] as number;
      if (a === address) return mid;
      if (a < address) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The file offset of the instruction at `index`. */
  fileOffset(index: number): number {
    const address = this.address[index] as number;
    const r = this.regions[this.regionOf(index)] as CodeRegion;
    return r.fileOffset + (address - r.address);
  }

  /** Decodes instruction `index` again, into a shared object valid until the next call. */
  decodeAt(index: number): Instruction {
    const region = this.regionOf(index);
    const decoder = this.decoders[region] as Decoder;
    const r = this.regions[region] as CodeRegion;
    const address = this.address[index] as number;
    decoder.position = address - r.address;
    decoder.ip = BigInt(address);
    decoder.decodeOut(this.scratch);
    return this.scratch;
  }

  /** Intel syntax with 0x-prefixed hex, e.g. "mov eax, 0x3c". */
  text(index: number): string {
    if (!this.formatter) {
      this.formatter = new Formatter(FormatterSyntax.Intel);
      this.formatter.hexPrefix = '0x';
      this.formatter.hexSuffix = '';
      this.formatter.uppercaseHex = false;
      this.formatter.spaceAfterOperandSeparator = true;
      this.formatter.showBranchSize = false;
      this.formatter.branchLeadingZeros = false;
    }
    return this.formatter.format(this.decodeAt(index));
  }

  /** True when execution may continue from instruction `index` to the next one in memory. */
  fallsThrough(index: number): boolean {
    return ((this.flow[index] ?? FLOW_NO_FALLTHROUGH) & FLOW_NO_FALLTHROUGH) === 0
      && index + 1 < this.count && (this.address[index] as number) + (this.length[index] as number) === this.address[index + 1];
  }

  /** The raw bytes of instruction `index`. */
  bytes(index: number): Buffer {
    const at = this.fileOffset(index);
    return this.file.subarray(at, at + (this.length[index] as number));
  }

  private regionOf(index: number): number {
    let found = 0;
    for (let r = 0; r < this.regionStart.length; r++) if ((this.regionStart[r] as number) <= index) found = r;
    return found;
  }

  private sweep(r: CodeRegion): void {
    const code = new Uint8Array(this.file.buffer, this.file.byteOffset + r.fileOffset, r.size);
    const decoder = new Decoder(64, code, DecoderOptions.None);
    decoder.ip = BigInt(r.address);
    this.decoders.push(decoder);
    this.regionStart.push(this.count);
    const instr = this.scratch;
    let offset = 0;
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      const i = this.count++;
      if (i >= this.address.length) this.grow();
      const length = instr.length;
      this.address[i] = r.address + offset;
      this.length[i] = length;
      offset += length;
      const op = instr.code;
      if (op === C.invalid) {
        this.invalidCount++;
        this.flow[i] = FLOW_NO_FALLTHROUGH;
        continue;
      }
      switch (instr.flowControl) {
        case F.jump:
          if (instr.isJmpShortOrNear) {
            this.flow[i] = FLOW_NO_FALLTHROUGH | FLOW_DIRECT_JUMP;
            addEdge(this.jumpsTo, Number(instr.nearBranch64), i);
          } else {
            this.flow[i] = FLOW_NO_FALLTHROUGH; // a far jump
          }
          break;
        case F.conditionalJump:
          this.flow[i] = FLOW_DIRECT_JUMP;
          addEdge(this.jumpsTo, Number(instr.nearBranch64), i);
          break;
        case F.call:
          if (op === C.syscall) this.syscallSites.push(i);
          else if (op === C.sysenter) this.unsupportedSites.push({ index: i, kind: 'sysenter' });
          else if (instr.isCallNear) {
            this.flow[i] = FLOW_DIRECT_CALL;
            addEdge(this.callsTo, Number(instr.nearBranch64), i);
          }
          break;
        case F.interrupt:
          if (op === C.int && instr.immediate8 === 0x80) this.unsupportedSites.push({ index: i, kind: 'int 0x80' });
          if (op === C.int3) this.flow[i] = FLOW_NO_FALLTHROUGH;
          break;
        case F.indirectJump:
        case F.ret:
        case F.exception:
          this.flow[i] = FLOW_NO_FALLTHROUGH;
          break;
        default:
          if (op === C.hlt) this.flow[i] = FLOW_NO_FALLTHROUGH;
      }
    }
  }

  /**
   * Moves each edge whose target lies in the prefix bytes of an instruction to that
   * instruction: glibc jumps over a `lock` prefix (`je 1f; lock; 1: cmpxchg`), and the
   * instruction without its prefix has the same effect on registers. Other targets inside an
   * instruction are counted: the sweep decoded those bytes differently from the branch.
   */
  private alignTargets(edges: Map<number, number[]>): void {
    for (const [target, sources] of [...edges]) {
      if (this.indexOf(target) >= 0 || !this.regions.some((r) => target >= r.address && target < r.address + r.size)) continue;
      const k = this.containing(target);
      const start = this.address[k] as number;
      const at = this.fileOffset(k);
      let prefixesOnly = true;
      for (let b = at; b < at + (target - start); b++) prefixesOnly &&= isPrefixByte(this.file[b] as number);
      if (!prefixesOnly) {
        this.misalignedTargets++;
        continue;
      }
      edges.delete(target);
      const existing = edges.get(start);
      edges.set(start, existing ? [...existing, ...sources] : sources);
    }
  }

  /** The index of the instruction whose bytes include `address` (the last one starting at or before it). */
  private containing(address: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.address[mid] as number) <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  private grow(): void {
    const size = this.address.length * 2;
    const address = new Float64Array(size);
    address.set(this.address);
    const length = new Uint8Array(size);
    length.set(this.length);
    const flow = new Uint8Array(size);
    flow.set(this.flow);
    this.address = address;
    this.length = length;
    this.flow = flow;
  }
}

/** Legacy and REX prefixes: lock, rep, segment overrides, operand and address size, 0x40-0x4f. */
function isPrefixByte(b: number): boolean {
  return b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x26
    || b === 0x64 || b === 0x65 || b === 0x66 || b === 0x67 || (b >= 0x40 && b <= 0x4f);
}

function addEdge(edges: Map<number, number[]>, target: number, from: number): void {
  const list = edges.get(target);
  if (list) list.push(from);
  else edges.set(target, [from]);
}
