import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifacts } from '../project/index.js';
import { hostTscKhz } from './index.js';

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

describe('hostTscKhz', () => {
  it.skipIf(!existsSync(artifacts.tscfreq()))('measures with build/tscfreq and caches the result under the boot id', () => {
    const home = mkdtempSync(join(tmpdir(), 'unikit-tsc-'));
    const khz = hostTscKhz({ home });
    expect(khz).toBeGreaterThan(100_000); // more than 100 MHz on anything that runs QEMU
    expect(readFileSync(join(home, 'tsc_khz'), 'utf8')).toBe(`${bootId} ${khz}\n`);
  });

  it('uses the cache of this boot without measuring again', () => {
    const home = mkdtempSync(join(tmpdir(), 'unikit-tsc-'));
    writeFileSync(join(home, 'tsc_khz'), `${bootId} 1234567\n`);
    expect(hostTscKhz({ home, tool: '/nonexistent' })).toBe(1234567);
  });

  it('measures again after a reboot (another boot id), falling back to /proc/cpuinfo', () => {
    const home = mkdtempSync(join(tmpdir(), 'unikit-tsc-'));
    writeFileSync(join(home, 'tsc_khz'), 'some-other-boot 1234567\n');
    const khz = hostTscKhz({ home, tool: '/nonexistent' });
    expect(khz).not.toBe(1234567);
    expect(readFileSync(join(home, 'tsc_khz'), 'utf8')).toBe(`${bootId} ${String(khz)}\n`);
  });
});
