/**
 * The host's TSC frequency, which the guest needs under TCG (its TSC is the host's) to turn
 * ticks into time without calibrating against a slow timer at boot. Measured by build/tscfreq
 * once per host boot and cached in $UNIKIT_HOME/tsc_khz as "<boot_id> <kHz>".
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { artifacts, unikitHome } from '../project/index.js';

let memo: number | undefined;

export interface TscOptions {
  home?: string;
  tool?: string;
}

/** kHz, or undefined when neither the tool nor /proc/cpuinfo can tell. */
export function hostTscKhz(o: TscOptions = {}): number | undefined {
  if (memo !== undefined && o.home === undefined) return memo;
  const cacheFile = join(o.home ?? unikitHome(), 'tsc_khz');
  const bootId = readOr('/proc/sys/kernel/random/boot_id', 'unknown-boot').trim();
  const cached = readOr(cacheFile, '').trim().split(/\s+/);
  if (cached[0] === bootId && /^\d+$/.test(cached[1] ?? '')) return (memo = Number(cached[1]));

  const khz = measureWithTool(o.tool ?? artifacts.tscfreq()) ?? fromCpuinfo();
  if (khz === undefined) return undefined;
  try {
    mkdirSync(dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, `${bootId} ${khz}\n`);
  } catch {
    // A read-only home only costs a 20 ms measurement per run.
  }
  return (memo = khz);
}

function measureWithTool(tool: string): number | undefined {
  try {
    const out = execFileSync(tool, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^\d+$/.test(out) && Number(out) > 0 ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/** "cpu MHz" is the TSC rate on hosts with a constant TSC, and a fair guess elsewhere. */
function fromCpuinfo(): number | undefined {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readOr('/proc/cpuinfo', ''));
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
