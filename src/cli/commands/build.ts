/** `unikit build <elf> ...`: make an image directory. */
import { basename, resolve } from 'node:path';
import { buildImage, formatBytes } from '../../image/index.js';
import { onePositional, parseArgs } from '../args.js';
import { parseEnvOptions, parseFileSpec } from '../file-spec.js';
import { parseSize } from '../size.js';

export const BUILD_OPTIONS = [
  { name: 'file', kind: 'list' },
  { name: 'env', kind: 'list' },
  { name: 'mem', kind: 'value' },
  { name: 'out', short: 'o', kind: 'value' },
  { name: 'cwd', kind: 'value' },
] as const;

export async function buildCommand(argv: readonly string[], io: { out: (s: string) => void }): Promise<number> {
  const p = parseArgs('build', argv, BUILD_OPTIONS);
  const elf = onePositional('build', p, 'the program to pack: unikit build <elf>');
  const mem = p.values.get('mem');
  const outDir = resolve(p.values.get('out') ?? `${basename(elf)}.unikit`);
  const image = await buildImage({
    elf,
    outDir,
    files: (p.lists.get('file') ?? []).map(parseFileSpec),
    env: parseEnvOptions(p.lists.get('env') ?? []),
    args: p.rest ?? [],
    mem: mem === undefined ? undefined : parseSize(mem),
    cwd: p.values.get('cwd'),
  });
  const m = image.manifest;
  io.out(`built ${image.dir}: ${m.app.name} (${m.app.kind}), kernel ${formatBytes(m.kernel.size)}, initrd ${formatBytes(m.initrd.size)}, memory ${formatBytes(m.memory)}\n`);
  return 0;
}
