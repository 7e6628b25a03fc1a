/**
 * The HTML report rendered by a real browser: Debian's chromium, driven by playwright-core.
 * Skips when either is missing (apt-get install chromium; npm ci installs playwright-core).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BenchResults, htmlReport } from './index.js';

const CHROMIUM = '/usr/bin/chromium';

async function playwright(): Promise<typeof import('playwright-core') | undefined> {
  try {
    return await import('playwright-core');
  } catch {
    return undefined;
  }
}

const pw = await playwright();
const why = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install chromium)` : !pw ? 'playwright-core is not installed' : undefined;

function results(): BenchResults {
  const names = ['unikernel', 'linux-microvm', 'container-runc', 'native'] as const;
  const r: BenchResults = {
    format: 'unikit-bench/1',
    date: '2026-11-27T08:00:00.000Z',
    host: { cpus: 2, cpuModel: 'test', kernel: '6.1' },
    accel: 'tcg',
    vmMemBytes: 16 << 20,
    settings: { runs: 5, weights: [1000, 100000, 1000000], durationS: 1, connections: 16, instances: [1, 10, 50] },
    comparators: names.map((name, i) => ({ name, label: name, accel: i < 2 ? 'tcg' : 'native', imageBytes: 100_000 * (i + 1) })),
    boot: {},
    latency: {},
    memory: {},
    skipped: [],
  };
  names.forEach((name, i) => {
    r.boot[name] = { samplesMs: [1, 2, 3, 4, 5].map((k) => (i + 1) * 10 + k), p50Ms: (i + 1) * 10 + 3, p90Ms: (i + 1) * 10 + 5, minMs: (i + 1) * 10 + 1 };
    r.latency[name] = [1000, 100000, 1000000].map((n) => ({ n, requestsPerS: 1e7 / n / (i + 1), p50Ms: (n / 1e5) * (i + 1), p99Ms: (n / 1e4) * (i + 1), errors: 0 }));
    r.memory[name] = [1, 10, 50].map((instances) => ({ instances, pssPerInstanceBytes: (40 - instances / 5) * (i + 1) * 1048576 }));
  });
  return r;
}

describe.skipIf(why !== undefined)(`bench report in headless Chromium${why ? ` (skipped: ${why})` : ''}`, () => {
  it('renders the four charts with their marks and legends', { timeout: 45_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unikit-report-'));
    const browser = await pw!.chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const file = join(dir, 'report.html');
      writeFileSync(file, htmlReport(results(), 'unikit bench --suite all'));
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`file://${file}`);
      const charts = await page.$$eval('svg.chart', (els) => els.map((e) => {
        const b = e.getBoundingClientRect();
        return { w: b.width, h: b.height, marks: e.querySelectorAll('.mark').length, label: e.getAttribute('aria-label') ?? '' };
      }));
      expect(charts).toHaveLength(4);
      for (const c of charts) {
        expect(c.w).toBeGreaterThan(300);
        expect(c.h).toBeGreaterThan(100);
        expect(c.marks).toBeGreaterThanOrEqual(12);
      }
      // every mark lies inside its chart's drawing area
      const outside = await page.$$eval('svg.chart .mark', (els) => els.filter((e) => {
        const b = e.getBoundingClientRect();
        const s = e.closest('svg.chart')!.getBoundingClientRect();
        return !(b.width > 0 && b.left >= s.left && b.right <= s.right && b.top >= s.top && b.bottom <= s.bottom);
      }).length);
      expect(outside).toBe(0);
      expect(await page.locator('table tr').count()).toBe(5);
      if (process.env.UNIKIT_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.UNIKIT_REPORT_SCREENSHOT, fullPage: true });
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
