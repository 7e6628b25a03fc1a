/**
 * ELF64 reading for x86-64 programs: the header, the program headers, and the checks that decide
 * whether unikit's kernel can load the file. Only what loading needs: sections are in sections.ts.
 */
import { readFile } from 'node:fs/promises';
import {
  Elf32Error, ElfBigEndianError, ElfDynamicError, ElfHeaderError, ElfNoLoadError, ElfOverlapError,
  ElfSegmentError, ElfTruncatedError, ElfTypeError, NotElfError, NotX86_64Error, hex,
} from './errors.js';

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_TLS = 7;
export const PT_GNU_STACK = 0x6474e551;

const ET_EXEC = 2;
const ET_DYN = 3;
const EM_X86_64 = 62;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PAGE = 4096;
/** The top of the lower (user) half of the x86-64 address space with 4-level paging. */
export const USER_ADDRESS_LIMIT = 0x8000_0000_0000;

export interface ElfSegment {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** An ELF program that passed every check. `kind` says how the kernel places it. */
export interface ElfProgram {
  /** 'exec': ET_EXEC at its own addresses; 'static-pie': ET_DYN without interpreter, relocatable. */
  kind: 'exec' | 'static-pie';
  entry: number;
  segments: ElfSegment[];
  loads: ElfSegment[];
  /** Page-aligned range the PT_LOAD segments cover, in the program's own addresses. */
  span: { start: number; end: number; size: number };
  fileSize: number;
  hasTls: boolean;
}

/** Reads and checks an ELF file; throws an ElfError naming the problem. */
export async function readElf(path: string, displayName: string = path): Promise<ElfProgram> {
  return parseElf(await readFile(path), displayName);
}

/** Checks an ELF image in memory; `file` names it in error messages. */
export function parseElf(buf: Buffer, file: string): ElfProgram {
  if (buf.length < 4 || buf.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError(file, buf.subarray(0, 4));
  if (buf.length < 6) throw new ElfTruncatedError(file, 'the ELF identification', 16, buf.length);
  const elfClass = buf[4];
  if (elfClass === 1) throw new Elf32Error(file);
  if (elfClass !== 2) throw new ElfHeaderError(file, `EI_CLASS is ${String(elfClass)}, not 2 (64-bit)`);
  if (buf[5] !== 1) throw new ElfBigEndianError(file, buf[5] ?? 0);
  if (buf.length < EHDR_SIZE) throw new ElfTruncatedError(file, 'the ELF header', EHDR_SIZE, buf.length);

  const type = buf.readUInt16LE(16);
  const machine = buf.readUInt16LE(18);
  if (machine !== EM_X86_64) throw new NotX86_64Error(file, machine);
  if (type !== ET_EXEC && type !== ET_DYN) throw new ElfTypeError(file, type);
  const entry = u64(buf, 24, file, 'e_entry');
  const phoff = u64(buf, 32, file, 'e_phoff');
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phnum === 0) throw new ElfNoLoadError(file);
  if (phentsize !== PHDR_SIZE) throw new ElfHeaderError(file, `e_phentsize is ${phentsize}, not ${PHDR_SIZE}`);
  const phEnd = phoff + phnum * PHDR_SIZE;
  if (phEnd > buf.length) throw new ElfTruncatedError(file, `the program header table (${phnum} entries at offset ${phoff})`, phEnd, buf.length);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_SIZE;
    segments.push({
      index: i,
      type: buf.readUInt32LE(at),
      flags: buf.readUInt32LE(at + 4),
      offset: u64(buf, at + 8, file, `segment ${i} p_offset`),
      vaddr: u64(buf, at + 16, file, `segment ${i} p_vaddr`),
      filesz: u64(buf, at + 32, file, `segment ${i} p_filesz`),
      memsz: u64(buf, at + 40, file, `segment ${i} p_memsz`),
      align: u64(buf, at + 48, file, `segment ${i} p_align`),
    });
  }

  const interp = segments.find((s) => s.type === PT_INTERP);
  if (interp) throw new ElfDynamicError(file, interpreterName(buf, interp));

  const loads = segments.filter((s) => s.type === PT_LOAD);
  if (loads.length === 0) throw new ElfNoLoadError(file);
  for (const s of loads) checkLoadSegment(s, buf.length, file);
  checkNoOverlap(loads, file);

