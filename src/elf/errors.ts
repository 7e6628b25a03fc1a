/**
 * Why an ELF file cannot run under unikit. One class per condition, each with a stable `code`
 * callers can test and a one-line message that quotes the bad value.
 */
export type ElfErrorCode =
  | 'ELF_NOT_ELF'
  | 'ELF_32BIT'
  | 'ELF_BIG_ENDIAN'
  | 'ELF_NOT_X86_64'
  | 'ELF_BAD_TYPE'
  | 'ELF_BAD_HEADER'
  | 'ELF_TRUNCATED'
  | 'ELF_DYNAMIC'
  | 'ELF_OVERLAP'
  | 'ELF_NO_LOAD'
  | 'ELF_BAD_SEGMENT'
  | 'ELF_BAD_SECTION';

export abstract class ElfError extends Error {
  abstract readonly code: ElfErrorCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotElfError extends ElfError {
  readonly code = 'ELF_NOT_ELF';
  constructor(file: string, firstBytes: Buffer) {
    super(`not an ELF file: ${file} (it starts with ${hexBytes(firstBytes)}, not 7f 45 4c 46)`);
  }
}

export class Elf32Error extends ElfError {
  readonly code = 'ELF_32BIT';
  constructor(file: string) {
    super(`${file} is a 32-bit ELF (EI_CLASS 1): unikit runs 64-bit x86-64 programs; build it with -m64`);
  }
}

export class ElfBigEndianError extends ElfError {
  readonly code = 'ELF_BIG_ENDIAN';
  constructor(file: string, dataEncoding: number) {
    super(`${file} is not a little-endian ELF (EI_DATA ${dataEncoding}): unikit runs x86-64 programs`);
  }
}

const MACHINE_NAMES: Record<number, string> = {
  3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S390', 40: 'ARM', 43: 'SPARC V9',
  50: 'IA-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};

export class NotX86_64Error extends ElfError {
  readonly code = 'ELF_NOT_X86_64';
  constructor(file: string, machine: number) {
    const name = MACHINE_NAMES[machine];
    super(`${file} is built for machine ${machine}${name ? ` (${name})` : ''}, not x86-64 (62)`);
  }
}

export class ElfTypeError extends ElfError {
  readonly code = 'ELF_BAD_TYPE';
  constructor(file: string, type: number) {
    const what = type === 1 ? 'a relocatable object (ET_REL): link it into an executable'
      : type === 4 ? 'a core dump (ET_CORE), not a program'
      : `of type ${type}, not an executable (ET_EXEC) or static-PIE (ET_DYN)`;
    super(`${file} is ${what}`);
  }
}

export class ElfHeaderError extends ElfError {
  readonly code = 'ELF_BAD_HEADER';
  constructor(file: string, problem: string) {
    super(`${file}: bad ELF header: ${problem}`);
  }
}

export class ElfTruncatedError extends ElfError {
  readonly code = 'ELF_TRUNCATED';
  constructor(file: string, what: string, end: number, fileSize: number) {
    super(`truncated ELF: ${file}: ${what} ends at byte ${end}, beyond the file's ${fileSize} bytes`);
  }
}

export class ElfDynamicError extends ElfError {
  readonly code = 'ELF_DYNAMIC';
  constructor(file: string, interpreter: string) {
    super(`${file} is dynamically linked: not supported yet; link it statically (it asks for the interpreter ${JSON.stringify(interpreter)}), ` +
      'or run it in a Linux microVM with its libraries packed from the host: `unikit build --kernel linux`');
  }
}

export class ElfOverlapError extends ElfError {
  readonly code = 'ELF_OVERLAP';
  constructor(file: string, a: { index: number; start: number; end: number }, b: { index: number; start: number; end: number }) {
    super(`${file}: PT_LOAD segments overlap: segment ${a.index} [${hex(a.start)}, ${hex(a.end)}) and segment ${b.index} [${hex(b.start)}, ${hex(b.end)})`);
  }
}

export class ElfNoLoadError extends ElfError {
  readonly code = 'ELF_NO_LOAD';
  constructor(file: string) {
    super(`${file} has no PT_LOAD segment: there is nothing to load`);
  }
}

export class ElfSegmentError extends ElfError {
  readonly code = 'ELF_BAD_SEGMENT';
  constructor(file: string, index: number, problem: string) {
    super(`${file}: segment ${index}: ${problem}`);
  }
}

export class ElfSectionError extends ElfError {
  readonly code = 'ELF_BAD_SECTION';
  constructor(file: string, index: number, problem: string) {
    super(`${file}: section ${index}: ${problem}`);
  }
}

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

function hexBytes(b: Buffer): string {
  if (b.length === 0) return 'nothing (the file is empty)';
  return [...b.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}
