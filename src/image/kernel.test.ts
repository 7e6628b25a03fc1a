import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifacts } from '../project/index.js';
import { elfTextSize, kernelConfig, specializedKernel } from './index.js';

describe('per-program kernel configuration', () => {
  it('is one define per syscall, and its hash covers the kernel sources', () => {
    const c = kernelConfig(['write', 'exit_group', 'write'], 'abc');
    expect(c.text.split('\n').filter((l) => l.startsWith('#define'))).toEqual([
      '#define UNIKIT_SPECIALIZED 1', '#define UNIKIT_SYSCALL_write 1', '#define UNIKIT_SYSCALL_exit_group 1',
    ]);
    expect(kernelConfig(['write', 'exit_group'], 'abc').hash).toBe(c.hash);
    expect(kernelConfig(['write', 'exit_group'], 'abd').hash).not.toBe(c.hash);
    expect(() => kernelConfig(['write; rm -rf /'])).toThrow(/not a syscall name/);
  });
});

describe.skipIf(!existsSync(artifacts.kernel()))('building per-program kernels', () => {
  it('two builds of one configuration at once: one cached kernel, both usable', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'unikit-kernels-'));
    const config = kernelConfig(['write', 'exit_group']);
    const [a, b] = await Promise.all([specializedKernel(config, cache), specializedKernel(config, cache)]);
    expect(a.path).toBe(join(cache, config.hash, 'kernel.elf'));
    expect(b.path).toBe(a.path);
    expect(readdirSync(cache)).toEqual([config.hash]); // no temporary directory left behind
    expect(readFileSync(join(cache, config.hash, 'config.h'), 'utf8')).toBe(config.text);
    const c = await specializedKernel(config, cache);
    expect(c.built).toBe(false);
    // Two syscalls instead of the whole table: much less code.
    expect(elfTextSize(readFileSync(a.path))).toBeLessThan(elfTextSize(readFileSync(artifacts.kernel())) * 0.9);
  }, 60_000);
});
