/**
 * The ELF side of rewriting: where a new executable PT_LOAD segment (the trampoline area) goes,
 * the program header table that announces it, and what in the file may point into code that
 * is about to be patched (relocations, pointers stored in data).
 */
import { PT_DYNAMIC, PT_LOAD, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, readSectionsIfValid, type ElfProgram, type ElfSection } from '../elf/index.js';

const PT_PHDR = 6;
const PF_X = 1;
const PF_R = 4;
const PHDR_SIZE = 56;
const PAGE = 0x1000;
const DT = { rela: 7, relasz: 8, rel: 17, relsz: 18, jmprel: 23, pltrelsz: 2, pltrel: 20 } as const;
const R_X86_64_RELATIVE = 8;
const R_X86_64_IRELATIVE = 37;

/**
 * The section headers, or none when the file has no readable table: then nothing is known about
 * the bytes after the program header table (so the table moves), and relocations come from
 * PT_DYNAMIC alone, as for a file stripped of its section table.
 */
function sectionHeaders(buf: Buffer): ElfSection[] {
  return readSectionsIfValid(buf, 'the program');
}

/** Where the new segment goes, and whether the program header table has to move into it. */
export interface SegmentLayout {
  vaddr: number;
  fileOffset: number;
  /** The program header table is copied to the start of the new segment (no room where it is). */
  phdrsMoved: boolean;
  /** Offset in the segment where the trampolines start (after the moved table, if any). */
  codeStart: number;
}

/**
 * Places the new segment after the program's highest segment, page aligned both in the file
 * (appended) and in memory. The header table gets one more entry: in place when the bytes after
 * it are unused (no section there, inside the same load), else it moves into the new segment.
 */
export function planSegment(buf: Buffer, program: ElfProgram): SegmentLayout {
  const top = Math.max(...program.loads.map((s) => s.vaddr + s.memsz));
  const vaddr = alignUp(top, PAGE);
  const fileOffset = alignUp(buf.length, PAGE);
  const phdrsMoved = !roomForOneMoreHeader(buf, program);
  const codeStart = phdrsMoved ? alignUp((program.segments.length + 1) * PHDR_SIZE, 16) : 0;
  return { vaddr, fileOffset, phdrsMoved, codeStart };
}

function roomForOneMoreHeader(buf: Buffer, program: ElfProgram): boolean {
  const phoff = Number(buf.readBigUInt64LE(32));
  const end = phoff + program.segments.length * PHDR_SIZE;
  const newEnd = end + PHDR_SIZE;
  const sections = sectionHeaders(buf);
  if (sections.length === 0 || newEnd > buf.length) return false; // cannot tell what the bytes are
  for (const s of sections) {
    if (s.type === SHT_NULL || s.type === SHT_NOBITS || s.size === 0) continue;
    if (s.fileOffset < newEnd && end < s.fileOffset + s.size) return false;
  }
  if (Number(buf.readBigUInt64LE(40)) < newEnd && Number(buf.readBigUInt64LE(40)) + 64 > end) return false;
  // Inside a load, the table must stay inside it; outside every load, it is not in memory at all,
  // and the kernel needs it there (AT_PHDR).
  const load = program.loads.find((s) => phoff >= s.offset && phoff < s.offset + s.filesz);
  return load !== undefined && newEnd <= load.offset + load.filesz;
}

/**
 * The rewritten file: `buf` (already patched at the sites) with the new segment appended and
 * the program header table updated (PT_PHDR follows the table when it moves).
 */
export function addSegment(buf: Buffer, program: ElfProgram, layout: SegmentLayout, code: Buffer): Buffer {
  const size = layout.codeStart + code.length;
  const out = Buffer.alloc(layout.fileOffset + size);
  buf.copy(out);
  code.copy(out, layout.fileOffset + layout.codeStart);

  const oldPhoff = Number(buf.readBigUInt64LE(32));
  const headers = program.segments.map((s) => Buffer.from(buf.subarray(oldPhoff + s.index * PHDR_SIZE, oldPhoff + (s.index + 1) * PHDR_SIZE)));
  const newLoad = Buffer.alloc(PHDR_SIZE);
  newLoad.writeUInt32LE(PT_LOAD, 0);
  newLoad.writeUInt32LE(PF_R | PF_X, 4);
  newLoad.writeBigUInt64LE(BigInt(layout.fileOffset), 8);
  newLoad.writeBigUInt64LE(BigInt(layout.vaddr), 16);
  newLoad.writeBigUInt64LE(BigInt(layout.vaddr), 24);
  newLoad.writeBigUInt64LE(BigInt(size), 32);
  newLoad.writeBigUInt64LE(BigInt(size), 40);
  newLoad.writeBigUInt64LE(BigInt(PAGE), 48);
  // Loads stay in ascending address order: the new one, the highest, after the last load.
  const lastLoad = Math.max(...program.segments.filter((s) => s.type === PT_LOAD).map((s) => s.index));
  headers.splice(lastLoad + 1, 0, newLoad);

  const table = Buffer.concat(headers);
  const phoff = layout.phdrsMoved ? layout.fileOffset : oldPhoff;
  const tableVaddr = layout.phdrsMoved ? layout.vaddr : undefined;
  for (const h of headers) {
    if (h.readUInt32LE(0) !== PT_PHDR) continue;
    if (tableVaddr !== undefined) {
      h.writeBigUInt64LE(BigInt(phoff), 8);
      h.writeBigUInt64LE(BigInt(tableVaddr), 16);
      h.writeBigUInt64LE(BigInt(tableVaddr), 24);
    }
    h.writeBigUInt64LE(BigInt(table.length), 32);
    h.writeBigUInt64LE(BigInt(table.length), 40);
  }
  Buffer.concat(headers).copy(out, phoff);
  out.writeBigUInt64LE(BigInt(phoff), 32);
  out.writeUInt16LE(headers.length, 56);
  return out;
}

