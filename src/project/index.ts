/**
 * Where unikit's own files are: the checkout (kernel/, abi/, build/) and the user's state
 * directory ($UNIKIT_HOME). A leaf module: every other module may use it, it uses none.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/** The package root: the nearest parent of this file whose package.json is named "unikit".
 * Works from src/ (tests run the TypeScript) and from dist/src/ (the built CLI). */
export function projectRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const parsed: unknown = JSON.parse(readFileSync(pkg, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === 'unikit') {
        cachedRoot = dir;
        return dir;
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('unikit: cannot find the unikit package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Paths of the artifacts that `npm run build` makes. */
export const artifacts = {
  /** $UNIKIT_KERNEL overrides it: to try another kernel build without copying it in. */
  kernel: (): string => process.env.UNIKIT_KERNEL ?? join(projectRoot(), 'kernel', 'build', 'kernel.elf'),
  floor: (): string => join(projectRoot(), 'kernel', 'build', 'floor.elf'),
  tscfreq: (): string => join(projectRoot(), 'build', 'tscfreq'),
  syscallTable: (): string => join(projectRoot(), 'abi', 'syscalls.tsv'),
  abiHeader: (): string => join(projectRoot(), 'abi', 'unikit_abi.h'),
  app: (name: string): string => join(projectRoot(), 'apps', 'build', name),
  /** The built `unikit` command (package.json "bin"): dist/src/cli bundled into one file. */
  cli: (): string => join(projectRoot(), 'dist', 'cli', 'unikit.js'),
};

/** unikit's state directory: $UNIKIT_HOME, else $XDG_DATA_HOME/unikit, else ~/.local/share/unikit. */
export function unikitHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UNIKIT_HOME) return resolve(env.UNIKIT_HOME);
  if (env.XDG_DATA_HOME) return join(resolve(env.XDG_DATA_HOME), 'unikit');
  return join(homedir(), '.local', 'share', 'unikit');
}
