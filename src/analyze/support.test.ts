/**
 * The support table must say exactly what kernel/linux/table.c says: every S(...) and IGNORE(...)
 * entry is read, every name is a Linux syscall of abi/syscalls.tsv, and a table in a form the
 * parser does not know fails instead of turning implemented calls into "lacking".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syscallTable } from '../abi/index.js';
import { kernelSupport, kernelTablePath, KernelTableError, parseKernelTable } from './support.js';

describe('kernel support table', () => {
  const source = readFileSync(kernelTablePath(), 'utf8');

  it('reads every entry of kernel/linux/table.c', () => {
    const support = kernelSupport();
    // Counted independently of the parser: every use of the two macros outside #define lines.
    const uses = source.split('\n').filter((line) => !line.startsWith('#define')).join('\n');
    const entries = (pattern: RegExp): number => uses.match(pattern)?.length ?? 0;
    expect(support.implemented.size).toBe(entries(/\bS\(\s*\d/g));
    expect(support.ignored.size).toBe(entries(/\bIGNORE\(\s*[a-z]/g));
    expect(support.implemented.size).toBeGreaterThan(50);
  });

  it('names only syscalls Linux has, none both implemented and ignored', () => {
    const support = kernelSupport();
    const names = syscallTable();
    const all = [...support.implemented, ...support.ignored];
    expect(all.filter((n) => names.number(n) === undefined)).toEqual([]);
    expect([...support.implemented].filter((n) => support.ignored.has(n))).toEqual([]);
  });

  it('classifies implemented, ignored and lacking calls', () => {
    const support = kernelSupport();
    expect(support.of('write')).toBe('implemented');
    expect(support.of('sync')).toBe('ignored');
    expect(support.of('fork')).toBe('lacking');
  });

  it('rejects a table in a form it does not know', () => {
    const odd = '#define SYSCALL_LIST(S, IGNORE) \\\n    S(3, read) [NR_write] = {3, .f3 = sys_write}\n';
    expect(() => parseKernelTable(odd)).toThrow(KernelTableError);
    expect(() => parseKernelTable('int x;')).toThrow(/no `#define SYSCALL_LIST\(S, IGNORE\)` list/);
  });
});
