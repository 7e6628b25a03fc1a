/**
 * ELF64 section headers and the function symbols of .symtab/.dynsym. Loading never needs them
 * (reader.ts reads program headers only); analysis (to decode code sections rather than whole
 * segments, and to name functions), rewriting (to know what the bytes after the program header
 * table are, and where relocations lie) and the kernel's size figure do.
 *
 * Strict: a section table that is present but cannot be read is an ElfError naming the problem.
 * A file without one (e_shoff 0, as after sstrip) has no sections, which is not an error.
 */
import { ElfError, ElfHeaderError, ElfSectionError, ElfTruncatedError, NotElfError, hex } from './errors.js';

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const SHN_UNDEF = 0;
/** e_shstrndx when the real index is too large for it and lives in section 0's sh_link. */
const SHN_XINDEX = 0xffff;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

export interface ElfSection {
  index: number;
  /** From the section name table; '' when the file has none (e_shstrndx is SHN_UNDEF). */
  name: string;
  type: number;
  flags: number;
  /**
   * sh_addr. Exact up to 2^53; beyond (only a kernel's upper half has such addresses, never a
   * user program, whose segments reader.ts keeps below 2^47) the nearest double.
   */
  address: number;
  fileOffset: number;
  size: number;
  link: number;
  entrySize: number;
}

export interface FunctionSymbol {
  name: string;
  address: number;
  size: number;
}

/** Where the section header table is, from the ELF header alone. */
interface TableLocation {
  offset: number;
  count: number;
  namesIndex: number;
}

/**
 * The section headers of an ELF64 little-endian file, names resolved; [] when it has no section
 * header table. Throws an ElfError when the table lies outside the file, e_shentsize is not 64,
 * e_shstrndx names no section, or the name table or a name lies outside the file.
 */
export function readSections(buf: Buffer, file: string): ElfSection[] {
  if (buf.length < 4 || buf.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError(file, buf.subarray(0, 4));
  if (buf.length < EHDR_SIZE) throw new ElfTruncatedError(file, 'the ELF header', EHDR_SIZE, buf.length);
  if (buf[4] !== 2 || buf[5] !== 1) throw new ElfHeaderError(file, 'section headers are read from little-endian 64-bit ELF files only');
  const table = tableLocation(buf, file);
  if (!table) return [];

  const sections: ElfSection[] = [];
  for (let i = 0; i < table.count; i++) {
    const at = table.offset + i * SHDR_SIZE;
    const field = (off: number, what: string): number => {
      const v = buf.readBigUInt64LE(at + off);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfSectionError(file, i, `${what} is ${hex(v)}, out of range`);
      return Number(v);
    };
    sections.push({
      index: i,
      name: '',
      type: buf.readUInt32LE(at + 4),
      flags: field(8, 'sh_flags'),
      address: Number(buf.readBigUInt64LE(at + 16)),
      fileOffset: field(24, 'sh_offset'),
      size: field(32, 'sh_size'),
      link: buf.readUInt32LE(at + 40),
      entrySize: field(56, 'sh_entsize'),
    });
  }
  if (table.namesIndex === SHN_UNDEF) return sections;

  const names = sections[table.namesIndex] as ElfSection;
  if (names.type === SHT_NOBITS) throw new ElfSectionError(file, names.index, 'the section name table (e_shstrndx) has no bytes in the file (SHT_NOBITS)');
  const namesEnd = names.fileOffset + names.size;
  if (namesEnd > buf.length) {
    throw new ElfTruncatedError(file, `the section name table (section ${names.index}, offset ${names.fileOffset}, ${names.size} bytes)`, namesEnd, buf.length);
  }
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i] as ElfSection;
    const nameOffset = buf.readUInt32LE(table.offset + i * SHDR_SIZE);
    if (nameOffset === 0) continue;
    if (nameOffset >= names.size) {
      throw new ElfSectionError(file, i, `sh_name ${hex(nameOffset)} lies outside the section name table (${names.size} bytes)`);
    }
    s.name = cString(buf, names.fileOffset + nameOffset, namesEnd);
  }
  return sections;
}

/**
 * readSections for callers that can do without sections (analysis and rewriting fall back to
 * the program headers, as for a file stripped of its section table): [] when the table cannot
 * be read. Errors other than a malformed table (a bug) still throw.
 */
