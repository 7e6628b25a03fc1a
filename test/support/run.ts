/**
 * Running things the way a user would, for end-to-end tests: the built `unikit` CLI as a child
 * process, and the same program natively on Linux, so their outputs can be compared.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, statSync, chmodSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { artifacts } from '../../src/project/index.js';

export interface Outcome {
  stdout: Buffer;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

/** Image cache and TSC cache for the tests, shared by all of them (the cache is race-safe). */
export const TEST_HOME = join(tmpdir(), 'unikit-test-home');

export function kernelBuilt(): boolean {
  return existsSync(artifacts.kernel());
}

export function appPath(name: string): string {
  return artifacts.app(name);
}

/** Runs the built `unikit` command (dist/cli/unikit.js) with `args`; `npm run build` must have run. */
export function runCli(args: readonly string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Outcome> {
  const cli = artifacts.cli();
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` before the end-to-end tests`);
  return collect(process.execPath, [cli, ...args], {
    env: { ...process.env, UNIKIT_HOME: TEST_HOME, ...o.env },
    timeoutMs: o.timeoutMs ?? 60_000,
    cwd: o.cwd,
  });
}

/** Runs a program natively with exactly the given environment and argv[0]. */
export function runNative(program: string, args: readonly string[], o: { env?: Record<string, string>; argv0?: string; cwd?: string } = {}): Promise<Outcome> {
  return collect(program, args, { env: o.env ?? {}, argv0: o.argv0, cwd: o.cwd, timeoutMs: 60_000 });
}

function collect(cmd: string, args: readonly string[], o: { env: NodeJS.ProcessEnv; argv0?: string; cwd?: string; timeoutMs: number }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env, argv0: o.argv0, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), status, signal });
    });
  });
}

export interface Packed {
  host: string;
  /** Absolute path inside the image. */
  guest: string;
}

/**
 * A host directory laid out like the image's root: the program at /<basename>, each packed file
 * at its guest path, and /tmp (which the guest kernel always provides). Running natively with
 * this directory as the working directory and relative paths sees what the guest sees from /.
 */
export function mirrorRoot(program: string, files: readonly Packed[] = []): string {
  const root = mkdtempSync(join(tmpdir(), 'unikit-root-'));
  const place = (host: string, guest: string): void => {
    const dest = join(root, guest);
    mkdirSync(dirname(dest), { recursive: true });
    if (statSync(host).isDirectory()) cpSync(host, dest, { recursive: true });
    else {
      copyFileSync(host, dest);
      chmodSync(dest, statSync(host).mode & 0o7777);
    }
  };
  place(program, '/' + basename(program));
  for (const f of files) place(f.host, f.guest);
  mkdirSync(join(root, 'tmp'), { recursive: true });
  return root;
}
