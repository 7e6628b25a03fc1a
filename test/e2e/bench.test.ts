/** Keeps bench/boot.ts working: one run of each, JSON out, every figure present and sane. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/project/index.js';
import { appPath, kernelBuilt } from '../support/run.js';

const bench = join(projectRoot(), 'dist', 'bench', 'boot.js');

describe.skipIf(!kernelBuilt() || !existsSync(appPath('hello')))('bench/boot.ts', () => {
  it('measures the floor, hello through vmm and the CLI, and the smallest --mem', () => {
    const r = spawnSync(process.execPath, [bench, '--runs', '1', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out.accel).toMatch(/^(tcg|kvm)$/);
    for (const k of ['floorMs', 'helloVmmMs', 'helloCliMs', 'ratioVmmToFloor', 'ratioCliToFloor', 'kernelBytes', 'smallestMemBytes']) {
      expect(typeof out[k], k).toBe('number');
      expect(out[k] as number, k).toBeGreaterThan(0);
    }
  }, 120_000);
});
