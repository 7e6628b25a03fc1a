/**
 * The kernel's host-side unit tests (C, built with the host's gcc and sanitizers): the RAM
 * filesystem and the file syscalls (kernel/test), and the TCP/IP stack (kernel/net/test).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

function runMake(dir: string): string {
  try {
    return execFileSync('make', ['-s', '-C', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`make -C ${dir} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

describe('kernel host unit tests', () => {
  for (const dir of ['kernel/test', 'kernel/net/test']) {
    it.skipIf(!existsSync(`${dir}/Makefile`))(`${dir} passes`, () => {
      const out = runMake(dir);
      expect(out).not.toMatch(/^FAIL/m);
      expect(out).toMatch(/PASS/);
    }, 600_000);
  }
});
