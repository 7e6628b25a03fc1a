import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CraftSections, craftElf, staticExec } from '../../test/support/craft-elf.js';
import { ElfError, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS, SHT_STRTAB, hasSymbolTable, parseElf, readSections, readSectionsIfValid } from './index.js';

/** "CODE: message" of the ElfError `read` throws, or 'accepted'. */
function problemOf(read: () => unknown): string {
  try {
    read();
  } catch (e) {
    if (e instanceof ElfError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

const codeOf = (buf: Buffer): string => problemOf(() => parseElf(buf, 'prog'));

describe('parseElf', () => {
  it('accepts a static ET_EXEC and computes its page-aligned span', () => {
    const p = parseElf(staticExec(), 'prog');
    expect(p.kind).toBe('exec');
    expect(p.entry).toBe(0x401000);
    expect(p.loads).toHaveLength(2);
    expect(p.span).toEqual({ start: 0x400000, end: 0x406000, size: 0x6000 });
  });

  it('accepts ET_DYN without PT_INTERP as static-PIE', () => {
    const p = parseElf(craftElf({ type: 3, entry: 0x1000, segments: [{ offset: 0, vaddr: 0, filesz: 0x2000, memsz: 0x2000 }, { type: 2, offset: 0x100, vaddr: 0x100, filesz: 0x10, memsz: 0x10 }] }), 'pie');
    expect(p.kind).toBe('static-pie');
    expect(p.span.size).toBe(0x2000);
  });

  it('says a non-ELF file is not an ELF file, quoting its first bytes', () => {
    expect(codeOf(Buffer.from('#!/bin/sh\necho hi\n'))).toBe('ELF_NOT_ELF: not an ELF file: prog (it starts with 23 21 2f 62, not 7f 45 4c 46)');
    expect(codeOf(Buffer.alloc(0))).toMatch(/^ELF_NOT_ELF: not an ELF file: prog \(it starts with nothing/);
  });

  it('rejects 32-bit, big-endian and non-x86-64 files', () => {
    expect(codeOf(staticExec({ elfClass: 1 }))).toMatch(/^ELF_32BIT: .*32-bit ELF/);
    expect(codeOf(staticExec({ data: 2 }))).toMatch(/^ELF_BIG_ENDIAN: .*EI_DATA 2/);
    expect(codeOf(staticExec({ machine: 183 }))).toBe('ELF_NOT_X86_64: prog is built for machine 183 (AArch64), not x86-64 (62)');
  });

  it('rejects relocatable objects and core files', () => {
    expect(codeOf(staticExec({ type: 1 }))).toMatch(/^ELF_BAD_TYPE: prog is a relocatable object/);
    expect(codeOf(staticExec({ type: 4 }))).toMatch(/^ELF_BAD_TYPE: prog is a core dump/);
  });

  it('reports truncated headers and segments with the offending offsets', () => {
    expect(codeOf(staticExec().subarray(0, 40))).toMatch(/^ELF_TRUNCATED: truncated ELF: prog: the ELF header ends at byte 64, beyond the file's 40 bytes/);
    expect(codeOf(staticExec().subarray(0, 100))).toMatch(/^ELF_TRUNCATED: .*program header table \(2 entries at offset 64\) ends at byte 176/);
    expect(codeOf(staticExec({ fileSize: 0x1000 }))).toMatch(/^ELF_TRUNCATED: .*segment 0 \(offset 0, 4352 bytes\) ends at byte 4352, beyond the file's 4096 bytes/);
  });

  it('rejects dynamically linked programs, naming the interpreter', () => {
    const dyn = craftElf({
      type: 3,
      segments: [
        { type: 3, offset: 0x200, vaddr: 0x200, filesz: 28, memsz: 28 },
        { offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000 },
      ],
      interp: '/lib64/ld-linux-x86-64.so.2',
    });
    expect(codeOf(dyn)).toBe('ELF_DYNAMIC: prog is dynamically linked: not supported yet; link it statically (it asks for the interpreter "/lib64/ld-linux-x86-64.so.2"), or run it in a Linux microVM with its libraries packed from the host: `unikit build --kernel linux`');
  });

  it('rejects overlapping PT_LOAD segments', () => {
    const overlap = craftElf({
      segments: [
        { offset: 0, vaddr: 0x400000, filesz: 0x2000, memsz: 0x2000 },
        { offset: 0x1000, vaddr: 0x401000, filesz: 0x100, memsz: 0x100 },
      ],
    });
    expect(codeOf(overlap)).toBe('ELF_OVERLAP: prog: PT_LOAD segments overlap: segment 0 [0x400000, 0x402000) and segment 1 [0x401000, 0x401100)');
  });

  it('rejects a file without PT_LOAD', () => {
    expect(codeOf(craftElf({ segments: [{ type: 4, offset: 0, vaddr: 0, filesz: 0, memsz: 0 }] }))).toMatch(/^ELF_NO_LOAD: prog has no PT_LOAD segment/);
    expect(codeOf(craftElf({ segments: [] }))).toMatch(/^ELF_NO_LOAD/);
  });

  it('rejects segments with filesz > memsz or beyond the user half', () => {
    expect(codeOf(craftElf({ segments: [{ offset: 0, vaddr: 0x400000, filesz: 0x100, memsz: 0x10 }] }))).toMatch(/^ELF_BAD_SEGMENT: prog: segment 0: p_filesz 0x100 is larger than p_memsz 0x10/);
    expect(codeOf(craftElf({ entry: 0x7ffffffff000, segments: [{ offset: 0, vaddr: 0x7ffffffff000, filesz: 0x100, memsz: 0x2000 }] }))).toMatch(/^ELF_BAD_SEGMENT: .*beyond the user address space/);
  });

  it('reads real programs of this machine', () => {
    // /bin/true on Debian is dynamically linked; busybox-static is a static glibc ET_EXEC.
    expect(codeOf(readFileSync('/bin/true'))).toMatch(/^ELF_DYNAMIC: .*dynamically linked: not supported yet; link it statically/);
    const bb = parseElf(readFileSync('/bin/busybox'), 'busybox');
    expect(bb.kind).toBe('exec');
    expect(bb.hasTls).toBe(true);
  });
});

/** staticExec with a .text section over its first segment, and the header fields `broken` sets. */
function withText(broken: Partial<CraftSections> = {}): Buffer {
  return staticExec({
    sectionTable: {
      sections: [{ name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, addr: 0x401000, offset: 0x1000, size: 0x100 }],
      ...broken,
    },
  });
}

const sectionProblem = (buf: Buffer): string => problemOf(() => readSections(buf, 'prog'));

describe('readSections', () => {
  it('reads the section headers with their names', () => {
    const sections = readSections(withText(), 'prog');
    expect(sections.map((s) => [s.index, s.name, s.type])).toEqual([[0, '', 0], [1, '.text', SHT_PROGBITS], [2, '.shstrtab', SHT_STRTAB]]);
    expect(sections[1]).toMatchObject({ flags: SHF_ALLOC | SHF_EXECINSTR, address: 0x401000, fileOffset: 0x1000, size: 0x100 });
    expect(hasSymbolTable(sections)).toBe(false);
  });

  it('gives no sections for a file without a table, and no names without a name table', () => {
    expect(readSections(staticExec(), 'prog')).toEqual([]);
    expect(readSections(withText({ shstrndx: 0 }), 'prog').map((s) => s.name)).toEqual(['', '', '']);
  });

  it('names what is wrong with a malformed table', () => {
    const table = Number(withText().readBigUInt64LE(40));
    expect(sectionProblem(withText({ shnum: 40 }))).toBe(
      `ELF_TRUNCATED: truncated ELF: prog: the section header table (40 entries at offset ${table}) ends at byte ${table + 40 * 64}, beyond the file's ${table + 3 * 64} bytes`);
    expect(sectionProblem(withText({ shoff: 1 << 30 }))).toMatch(/^ELF_TRUNCATED: .*the section header table \(at offset 1073741824\) ends at byte/);
    expect(sectionProblem(withText({ shentsize: 40 }))).toBe('ELF_BAD_HEADER: prog: bad ELF header: e_shentsize is 40, not 64');
    expect(sectionProblem(withText({ shstrndx: 7 }))).toBe('ELF_BAD_HEADER: prog: bad ELF header: e_shstrndx is 7, but there are only 3 sections');
    const namesOutside = withText({ sections: [{ name: '.junk', type: SHT_STRTAB, offset: 0x100000, size: 16 }], shstrndx: 1 });
    expect(sectionProblem(namesOutside)).toMatch(/^ELF_TRUNCATED: .*the section name table \(section 1, offset 1048576, 16 bytes\) ends at byte 1048592/);
    const badName = withText();
    badName.writeUInt32LE(0x999, table + 64);
    expect(sectionProblem(badName)).toBe('ELF_BAD_SECTION: prog: section 1: sh_name 0x999 lies outside the section name table (17 bytes)');
    expect(sectionProblem(Buffer.from('#!/bin/sh\n'))).toMatch(/^ELF_NOT_ELF/);
  });

  it('readSectionsIfValid gives no sections where readSections throws', () => {
    expect(readSectionsIfValid(withText({ shentsize: 40 }), 'prog')).toEqual([]);
    expect(readSectionsIfValid(withText(), 'prog')).toHaveLength(3);
  });

  it('reads the sections of real programs of this machine', () => {
    const names = readSections(readFileSync('/bin/busybox'), 'busybox').map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['.text', '.data', '.bss', '.shstrtab']));
  });
});
