/**
 * `unikit bench --suite boot|latency|memory|all`: apps/httpd as a unikernel, a runc container
 * and a native process, measured side by side (src/bench); writes results.json, summary.md and
 * report.html into --out and prints the summary.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMPARATORS, type ComparatorName, SUITES, type SuiteName, htmlReport, markdownSummary, runBench } from '../../bench/index.js';
import { artifacts } from '../../project/index.js';
import { resolveAccel } from '../../vmm/index.js';
import { parseArgs } from '../args.js';
import { parseSize } from '../size.js';
import { UsageError } from '../usage.js';

const BENCH_OPTIONS = [
  { name: 'suite', kind: 'value' },
  { name: 'out', short: 'o', kind: 'value' },
  { name: 'runs', kind: 'value' },
  { name: 'duration', kind: 'value' },
  { name: 'connections', kind: 'value' },
  { name: 'weights', kind: 'value' },
  { name: 'instances', kind: 'value' },
  { name: 'comparators', kind: 'value' },
  { name: 'mem', kind: 'value' },
  { name: 'json', kind: 'flag' },
] as const;

function numbers(option: string, text: string): number[] {
  const xs = text.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--${option} ${JSON.stringify(text)}: give positive integers separated by commas`);
  return xs;
}

function positive(option: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const x = Number(text);
  if (!Number.isInteger(x) || x < 1) throw new UsageError(`--${option} ${JSON.stringify(text)}: give a positive integer`);
  return x;
}

export async function benchCommand(argv: readonly string[], io: { out: (s: string) => void; message: (line: string) => void }): Promise<number> {
  const p = parseArgs('bench', argv, BENCH_OPTIONS);
  if (p.positionals.length) throw new UsageError(`unikit bench takes no positional arguments (got ${JSON.stringify(p.positionals[0])})`);
  const suiteText = p.values.get('suite') ?? 'all';
  let suites: SuiteName[];
  if (suiteText === 'all') suites = [...SUITES];
  else {
    suites = suiteText.split(',') as SuiteName[];
    for (const s of suites) if (!SUITES.includes(s)) throw new UsageError(`--suite ${JSON.stringify(s)}: use boot, latency, memory or all`);
  }
  const comparators = (p.values.get('comparators')?.split(',') ?? [...COMPARATORS]) as ComparatorName[];
  for (const c of comparators) if (!COMPARATORS.includes(c)) throw new UsageError(`--comparators ${JSON.stringify(c)}: use ${COMPARATORS.join(', ')}`);
  const httpd = artifacts.app('httpd');
  if (!existsSync(httpd)) throw new UsageError(`${httpd} is missing: run npm run build (make -C apps) first`);
  const outDir = resolve(p.values.get('out') ?? 'unikit-bench');
  const accel = resolveAccel('auto', io.message);
  const results = await runBench({
    suites,
    comparators,
    accel,
    httpd,
    runs: positive('runs', p.values.get('runs'), 10),
    weights: numbers('weights', p.values.get('weights') ?? '1000,100000,1000000'),
    durationS: positive('duration', p.values.get('duration'), 3),
    connections: positive('connections', p.values.get('connections'), 16),
    instances: numbers('instances', p.values.get('instances') ?? '1,10,50'),
    vmMemBytes: p.values.has('mem') ? parseSize(p.values.get('mem') as string) : 16 << 20,
    progress: (line) => io.message(`unikit: bench: ${line}`),
  });
  const command = ['unikit', 'bench', ...argv].join(' ');
  mkdirSync(outDir, { recursive: true });
  const summary = markdownSummary(results, command);
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(outDir, 'summary.md'), summary);
  writeFileSync(join(outDir, 'report.html'), htmlReport(results, command));
  io.out(p.flags.has('json') ? JSON.stringify(results, null, 2) + '\n' : summary);
  io.message(`unikit: bench: wrote ${join(outDir, 'results.json')}, summary.md and report.html`);
  return 0;
}
