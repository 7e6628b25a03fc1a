/**
 * npm run bench:deploy: the time of `unikit deploy` with a cold image cache against a warm one.
 * Each run: a fresh $UNIKIT_HOME and unikitd, then deploy test/orchestrate/fixtures/shop.yaml
 * (two apps/httpd services, three instances) cold (its images and per-program kernel built),
 * undeploy, deploy again warm (images from the cache: boots only), undeploy. Prints each time,
 * the medians and their ratio. Options: --runs N (default 3), --json FILE.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetClient } from '../src/fleet/index.js';
import { artifacts, projectRoot } from '../src/project/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const RUNS = Number(arg('runs') ?? 3);
const TEMPLATE = join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'shop.yaml');

function cli(home: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [artifacts.cli(), ...args], { env: { ...process.env, UNIKIT_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => void (err += b.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`unikit ${args.join(' ')}: ${err.trim()}`))));
  });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function oneRun(): Promise<{ coldMs: number; warmMs: number }> {
  const home = mkdtempSync(join(tmpdir(), 'ukb-deploy-'));
  const daemon: ChildProcess = spawn(process.execPath, [artifacts.cli(), 'daemon'], { env: { ...process.env, UNIKIT_HOME: home }, stdio: 'ignore' });
  try {
    const client = new FleetClient({ home, autoStart: false });
    for (let i = 0; i < 200 && !(await client.ping().catch(() => false)); i++) await new Promise((r) => setTimeout(r, 50));
    const coldMs = await timed(() => cli(home, ['deploy', TEMPLATE]));
    await cli(home, ['undeploy', 'shop']);
    const warmMs = await timed(() => cli(home, ['deploy', TEMPLATE]));
    await cli(home, ['undeploy', 'shop']);
    return { coldMs, warmMs };
  } finally {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
    rmSync(home, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const runs: { coldMs: number; warmMs: number }[] = [];
for (let i = 0; i < RUNS; i++) {
  const r = await oneRun();
  runs.push(r);
  process.stdout.write(`run ${i + 1}: cold ${(r.coldMs / 1000).toFixed(2)} s, warm ${(r.warmMs / 1000).toFixed(2)} s\n`);
}
const cold = median(runs.map((r) => r.coldMs));
const warm = median(runs.map((r) => r.warmMs));
process.stdout.write(`deploy of shop.yaml (2 services, 3 instances), median of ${RUNS}: cold image cache ${(cold / 1000).toFixed(2)} s, warm ${(warm / 1000).toFixed(2)} s; cold/warm ${(cold / warm).toFixed(1)}x\n`);
const json = arg('json');
if (json) writeFileSync(json, JSON.stringify({ runs, coldMs: cold, warmMs: warm }, null, 2) + '\n');
