/**
 * Whether a function's address is taken: stored as a pointer in data (or as a relocation
 * addend, in a static PIE), loaded with `lea r, [rip + x]`, or moved as a 32-bit immediate. A
 * wrapper whose number arrives as an argument is resolved at its direct callers; if its address
 * is also taken, calls through that pointer are callers data-flow cannot see, and the analysis
 * must say so rather than claim a complete answer.
 */
import { SHF_ALLOC, SHF_EXECINSTR, SHT_DYNSYM, SHT_NOBITS, SHT_SYMTAB, type ElfProgram, type ElfSection } from '../elf/index.js';
import type { CodeRegion } from './decode.js';

const PF_X = 1;

/** A file range to search. */
export interface DataRange {
  fileOffset: number;
  address: number;
  size: number;
}

export class AddressReferences {
  private readonly known = new Map<number, number | null>();

  constructor(
    private readonly file: Buffer,
    private readonly code: readonly CodeRegion[],
    private readonly data: readonly DataRange[],
  ) {}

  /** Where the address `start` is taken (an address in code or data), or undefined if nowhere found. */
  takenAt(start: number): number | undefined {
    let at = this.known.get(start);
    if (at === undefined) {
      at = this.pointerInData(start) ?? this.immediateInCode(start) ?? this.ripRelativeLea(start) ?? null;
      this.known.set(start, at);
    }
    return at ?? undefined;
  }

  private pointerInData(start: number): number | undefined {
    const needle = Buffer.alloc(8);
    needle.writeBigUInt64LE(BigInt(start));
    return find(this.file, needle, this.data);
  }

  /** `mov r32, imm32` (and pushes, stores) of the address: how non-PIE code passes a pointer. */
  private immediateInCode(start: number): number | undefined {
    if (start > 0xffffffff) return undefined;
    const needle = Buffer.alloc(4);
    needle.writeUInt32LE(start);
    return find(this.file, needle, this.code);
  }

  /** `lea r, [rip + disp32]` (8d, ModRM mod=00 rm=101) whose target is the address. */
  private ripRelativeLea(start: number): number | undefined {
    for (const r of this.code) {
      const end = r.fileOffset + r.size - 6;
      for (let i = r.fileOffset; i <= end; i++) {
        if (this.file[i] !== 0x8d || ((this.file[i + 1] as number) & 0xc7) !== 0x05) continue;
        const nextIp = r.address + (i + 6 - r.fileOffset);
        if (nextIp + this.file.readInt32LE(i + 2) === start) return r.address + (i - r.fileOffset);
      }
    }
    return undefined;
  }
}

/**
 * Where pointers may be stored: the allocated, file-backed, non-code sections other than symbol
 * tables (whose values are addresses too), or the non-executable segments of a file without
 * section headers.
 */
export function dataRanges(program: ElfProgram, sections: readonly ElfSection[]): DataRange[] {
  if (sections.length === 0) {
    return program.loads.filter((s) => (s.flags & PF_X) === 0 && s.filesz > 0).map((s) => ({ fileOffset: s.offset, address: s.vaddr, size: s.filesz }));
  }
  return sections
    .filter((s) => (s.flags & SHF_ALLOC) !== 0 && (s.flags & SHF_EXECINSTR) === 0 && s.type !== SHT_NOBITS
      && s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM && s.size > 0)
    .map((s) => ({ fileOffset: s.fileOffset, address: s.address, size: s.size }));
}

function find(file: Buffer, needle: Buffer, ranges: readonly DataRange[]): number | undefined {
  for (const r of ranges) {
    const end = Math.min(file.length, r.fileOffset + r.size);
    const at = file.subarray(r.fileOffset, end).indexOf(needle);
    if (at >= 0) return r.address + at;
  }
  return undefined;
}