export function readSectionsIfValid(buf: Buffer, file: string): ElfSection[] {
  try {
    return readSections(buf, file);
  } catch (e) {
    if (e instanceof ElfError) return [];
    throw e;
  }
}

/** The table's place and size, with the extended numbering of files of 0xff00 sections or more. */
function tableLocation(buf: Buffer, file: string): TableLocation | undefined {
  const rawOffset = buf.readBigUInt64LE(40);
  const entrySize = buf.readUInt16LE(58);
  let count = buf.readUInt16LE(60);
  let namesIndex = buf.readUInt16LE(62);
  if (rawOffset === 0n) return undefined;
  if (rawOffset > BigInt(buf.length)) throw new ElfTruncatedError(file, `the section header table (at offset ${rawOffset})`, Number(rawOffset) + SHDR_SIZE, buf.length);
  const offset = Number(rawOffset);
  if (entrySize !== SHDR_SIZE) throw new ElfHeaderError(file, `e_shentsize is ${entrySize}, not ${SHDR_SIZE}`);
  // Section 0 holds the real count (sh_size) and name table index (sh_link) when they do not fit
  // the header's 16-bit fields.
  if (count === 0 || namesIndex === SHN_XINDEX) {
    if (offset + SHDR_SIZE > buf.length) throw new ElfTruncatedError(file, `the section header table (at offset ${offset})`, offset + SHDR_SIZE, buf.length);
    if (count === 0) {
      const extended = buf.readBigUInt64LE(offset + 32);
      if (extended > BigInt(buf.length)) throw new ElfHeaderError(file, `section 0 gives ${extended} sections (extended e_shnum), more than the file could hold`);
      count = Number(extended);
    }
    if (namesIndex === SHN_XINDEX) namesIndex = buf.readUInt32LE(offset + 40);
  }
  if (count === 0) return undefined;
  const end = offset + count * SHDR_SIZE;
  if (end > buf.length) throw new ElfTruncatedError(file, `the section header table (${count} entries at offset ${offset})`, end, buf.length);
  if (namesIndex >= count) throw new ElfHeaderError(file, `e_shstrndx is ${namesIndex}, but there are only ${count} sections`);
  return { offset, count, namesIndex };
}

/**
 * Function symbols (STT_FUNC and STT_GNU_IFUNC, defined, non-zero address) from .symtab and
 * .dynsym, deduplicated by address (the first name wins, .symtab before .dynsym). Lenient: a
 * symbol table or string table that does not fit the file is skipped, names past their table
 * are ''; symbols only name and seed functions, so a bad table costs names, not correctness.
 */
export function readFunctionSymbols(buf: Buffer, sections: readonly ElfSection[]): FunctionSymbol[] {
  const byAddress = new Map<number, FunctionSymbol>();
  const tables = [...sections.filter((s) => s.type === SHT_SYMTAB), ...sections.filter((s) => s.type === SHT_DYNSYM)];
  for (const table of tables) {
    const strings = sections[table.link];
    if (!strings || table.fileOffset + table.size > buf.length) continue;
    for (let at = table.fileOffset; at + SYM_SIZE <= table.fileOffset + table.size; at += SYM_SIZE) {
      const type = (buf[at + 4] ?? 0) & 0xf;
      const shndx = buf.readUInt16LE(at + 6);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue;
      const address = safeNumber(buf.readBigUInt64LE(at + 8));
      if (address === 0 || byAddress.has(address)) continue;
      const name = cString(buf, strings.fileOffset + buf.readUInt32LE(at), strings.fileOffset + strings.size);
      byAddress.set(address, { name, address, size: safeNumber(buf.readBigUInt64LE(at + 16)) });
    }
  }
  return [...byAddress.values()];
}

/** True when the file has a .symtab (static symbols): "not stripped". */
export function hasSymbolTable(sections: readonly ElfSection[]): boolean {
  return sections.some((s) => s.type === SHT_SYMTAB);
}

function cString(buf: Buffer, start: number, limit: number): string {
  const end = Math.min(limit, buf.length);
  if (start < 0 || start >= end) return '';
  const nul = buf.indexOf(0, start);
  return buf.toString('latin1', start, nul < 0 || nul > end ? end : nul);
}

/** Any u64 in a real x86-64 program fits a double exactly; a bigger one is garbage, read as 0. */
function safeNumber(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
}
