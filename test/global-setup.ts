/**
 * Before any test: the end-to-end tests run the built CLI (dist/cli/unikit.js) and bench, so
 * rebuild the TypeScript when a source is newer than the bundle, instead of testing stale code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, projectRoot } from '../src/project/index.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const root = projectRoot();
  const cli = artifacts.cli();
  const sources = Math.max(newestSource(join(root, 'src')), newestSource(join(root, 'bench')));
  if (existsSync(cli) && statSync(cli).mtimeMs >= sources) return;
  process.stderr.write('test setup: the TypeScript changed since the last build; rebuilding dist/\n');
  execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'inherit' });
}
