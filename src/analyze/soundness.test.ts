/**
 * Soundness, measured: every syscall a program makes on Linux (as `strace -f` sees it) must be
 * in the set the static analysis found. Runs each test program of apps/build/ and busybox with
 * the applets the e2e tests use, and prints the precision (traced / analyzed) per program: how
 * much of the analyzed set a run really used.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../project/index.js';
import { analyzeElf, type Analysis } from './index.js';

const BUSYBOX = '/bin/busybox';
const APPS = join(projectRoot(), 'apps', 'build');
const work = mkdtempSync(join(tmpdir(), 'unikit-soundness-'));
const textFile = join(work, 'text.txt');
writeFileSync(textFile, 'pear\napple\nfig\nbanana\n'.repeat(20));

/** Arguments per test program (the rest run without any); kept short, strace slows each call. */
const APP_ARGS: Record<string, string[]> = {
  'echo-args': ['one', 'two words'],
  sha256file: [textFile],
  compute: ['100000'],
  'syscall-bench': ['1000'],
};

/** The busybox applets of the e2e tests. */
const BUSYBOX_RUNS: string[][] = [
  ['echo', 'hi'],
  ['cat', textFile],
  ['sha256sum', textFile],
  ['wc', textFile],
  ['seq', '5'],
  ['sort', textFile],
  ['ls', '/'],
  ['sh', '-c', 'x=3; echo $((x*7))'],
];

const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
/** The test programs that run to completion by themselves (servers such as httpd and echo wait for
 * clients, and the attack programs are checked in the unikernel, so they are not traced here). */
const SELF_CONTAINED = ['compute', 'echo-args', 'hello', 'hello-pie', 'nosys', 'segfault', 'sha256file',
  'syscall-bench', 'syscalls'];
const apps = existsSync(APPS)
  ? SELF_CONTAINED.filter((name) => existsSync(join(APPS, name)) && (statSync(join(APPS, name)).mode & 0o111) !== 0)
  : [];

/** The syscall names of an `strace -f -qq` log ("PID name(args) = ret" lines). */
function tracedSyscalls(log: string): Set<string> {
  const names = new Set<string>();
  for (const line of log.split('\n')) {
    const call = line.replace(/^\d+\s+/, '');
    // "<... read resumed>" repeats a call already seen as "read(... <unfinished ...>";
    // "--- SIGCHLD" and "+++ exited" are signals and exits, not calls.
    const m = /^([a-z_][a-z0-9_]*)\(/.exec(call);
    if (m) names.add(m[1] as string);
  }
  names.delete('execve'); // strace's own launch of the program
  return names;
}

function trace(program: string, args: string[]): Set<string> {
  const log = join(work, 'strace.log');
  const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=all', '-o', log, program, ...args], {
    cwd: work, stdio: ['ignore', 'ignore', 'ignore'], timeout: 60_000,
  });
  if (run.error) throw run.error;
  return tracedSyscalls(readFileSync(log, 'utf8'));
}

interface Row {
  program: string;
  traced: number;
  analyzed: number;
  unresolvedSites: number;
}
const rows: Row[] = [];

function checkSound(label: string, analysis: Analysis, traced: Set<string>): void {
  const analyzed = new Set(analysis.syscalls.map((s) => s.name));
  rows.push({ program: label, traced: traced.size, analyzed: analyzed.size, unresolvedSites: analysis.unresolvedSites });
  expect([...traced].filter((name) => !analyzed.has(name)), `${label}: traced but not in the analyzed set`).toEqual([]);
}

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (rows.length === 0) return;
  const width = Math.max(...rows.map((r) => r.program.length));
  const lines = rows.map((r) =>
    `${r.program.padEnd(width)}  ${String(r.traced).padStart(6)}  ${String(r.analyzed).padStart(8)}  ${(r.traced / r.analyzed).toFixed(2).padStart(9)}  ${r.unresolvedSites}`);
  console.log([`${'program'.padEnd(width)}  traced  analyzed  precision  unresolved sites`, ...lines].join('\n'));
});

describe('analysis soundness against strace', () => {
  if (!hasStrace) {
    it.skip('needs strace (Debian: apt-get install strace)', () => {});
    return;
  }
  if (apps.length === 0) it.skip(`needs the test programs: make -C apps (nothing in ${APPS})`, () => {});
  for (const app of apps) {
    it(`apps/build/${app}: every traced syscall was found`, () => {
      const program = join(APPS, app);
      checkSound(app, analyzeElf(program), trace(program, APP_ARGS[app] ?? []));
    });
  }

  if (!existsSync(BUSYBOX)) {
    it.skip(`needs busybox-static at ${BUSYBOX} (Debian: apt-get install busybox-static)`, () => {});
    return;
  }
  const busybox = (): Analysis => (busyboxAnalysis ??= analyzeElf(BUSYBOX));
  let busyboxAnalysis: Analysis | undefined;
  for (const args of BUSYBOX_RUNS) {
    it(`busybox ${args.join(' ')}: every traced syscall was found`, () => {
      checkSound(`busybox ${args[0] as string}`, busybox(), trace(BUSYBOX, args));
    });
  }
});