/** What else in the file may point at code: relocation targets and stored code addresses. */
export interface CodeReferences {
  /** Sorted r_offset values: bytes the loader (or libc's self-relocation) writes. */
  relocated: number[];
  /** Code addresses stored in data or given as relocation addends. */
  stored: Set<number>;
}

/**
 * Relocations (from section headers and PT_DYNAMIC) and the 8-byte words of non-executable
 * loads that hold one of `interesting` (the addresses a patch would make unreachable).
 */
export function codeReferences(buf: Buffer, program: ElfProgram, interesting: ReadonlySet<number>): CodeReferences {
  const relocated: number[] = [];
  const stored = new Set<number>();
  const seen = new Set<number>();
  const readTable = (offset: number, size: number, rela: boolean): void => {
    const ent = rela ? 24 : 16;
    if (seen.has(offset) || offset < 0 || offset + size > buf.length) return;
    seen.add(offset);
    for (let at = offset; at + ent <= offset + size; at += ent) {
      relocated.push(Number(buf.readBigUInt64LE(at)));
      const type = Number(buf.readBigUInt64LE(at + 8) & 0xffffffffn);
      if (rela && (type === R_X86_64_RELATIVE || type === R_X86_64_IRELATIVE)) {
        const addend = Number(buf.readBigInt64LE(at + 16));
        if (interesting.has(addend)) stored.add(addend);
      }
    }
  };
  for (const s of sectionHeaders(buf)) {
    if (s.type === SHT_RELA || s.type === SHT_REL) readTable(s.fileOffset, s.size, s.type === SHT_RELA);
  }
  const dynamic = program.segments.find((s) => s.type === PT_DYNAMIC);
  if (dynamic) {
    const tags = new Map<number, number>();
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz && at + 16 <= buf.length; at += 16) {
      const tag = Number(buf.readBigInt64LE(at));
      if (tag === 0) break;
      tags.set(tag, Number(buf.readBigUInt64LE(at + 8)));
    }
    const fileOf = (vaddr: number): number => {
      const load = program.loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
      return load ? load.offset + (vaddr - load.vaddr) : -1;
    };
    const rela = tags.get(DT.rela);
    const rel = tags.get(DT.rel);
    const jmprel = tags.get(DT.jmprel);
    if (rela !== undefined) readTable(fileOf(rela), tags.get(DT.relasz) ?? 0, true);
    if (rel !== undefined) readTable(fileOf(rel), tags.get(DT.relsz) ?? 0, false);
    if (jmprel !== undefined) readTable(fileOf(jmprel), tags.get(DT.pltrelsz) ?? 0, tags.get(DT.pltrel) !== DT.rel);
  }
  if (interesting.size > 0) {
    for (const load of program.loads) {
      if (load.flags & PF_X) continue;
      const first = load.offset + ((8 - (load.vaddr % 8)) % 8);
      const end = Math.min(buf.length, load.offset + load.filesz);
      for (let at = first; at + 8 <= end; at += 8) {
        const lo = buf.readUInt32LE(at);
        const hi = buf.readUInt32LE(at + 4);
        if (hi > 0x1fffff) continue;
        const value = hi * 0x1_0000_0000 + lo;
        if (interesting.has(value)) stored.add(value);
      }
    }
  }
  relocated.sort((a, b) => a - b);
  return { relocated, stored };
}

/** True when some sorted value lies in [start, end). */
export function anyIn(sorted: readonly number[], start: number, end: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && (sorted[lo] as number) < end;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
