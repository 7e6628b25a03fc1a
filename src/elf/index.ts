/** ELF64 reading and checking for x86-64 programs. */
export { parseElf, readElf, elfLoadFootprint, PT_LOAD, PT_INTERP, PT_DYNAMIC, PT_TLS, USER_ADDRESS_LIMIT } from './reader.js';
export type { ElfProgram, ElfSegment } from './reader.js';
export { elfDynamicInfo } from './dynamic.js';
export type { ElfDynamicInfo } from './dynamic.js';
export {
  ElfError, NotElfError, Elf32Error, ElfBigEndianError, NotX86_64Error, ElfTypeError, ElfHeaderError,
  ElfTruncatedError, ElfDynamicError, ElfOverlapError, ElfNoLoadError, ElfSegmentError,
} from './errors.js';
export type { ElfErrorCode } from './errors.js';
