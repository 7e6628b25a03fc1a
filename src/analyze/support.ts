/**
 * What unikit's kernel does with each syscall, read from the kernel's own table
 * (kernel/linux/table.c) so that the answer can never drift from the code: `S(n, name)` entries
 * are implemented, `IGNORE(name)` entries are accepted as no-ops, and every other number
 * returns -ENOSYS ("lacking": the program fails if it reaches that call).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project/index.js';

export type SyscallSupport = 'implemented' | 'ignored' | 'lacking';

export interface KernelSupport {
  readonly implemented: ReadonlySet<string>;
  readonly ignored: ReadonlySet<string>;
  of(name: string): SyscallSupport;
}

export class KernelTableError extends Error {
  readonly code = 'ANALYZE_KERNEL_TABLE';
  constructor(file: string, detail: string) {
    super(`cannot read the kernel's syscall table from ${file}: ${detail}; update src/analyze/support.ts to the table's new form`);
    this.name = 'KernelTableError';
  }
}

/** The kernel's syscall table source, in the checkout. */
export function kernelTablePath(): string {
  return join(projectRoot(), 'kernel', 'linux', 'table.c');
}

/**
 * Parses the `SYSCALL_LIST(S, IGNORE)` macro of table.c (the list its table is made from).
 * Strict: anything in the list besides S(...) and IGNORE(...) entries and comments is an error,
 * so a new entry form fails loudly (and the sync test with it) instead of being silently
 * reported as lacking.
 */
export function parseKernelTable(source: string, file = 'table.c'): KernelSupport {
  const block = /#define\s+SYSCALL_LIST\(\s*S\s*,\s*IGNORE\s*\)((?:[^\n]*\\\n)*[^\n]*)/.exec(source);
  if (!block) throw new KernelTableError(file, 'no `#define SYSCALL_LIST(S, IGNORE)` list found');
  const body = (block[1] as string)
    .replace(/\\\n/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, ' ');
  const implemented = new Set<string>();
  const ignored = new Set<string>();
  const rest = body
    .replace(/\bS\(\s*\d+\s*,\s*([a-z0-9_]+)\s*\)/g, (_m, name: string) => {
      implemented.add(name);
      return '';
    })
    .replace(/\bIGNORE\(\s*([a-z0-9_]+)\s*\)/g, (_m, name: string) => {
      ignored.add(name);
      return '';
    })
    .replace(/[\s,]+/g, '');
  if (rest !== '') throw new KernelTableError(file, `unexpected text in the table: ${JSON.stringify(rest.slice(0, 60))}`);
  if (implemented.size === 0) throw new KernelTableError(file, 'the table has no S(...) entries');
  return {
    implemented,
    ignored,
    of: (name) => (implemented.has(name) ? 'implemented' : ignored.has(name) ? 'ignored' : 'lacking'),
  };
}

let cached: KernelSupport | undefined;

/** The support table of the kernel in this checkout, read once. */
export function kernelSupport(): KernelSupport {
  if (!cached) {
    const file = kernelTablePath();
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KernelTableError(file, (e as Error).message);
    }
    cached = parseKernelTable(source, file);
  }
  return cached;
}
