/** Keeps bench/net.ts working: a short run over user networking, JSON out, every figure sane. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/project/index.js';
import { appPath, kernelBuilt } from '../support/run.js';

const bench = join(projectRoot(), 'dist', 'bench', 'net.js');
const wrk = spawnSync('wrk', ['--version']).error === undefined;

describe.skipIf(!kernelBuilt() || !existsSync(appPath('httpd')) || !wrk)('bench/net.ts', () => {
  it('measures apps/httpd over user networking with wrk, and a 100 MB transfer', () => {
    const r = spawnSync(process.execPath, [bench, '--duration', '1', '--targets', 'user', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { accel: string; results: Array<Record<string, { requestsPerS: number; p50Ms: number; p99Ms: number } | number | string>> };
    expect(out.accel).toMatch(/^(tcg|kvm)$/);
    const [user] = out.results;
    expect(user?.target).toBe('user');
    for (const k of ['small', 'smallC10', 'light', 'heavy']) {
      const w = user?.[k] as { requestsPerS: number; p50Ms: number; p99Ms: number };
      expect(w.requestsPerS, k).toBeGreaterThan(0);
      expect(w.p50Ms, k).toBeGreaterThan(0);
      expect(w.p99Ms, k).toBeGreaterThanOrEqual(w.p50Ms);
    }
    expect(user?.transferMBps as number).toBeGreaterThan(1);
    expect(user?.guestFreeBytes as number).toBeGreaterThan(0);
  }, 120_000);
});
