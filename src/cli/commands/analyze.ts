/** `unikit analyze <elf> [--json]`: the program's syscalls, found statically (src/analyze). */
import { MissingFileError } from '../../image/index.js';
import { readFile } from 'node:fs/promises';
import { onePositional, parseArgs } from '../args.js';

export async function analyzeCommand(argv: readonly string[], io: { out: (s: string) => void }): Promise<number> {
  const p = parseArgs('analyze', argv, [{ name: 'json', kind: 'flag' }]);
  const elf = onePositional('analyze', p, 'the program to analyze: unikit analyze <elf>');
  const bytes = await readFile(elf).catch(() => {
    throw new MissingFileError('program', elf);
  });
  const { analyzeElf, formatAnalysis, formatAnalysisJson } = await import('../../analyze/index.js');
  const analysis = analyzeElf(bytes, { name: elf });
  io.out(p.flags.has('json') ? formatAnalysisJson(analysis) : formatAnalysis(analysis));
  return 0;
}
