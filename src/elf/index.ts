/** ELF64 reading and checking for x86-64 programs: headers, segments, sections, symbols. */
export { parseElf, readElf, elfLoadFootprint, PT_LOAD, PT_INTERP, PT_DYNAMIC, PT_TLS, USER_ADDRESS_LIMIT } from './reader.js';
export type { ElfProgram, ElfSegment } from './reader.js';
export {
  readSections, readSectionsIfValid, readFunctionSymbols, hasSymbolTable,
  SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_DYNSYM, SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR,
} from './sections.js';
export type { ElfSection, FunctionSymbol } from './sections.js';
export { elfDynamicInfo } from './dynamic.js';
export type { ElfDynamicInfo } from './dynamic.js';
export {
  ElfError, NotElfError, Elf32Error, ElfBigEndianError, NotX86_64Error, ElfTypeError, ElfHeaderError,
  ElfTruncatedError, ElfDynamicError, ElfOverlapError, ElfNoLoadError, ElfSegmentError, ElfSectionError,
} from './errors.js';
export type { ElfErrorCode } from './errors.js';
