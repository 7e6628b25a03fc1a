/**
 * analyzeElf on whole files: crafted ELFs for the edge cases (no syscall at all, no section
 * headers, data between functions, not an ELF), the musl test programs, and busybox-static
 * (stripped glibc). Its analysis time is printed, not asserted: speed belongs to benchmarks, and a
 * shared CI host makes a timed assertion flaky.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { craftElf } from '../../test/support/craft-elf.js';
import { NotElfError } from '../elf/index.js';
import { projectRoot } from '../project/index.js';
import { analyzeElf, formatAnalysis, formatAnalysisJson } from './index.js';

const BUSYBOX = '/bin/busybox';
const HELLO = join(projectRoot(), 'apps', 'build', 'hello');
const NOSYS = join(projectRoot(), 'apps', 'build', 'nosys');

/** A static ET_EXEC whose only segment (R+X, at 0x400000) holds `code` at file offset 0x1000. */
function execWithCode(code: number[]): Buffer {
  const buf = craftElf({
    entry: 0x401000,
    segments: [{ offset: 0, vaddr: 0x400000, filesz: 0x1000 + code.length, memsz: 0x1000 + code.length, flags: 5 }],
  });
  Buffer.from(code).copy(buf, 0x1000);
  return buf;
}

const EXIT_60 = [0xb8, 60, 0, 0, 0, 0x0f, 0x05]; // mov eax, 60; syscall

describe('analyzeElf', () => {
  it('analyzes a file without section headers from its executable segment', () => {
    const a = analyzeElf(execWithCode([...EXIT_60, 0xf4]), { name: 'tiny' });
    expect(a).toMatchObject({ file: 'tiny', kind: 'exec', stripped: true, unresolvedSites: 0, unsupported: [] });
    // The header's bytes decode as instructions; a second sweep starts in step at the entry.
    expect(a.code.regions).toEqual([
      { name: 'segment 0', address: 0x400000, fileOffset: 0, size: 0x1000 },
      { name: 'segment 0 from the entry point', address: 0x401000, fileOffset: 0x1000, size: 8 },
    ]);
    expect(a.syscalls).toEqual([{ number: 60, name: 'exit', support: 'implemented', sites: [0x401005] }]);
    expect(a.sites[0]).toMatchObject({ fileOffset: 0x1005, movEaxPair: { address: 0x401000, fileOffset: 0x1000, number: 60 } });
  });

  it('finds nothing in a program without system calls, and says so', () => {
    const a = analyzeElf(execWithCode([0x31, 0xc0, 0xc3]), { name: 'nothing' });
    expect(a.sites).toEqual([]);
    expect(a.syscalls).toEqual([]);
    expect(formatAnalysis(a)).toContain('unresolved sites: none');
  });

  it('finishes on data between functions, resolving the real site and reporting the noise', () => {
    const noise = [...readFileSync(process.execPath).subarray(0x2000, 0x3000)];
    const a = analyzeElf(execWithCode([...EXIT_60, 0xf4, ...noise, ...EXIT_60, 0xf4]));
    expect(a.sites[0]).toMatchObject({ address: 0x401005, numbers: [60], resolved: true });
    expect(a.code.instructions).toBeGreaterThan(500);
  });

  it('rejects a file that is not an ELF with the ELF reader\'s error', () => {
    expect(() => analyzeElf(Buffer.from('#!/bin/sh\necho hi\n'), { name: 'script' })).toThrow(NotElfError);
  });

  it('produces JSON that parses back to the same analysis', () => {
    const a = analyzeElf(execWithCode([...EXIT_60, 0xf4]));
    expect(JSON.parse(formatAnalysisJson(a))).toEqual(a);
  });

  it.skipIf(!existsSync(HELLO))('resolves every site of a musl program with symbols (apps/build/hello)', () => {
    const a = analyzeElf(HELLO);
    expect(a.stripped).toBe(false);
    expect(a.unresolvedSites).toBe(0);
    expect(a.syscalls.map((s) => s.name)).toEqual(expect.arrayContaining(['writev', 'exit_group', 'set_tid_address']));
    expect(a.lacking).toEqual([]);
  });

  it.skipIf(!existsSync(NOSYS))('resolves musl syscall() at its callers and names what unikit lacks (apps/build/nosys)', () => {
    const a = analyzeElf(NOSYS);
    const fork = a.syscalls.find((s) => s.name === 'fork');
    expect(fork?.support).toBe('lacking');
    expect(a.sites.find((s) => s.function === 'syscall')).toMatchObject({ resolved: true, through: ['syscall'] });
    expect(formatAnalysis(a)).toMatch(/lacking in unikit .*:\n  fork\n/);
  });

  it.skipIf(!existsSync(BUSYBOX))('analyzes busybox-static (stripped glibc)', () => {
    const started = performance.now();
    const a = analyzeElf(BUSYBOX);
    const ms = performance.now() - started;
    console.log(`busybox: ${a.code.instructions} instructions, ${a.sites.length} sites, ${a.unresolvedSites} unresolved, ` +
      `${a.syscalls.length} syscalls, analyzed in ${Math.round(ms)} ms`);
    expect(a.stripped).toBe(true);
    expect(a.sites.length).toBeGreaterThan(250);
    // glibc's setxid broadcast reads the number from memory; everything else resolves.
    expect(a.unresolvedSites).toBeLessThanOrEqual(2);
    expect(a.syscalls.map((s) => s.name)).toEqual(expect.arrayContaining(['read', 'write', 'openat', 'exit_group', 'clone']));
  });
});
