import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { artifacts } from '../project/index.js';
import { UNIKIT_ABI, parseSyscallTable, syscallTable } from './index.js';

/** The `#define UNIKIT_X value` lines of the C header, values as numbers or strings. */
function headerDefines(text: string): Map<string, number | string> {
  const defs = new Map<string, number | string>();
  for (const line of text.split('\n')) {
    const m = /^#define\s+UNIKIT_(\w+)\s+(0x[0-9a-fA-F]+|\d+|"[^"]*")/.exec(line);
    if (!m) continue;
    const raw = m[2] as string;
    defs.set(m[1] as string, raw.startsWith('"') ? raw.slice(1, -1) : Number(raw));
  }
  return defs;
}

describe('abi', () => {
  it('mirrors every value of abi/unikit_abi.h, and nothing more', () => {
    const defs = headerDefines(readFileSync(artifacts.abiHeader(), 'utf8'));
    defs.delete('ABI_H'); // the include guard
    expect(Object.fromEntries(defs)).toEqual({ ...UNIKIT_ABI });
  });

  it('loads the syscall table both ways', () => {
    const t = syscallTable();
    expect(t.name(0)).toBe('read');
    expect(t.name(57)).toBe('fork');
    expect(t.number('exit_group')).toBe(231);
    expect(t.name(99999)).toBeUndefined();
    expect(t.size).toBeGreaterThan(300);
  });

  it('rejects a malformed table line', () => {
    expect(() => parseSyscallTable('0\tread\nbogus line\n')).toThrow(/line 2/);
  });
});
