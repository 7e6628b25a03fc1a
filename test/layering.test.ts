/**
 * Quality gate: each src/<module> is used only through its index.ts, and modules import only
 * the modules below them (docs/architecture.md).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/project/index.js';

/** Who may import whom: ARCHITECTURE.md's layering, plus the leaf modules project and abi. */
const BASE = ['abi', 'project'];
const ALLOWED: Record<string, string[]> = {
  project: [],
  abi: ['project'],
  elf: [],
  analyze: ['elf', ...BASE],
  trace: [...BASE],
  rewrite: ['analyze', 'elf', ...BASE],
  image: ['trace', 'rewrite', 'analyze', 'elf', ...BASE],
  vmm: [...BASE],
  fleet: ['vmm', 'image', ...BASE],
  security: [...BASE],
  tosca: ['security', 'elf', ...BASE],
  bench: ['image', 'vmm', ...BASE],
  orchestrate: ['security', 'tosca', 'fleet', 'image', 'analyze', 'vmm', ...BASE],
  cli: ['bench', 'orchestrate', 'security', 'tosca', 'fleet', 'image', 'trace', 'rewrite', 'analyze', 'vmm', 'elf', ...BASE],
  web: [...BASE],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
}

describe('module layering', () => {
  const src = join(projectRoot(), 'src');
  const files = sources(src);

  it('knows the layer of every module', () => {
    const modules = new Set(files.map((f) => relative(src, f).split('/')[0] as string));
    expect([...modules].filter((m) => !(m in ALLOWED))).toEqual([]);
  });

  it('imports other modules only through their index.ts, and only downward', () => {
    const problems: string[] = [];
    for (const file of files) {
      const from = relative(src, file).split('/')[0] as string;
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(src, join(file, '..', m[1] as string));
        const [to, ...rest] = target.split('/');
        if (to === from) continue;
        if (rest.join('/') !== 'index.js') problems.push(`${relative(src, file)} reaches into ${target}`);
        if (!(ALLOWED[from] ?? []).includes(to as string)) problems.push(`${relative(src, file)} imports ${to as string}, which ${from} may not use`);
      }
    }
    expect(problems).toEqual([]);
  });
});
