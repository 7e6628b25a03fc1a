/**
 * The text report of `unikit analyze`: the set with what unikit does with each call, then the
 * unresolved sites with where their search stopped, then the unsupported instructions.
 */
import { describe, expect, it } from 'vitest';
import { craftElf } from '../../test/support/craft-elf.js';
import { analyzeElf, formatAnalysis } from './index.js';

/** A static ET_EXEC whose code, at 0x401000, is `code`. */
function execWithCode(code: number[]): Buffer {
  const buf = craftElf({ entry: 0x401000, segments: [{ offset: 0, vaddr: 0x400000, filesz: 0x1000 + code.length, memsz: 0x1000 + code.length, flags: 5 }] });
  Buffer.from(code).copy(buf, 0x1000);
  return buf;
}

describe('formatAnalysis', () => {
  const analysis = analyzeElf(execWithCode([
    0xb8, 57, 0, 0, 0, 0x0f, 0x05, // 0x401000: mov eax, 57 (fork); syscall
    0xb8, 1, 0, 0, 0, 0x0f, 0x05, //  0x401007: mov eax, 1 (write); syscall
    0x8b, 0x07, 0x0f, 0x05, //        0x40100e: mov eax, [rdi]; syscall
    0xcd, 0x80, //                    0x401012: int 0x80
    0xf4,
  ]), { name: 'prog' });
  const text = formatAnalysis(analysis);

  it('lists the set with unikit\'s support for each call', () => {
    expect(text).toContain('prog: static executable, stripped');
    expect(text).toContain('syscalls: 2 (1 implemented, 0 ignored as no-ops, 1 lacking)');
    expect(text).toMatch(/\n\s+1 {2}write\s+implemented\s+1\n/);
    expect(text).toMatch(/\n\s+57 {2}fork\s+LACKING\s+1\n/);
    expect(text).toContain('lacking in unikit (the program fails with ENOSYS if it reaches them):\n  fork\n');
  });

  it('says which sites are unresolved, where and why', () => {
    expect(text).toContain('unresolved sites: 1');
    expect(text).toContain('  0x401010 in sub_401000\n      0x40100e: loaded from memory by `mov eax, [rdi]`\n');
  });

  it('lists the unsupported instructions', () => {
    expect(text).toContain('unsupported instructions: 1');
    expect(text).toContain('  0x401012 in sub_401000: int 0x80');
  });
});
