/**
 * npm run bench:scaleout: what a scale-out by one instance of a deployed service costs (issue 6,
 * part 5), apps/httpd through a real unikitd (the built CLI's `daemon`, a fresh UNIKIT_HOME):
 *
 *   (a) with a build: the service's image is not in the factory's cache, so it is built (static
 *       analysis, per-program kernel, initrd, signature, registration), then one instance boots.
 *       Measured as the deploy of a one-instance variant of the template whose environment
 *       differs, so that each run misses the cache; half the runs also without the per-program
 *       kernel's cache ($UNIKIT_HOME/kernels emptied), so that kernel is compiled too.
 *   (b) image already built: `POST /v1/deployments/{name}/scale` from 1 to 2, one boot, until the
 *       new instance accepts on its port and is behind the front.
 *   (c) standby promoted: the same on a service whose Scaling policy has `standby: true`; the
 *       standby (booted at deploy) only enters the front. Between runs the deployment is scaled
 *       back to 1 and a no-op scale waits for the next standby's boot.
 *
 * Every time is the client's, from the request to its answer (the new instance serving). Medians
 * of --runs N (default 5), the accelerator printed beside them. --json FILE writes them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from '../src/bench/index.js';
import { FleetClient } from '../src/fleet/index.js';
import type { DeploymentStatus, ScaleResult } from '../src/orchestrate/index.js';
import { artifacts } from '../src/project/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const RUNS = Number(arg('runs') ?? 5);
const JSON_OUT = arg('json');
if (!Number.isInteger(RUNS) || RUNS < 2) throw new Error(`--runs must be a whole number of at least 2, not ${arg('runs')}`);

const home = mkdtempSync(join(tmpdir(), 'uk-scaleout-'));
const site = join(home, 'site');

function template(name: string, o: { standby: boolean; instances: number; env?: string }): { text: string; name: string } {
  const text = `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties:
        binary: ${artifacts.app('httpd')}
        args: ["8080", /www]
        files: [${site}:/www]
        memory: 32 MiB
        ports: [8080]
${o.env ? `        env: { BENCH_RUN: "${o.env}" }\n` : ''}  policies:
    - web_scaling:
        type: unikit.policies.Scaling
        targets: [web]
        properties: { min_instances: 1, max_instances: 3, default_instances: ${o.instances}, standby: ${o.standby} }
`;
  return { text, name };
}

async function main(): Promise<void> {
  mkdirSync(site, { recursive: true });
  writeFileSync(join(site, 'index.html'), '<h1>bench</h1>\n');

  const daemon: ChildProcess = spawn(process.execPath, [artifacts.cli(), 'daemon', '--boot-concurrency', '2'], {
    env: { ...process.env, UNIKIT_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  daemon.stderr?.on('data', (b: Buffer) => void (log += b.toString()));
  const client = new FleetClient({ home, autoStart: false });
  try {
    for (const deadline = Date.now() + 20_000; !(await client.ping().catch(() => false));) {
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`unikitd did not come up: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const info = await client.json<{ accel: string }>('GET', '/v1/info');
    const deploy = async (t: { text: string; name: string }): Promise<number> => {
      const started = performance.now();
      await client.json<DeploymentStatus>('POST', '/v1/deployments', { template: t.text, dir: home, file: `${t.name}.yaml`, name: t.name });
      return performance.now() - started;
    };
    const scale = (name: string, n: number): Promise<ScaleResult> => client.json<ScaleResult>('POST', `/v1/deployments/${name}/scale`, { service: 'web', instances: n });

    // (a) with a build: each run a template variant the factory's cache has not seen; every other
    // run also without the per-program kernel cache (so that kernel is compiled too).
    const coldKernel: number[] = [];
    const built: number[] = [];
    for (let i = 0; i < 2 * RUNS; i++) {
      const t = template(`cold${i}`, { standby: false, instances: 1, env: `run-${i}-${process.pid}` });
      const fresh = i % 2 === 0;
      if (fresh) rmSync(join(home, 'kernels'), { recursive: true, force: true });
      const ms = await deploy(t);
      (fresh ? coldKernel : built).push(ms);
      await client.json('DELETE', `/v1/deployments/${t.name}`);
      process.stderr.write(`(a) run ${i + 1}/${2 * RUNS}${fresh ? ' (kernel compiled too)' : ''}: ${ms.toFixed(0)} ms\n`);
    }
    // (b) image built at deploy: one boot.
    await deploy(template('warm', { standby: false, instances: 1 }));
    const boot: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      const r = await scale('warm', 2);
      const ms = performance.now() - started;
      if (r.added[0]?.how !== 'boot') throw new Error(`(b) expected a boot, got ${JSON.stringify(r.added)}`);
      boot.push(ms);
      await scale('warm', 1);
      process.stderr.write(`(b) run ${i + 1}/${RUNS}: ${ms.toFixed(0)} ms (unikitd: ${r.ms.toFixed(0)} ms)\n`);
    }
    await client.json('DELETE', '/v1/deployments/warm');
    // (c) standby promoted.
    await deploy(template('standby', { standby: true, instances: 1 }));
    const promote: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ready = await scale('standby', 1); // waits for the standby's boot
      if (ready.standby === null) throw new Error('(c) no standby was booted');
      const started = performance.now();
      const r = await scale('standby', 2);
      const ms = performance.now() - started;
      if (r.added[0]?.how !== 'standby') throw new Error(`(c) expected the standby promoted, got ${JSON.stringify(r.added)}`);
      promote.push(ms);
      await scale('standby', 1);
      process.stderr.write(`(c) run ${i + 1}/${RUNS}: ${ms.toFixed(1)} ms (unikitd: ${r.ms.toFixed(2)} ms)\n`);
    }
    await client.json('DELETE', '/v1/deployments/standby');

    const result = {
      accel: info.accel,
      runs: RUNS,
      buildKernelAndBootMs: median(coldKernel),
      buildAndBootMs: median(built),
      bootMs: median(boot),
      standbyMs: median(promote),
      samples: { buildKernelAndBoot: coldKernel, buildAndBoot: built, boot, standby: promote },
    };
    const f = (ms: number): string => (ms >= 100 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
    process.stdout.write([
      `scale-out by one instance of apps/httpd, request to serving (accelerator ${result.accel}, medians of ${RUNS} runs):`,
      `  (a) with a build, per-program kernel compiled too   ${f(result.buildKernelAndBootMs).padStart(9)}`,
      `  (a) with a build, kernel from its cache              ${f(result.buildAndBootMs).padStart(9)}`,
      `  (b) image built at deploy: one boot                  ${f(result.bootMs).padStart(9)}   (a)/(b) ${(result.buildKernelAndBootMs / result.bootMs).toFixed(1)}x and ${(result.buildAndBootMs / result.bootMs).toFixed(1)}x`,
      `  (c) standby promoted                                 ${f(result.standbyMs).padStart(9)}   (b)/(c) ${(result.bootMs / result.standbyMs).toFixed(0)}x`,
      '',
    ].join('\n'));
    if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
  } finally {
    // Undeployed, no instance outlives the bench (unikitd leaves instances running when it stops).
    const left = await client.json<DeploymentStatus[]>('GET', '/v1/deployments').catch(() => []);
    for (const dep of left) await client.json('DELETE', `/v1/deployments/${dep.name}`).catch(() => undefined);
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r(undefined) : daemon.once('exit', r)));
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