  const start = Math.min(...loads.map((s) => s.vaddr));
  const end = Math.max(...loads.map((s) => s.vaddr + s.memsz));
  const span = { start: alignDown(start, PAGE), end: alignUp(end, PAGE), size: 0 };
  span.size = span.end - span.start;
  const kind = type === ET_EXEC ? 'exec' : 'static-pie';
  if (kind === 'exec' && (entry < start || entry >= end)) {
    throw new ElfHeaderError(file, `the entry point ${hex(entry)} lies outside the loaded segments [${hex(start)}, ${hex(end)})`);
  }
  return { kind, entry, segments, loads, span, fileSize: buf.length, hasTls: segments.some((s) => s.type === PT_TLS) };
}

function checkLoadSegment(s: ElfSegment, fileSize: number, file: string): void {
  if (s.filesz > s.memsz) throw new ElfSegmentError(file, s.index, `p_filesz ${hex(s.filesz)} is larger than p_memsz ${hex(s.memsz)}`);
  if (s.offset + s.filesz > fileSize) {
    throw new ElfTruncatedError(file, `segment ${s.index} (offset ${s.offset}, ${s.filesz} bytes)`, s.offset + s.filesz, fileSize);
  }
  if (s.vaddr + s.memsz > USER_ADDRESS_LIMIT) {
    throw new ElfSegmentError(file, s.index, `[${hex(s.vaddr)}, ${hex(s.vaddr + s.memsz)}) reaches beyond the user address space (${hex(USER_ADDRESS_LIMIT)})`);
  }
  if (s.align > 1 && s.vaddr % PAGE !== s.offset % PAGE) {
    throw new ElfSegmentError(file, s.index, `p_vaddr ${hex(s.vaddr)} and p_offset ${hex(s.offset)} differ modulo the page size`);
  }
}

function checkNoOverlap(loads: ElfSegment[], file: string): void {
  const byAddress = [...loads].filter((s) => s.memsz > 0).sort((a, b) => a.vaddr - b.vaddr);
  for (let i = 1; i < byAddress.length; i++) {
    const prev = byAddress[i - 1] as ElfSegment;
    const cur = byAddress[i] as ElfSegment;
    if (cur.vaddr < prev.vaddr + prev.memsz) {
      throw new ElfOverlapError(file,
        { index: prev.index, start: prev.vaddr, end: prev.vaddr + prev.memsz },
        { index: cur.index, start: cur.vaddr, end: cur.vaddr + cur.memsz });
    }
  }
}

function interpreterName(buf: Buffer, s: ElfSegment): string {
  const end = Math.min(buf.length, s.offset + s.filesz);
  return buf.subarray(Math.min(s.offset, end), end).toString('latin1').replace(/\0+$/, '');
}

/** Reads a u64 that must fit a JS number exactly (any real x86-64 value does). */
function u64(buf: Buffer, at: number, file: string, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfHeaderError(file, `${what} is ${hex(v)}, out of range`);
  return Number(v);
}

function alignDown(n: number, a: number): number {
  return n - (n % a);
}

function alignUp(n: number, a: number): number {
  return alignDown(n + a - 1, a);
}

/**
 * Bytes of memory the PT_LOAD segments of any ELF (32- or 64-bit, any address) occupy: the sum
 * of their page-rounded p_memsz. For the guest kernel's own footprint, which lives in the upper
 * half and so fails the user-program checks above. Returns undefined for a non-ELF.
 */
export function elfLoadFootprint(buf: Buffer): number | undefined {
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = buf[4] === 2;
  const phoff = is64 ? Number(buf.readBigUInt64LE(32)) : buf.readUInt32LE(28);
  const phentsize = buf.readUInt16LE(is64 ? 54 : 42);
  const phnum = buf.readUInt16LE(is64 ? 56 : 44);
  let total = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + phentsize > buf.length) return undefined;
    if (buf.readUInt32LE(at) !== PT_LOAD) continue;
    const memsz = is64 ? Number(buf.readBigUInt64LE(at + 40)) : buf.readUInt32LE(at + 20);
    total += alignUp(memsz, PAGE);
  }
  return total;
}
