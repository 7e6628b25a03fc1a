/**
 * The parts of an ELF64 file that analysis needs and src/elf does not read: section headers
 * (to decode .text-like sections rather than whole segments, which may carry data) and the
 * function symbols of .symtab/.dynsym (to find function starts and name them).
 * Lenient by design: a missing or malformed section table yields no sections, never an error,
 * because the program headers (already checked by src/elf) are enough to analyze a program.
 */

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_DYNSYM = 11;
export const SHF_EXECINSTR = 0x4;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

export interface ElfSection {
  name: string;
  type: number;
  flags: number;
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

/** The section headers, or [] when the file has none or they do not fit in it. */
export function readSections(buf: Buffer): ElfSection[] {
  if (buf.length < 64) return [];
  const shoff = safeNumber(buf.readBigUInt64LE(40));
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  if (shoff === 0 || shnum === 0 || shentsize !== SHDR_SIZE || shoff + shnum * SHDR_SIZE > buf.length) return [];
  const raw: ElfSection[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    raw.push({
      name: String(buf.readUInt32LE(at)), // an offset into .shstrtab until resolved below
      type: buf.readUInt32LE(at + 4),
      flags: safeNumber(buf.readBigUInt64LE(at + 8)),
      address: safeNumber(buf.readBigUInt64LE(at + 16)),
      fileOffset: safeNumber(buf.readBigUInt64LE(at + 24)),
      size: safeNumber(buf.readBigUInt64LE(at + 32)),
      link: buf.readUInt32LE(at + 40),
      entrySize: safeNumber(buf.readBigUInt64LE(at + 56)),
    });
  }
  const names = raw[shstrndx];
  return raw.map((s) => ({ ...s, name: names ? cString(buf, names.fileOffset + Number(s.name), names.fileOffset + names.size) : '' }));
}

/**
 * Function symbols (STT_FUNC and STT_GNU_IFUNC, defined, non-zero address) from .symtab and
 * .dynsym, deduplicated by address (the first name wins, .symtab before .dynsym).
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

/** Any u64 in a real x86-64 file fits a double exactly; a bigger one is garbage, read as 0. */
function safeNumber(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
}
