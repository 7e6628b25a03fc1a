/**
 * Decoding: which bytes of a program are code, and a linear sweep over them with iced-x86.
 * The sweep keeps only what the later passes need for every instruction (address, length,
 * whether execution can fall through to the next one) in typed arrays, plus the direct branch
 * and call edges and the system-call instructions. Anything else (operands, registers, text) is
 * decoded again on demand for the few instructions that data-flow visits, which keeps a
 * 400,000-instruction program well under a second.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Formatter, FormatterSyntax, Instruction } from 'iced-x86';
import type { ElfProgram } from '../elf/index.js';
import { SHF_EXECINSTR, SHT_PROGBITS, type ElfSection } from './sections.js';

const PF_X = 1;

/** Execution never continues with the next instruction (ret, jmp, ud2, int3, hlt, invalid). */
export const FLOW_NO_FALLTHROUGH = 1;
/** A direct near call (its target is in `callsTo`, or decode it again). */
export const FLOW_DIRECT_CALL = 2;
/** A direct jmp or jcc. */
export const FLOW_DIRECT_JUMP = 4;

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
  const regions = fromSections.length > 0
    ? fromSections
    : executable.map((s) => ({ name: `segment ${s.index}`, address: s.vaddr, fileOffset: s.offset, size: s.filesz }));
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
      const address = r.address + offset;
      offset += length;
      this.address[i] = address;
      this.length[i] = length;
      const code = instr.code;
      switch (instr.flowControl) {
        case FlowControl.UnconditionalBranch:
          this.flow[i] = FLOW_NO_FALLTHROUGH;
          if (instr.isJmpShortOrNear) {
            this.flow[i] = FLOW_NO_FALLTHROUGH | FLOW_DIRECT_JUMP;
            addEdge(this.jumpsTo, Number(instr.nearBranch64), i);
          }
          break;
        case FlowControl.ConditionalBranch:
          this.flow[i] = FLOW_DIRECT_JUMP;
          addEdge(this.jumpsTo, Number(instr.nearBranch64), i);
          break;
        case FlowControl.Call:
          if (code === Code.Syscall) this.syscallSites.push(i);
          else if (code === Code.Sysenter) this.unsupportedSites.push({ index: i, kind: 'sysenter' });
          else if (instr.isCallNear) {
            this.flow[i] = FLOW_DIRECT_CALL;
            addEdge(this.callsTo, Number(instr.nearBranch64), i);
          }
          break;
        case FlowControl.Interrupt:
          if (code === Code.Int_imm8 && instr.immediate8 === 0x80) this.unsupportedSites.push({ index: i, kind: 'int 0x80' });
          if (code === Code.Int3) this.flow[i] = FLOW_NO_FALLTHROUGH;
          break;
        case FlowControl.IndirectBranch:
        case FlowControl.Return:
        case FlowControl.Exception:
          this.flow[i] = FLOW_NO_FALLTHROUGH;
          break;
        default:
          if (code === Code.INVALID) {
            this.invalidCount++;
            this.flow[i] = FLOW_NO_FALLTHROUGH;
          } else if (code === Code.Hlt) {
            this.flow[i] = FLOW_NO_FALLTHROUGH;
          }
      }
    }
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

function addEdge(edges: Map<number, number[]>, target: number, from: number): void {
  const list = edges.get(target);
  if (list) list.push(from);
  else edges.set(target, [from]);
}
