import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifacts } from '../project/index.js';
import {
  type BenchResults, findings, htmlReport, hybridCgroups, markdownSummary, median, ociConfig, parseStaggeredWrk, parseWrk, percentile, podmanUlimits, runBench, unavailable,
  withCgroup2Hidden, writeBundle,
} from './index.js';

const WRK_OUTPUT = `Running 1s test @ http://127.0.0.1:1/compute?n=1000
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  300.00us   5.00ms   90.00%
  Latency Distribution
     50%  760.00us
     75%    0.90ms
     90%    1.10ms
     99%    1.63ms
  17975 requests in 1.00s, 2.00MB read
  Non-2xx or 3xx responses: 2
Requests/sec:  17975.12
Transfer/sec:      2.00MB
`;

function sample(): BenchResults {
  return {
    format: 'unikit-bench/1',
    date: '2026-11-27T08:00:00.000Z',
    host: { cpus: 2, cpuModel: 'test', kernel: '6.1' },
    accel: 'tcg',
    vmMemBytes: 16 << 20,
    settings: { runs: 3, weights: [1000, 1000000], durationS: 1, connections: 16, instances: [1, 10] },
    comparators: [
      { name: 'unikernel', label: 'u', accel: 'tcg', imageBytes: 190_000 },
      { name: 'container-runc', label: 'c', accel: 'native', imageBytes: 86_000 },
    ],
    boot: {
      unikernel: { samplesMs: [48, 49, 50], p50Ms: 49, p90Ms: 50, minMs: 48 },
      'container-runc': { samplesMs: [25, 26, 31], p50Ms: 26, p90Ms: 31, minMs: 25 },
    },
    latency: {
      unikernel: [{ n: 1000, requestsPerS: 18000, p50Ms: 0.76, p99Ms: 1.6, errors: 0 }, { n: 1000000, requestsPerS: 520, p50Ms: 5.9, p99Ms: 12.5, errors: 0 }],
      'container-runc': [{ n: 1000, requestsPerS: 120000, p50Ms: 0.11, p99Ms: 4.8, errors: 0 }, { n: 1000000, requestsPerS: 1300, p50Ms: 11.4, p99Ms: 22.9, errors: 0 }],
    },
    memory: {
      unikernel: [{ instances: 1, pssPerInstanceBytes: 32 << 20 }, { instances: 10, pssPerInstanceBytes: 27 << 20 }],
      'container-runc': [{ instances: 1, pssPerInstanceBytes: 100_000, cgroupPerInstanceBytes: 500_000 }, { instances: 10, cgroupPerInstanceBytes: 400_000 }],
    },
    skipped: ['native: test'],
  };
}

describe('bench: pure parts', () => {
  it('reads wrk --latency output', () => {
    expect(parseWrk(WRK_OUTPUT)).toEqual({ requestsPerS: 17975.12, p50Ms: 0.76, p99Ms: 1.63, errors: 2 });
    expect(() => parseWrk('garbage')).toThrow(/cannot read wrk/);
    // the staggered run's own line: requests/s over the window its requests span
    const staggered = 'Running 4s test\nUNIKIT-WRK {"requests":3000,"windowMs":2000.000,"p50Us":750.0,"p99Us":12500.0,"errors":1}\n';
    expect(parseStaggeredWrk(staggered)).toEqual({ requestsPerS: 1500, p50Ms: 0.75, p99Ms: 12.5, errors: 1 });
    expect(() => parseStaggeredWrk('UNIKIT-WRK {"requests":0,"windowMs":0,"p50Us":0,"p99Us":0,"errors":0}')).toThrow(/no requests/);
  });

  it('takes percentiles by nearest rank and medians', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(median(xs)).toBe(5.5);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });

  it('writes an OCI config with an explicit cgroupsPath, no capabilities and a read-only root', () => {
    const c = ociConfig({ args: ['/httpd', '8080', '/www'], cgroupsPath: '/unikit-bench-1/x' }) as {
      linux: { cgroupsPath: string; namespaces: { type: string }[] }; root: { readonly: boolean }; process: { args: string[]; capabilities: { bounding: string[] } };
    };
    expect(c.linux.cgroupsPath).toBe('/unikit-bench-1/x');
    expect(c.root.readonly).toBe(true);
    expect(c.process.args).toEqual(['/httpd', '8080', '/www']);
    expect(c.process.capabilities.bounding).toEqual([]);
    expect(c.linux.namespaces.map((n) => n.type)).not.toContain('network');
    expect((ociConfig({ args: ['/x'], cgroupsPath: '/y', hostNetwork: false }) as typeof c).linux.namespaces.map((n) => n.type)).toContain('network');
  });

  it('makes a bundle whose rootfs holds the binary and its files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unikit-bench-test-'));
    try {
      const bytes = writeBundle(join(dir, 'b'), { program: process.execPath, name: 'prog', args: ['/prog'], cgroupsPath: '/t', dirs: [{ host: join(artifacts.cli(), '..'), guest: '/cli' }] });
      expect(existsSync(join(dir, 'b', 'rootfs', 'prog'))).toBe(true);
      expect(bytes).toBeGreaterThan(1_000_000);
      expect(JSON.parse(readFileSync(join(dir, 'b', 'config.json'), 'utf8')).linux.cgroupsPath).toBe('/t');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where the container wins, with the accelerators', () => {
    const f = findings(sample());
    expect(f.find((x) => x.includes('start-to-ready'))).toMatch(/^The runc container wins start-to-ready: 26\.0 ms against the unikernel's 49\.0 ms.*unikernel: tcg, container-runc: native/);
    expect(f.some((x) => /compute\?n=1000000: the runc container wins/.test(x))).toBe(true);
    expect(f.some((x) => /Memory with 10 instance\(s\): the runc container wins/.test(x))).toBe(true);
  });

  it('summarizes as a Markdown table and an HTML report with inline SVG charts and no external assets', () => {
    const md = markdownSummary(sample(), 'unikit bench --suite all');
    expect(md).toContain('| unikernel | tcg | 186 KiB | 49.0 ms | 50.0 ms | 18000 |');
    expect(md).toContain('| container-runc | native |');
    expect(md).toContain('accelerator **tcg**');
    expect(md).toContain('- native: test');
    const html = htmlReport(sample(), 'unikit bench --suite all');
    expect(html.match(/<svg class="chart"/g)?.length).toBe(4);
    expect(html).not.toContain('data-empty');
    expect(html).not.toMatch(/(src|href)="http/);
    expect(html.match(/class="mark"/g)?.length).toBeGreaterThan(10);
    expect(html).toContain('<table>');
  });
});

describe('bench: container runtimes on cgroup v1 hybrid hosts', () => {
  it('sees a hybrid cgroup2 mount, and hides it from crun in a private mount namespace', () => {
    const hybrid = '35 25 0:30 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n36 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';
    expect(hybridCgroups(hybrid)).toBe(true);
    expect(hybridCgroups('35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n')).toBe(false);
    const [cmd, args] = withCgroup2Hidden(['crun', 'run', 'x']);
    expect([cmd, ...args].join(' ')).toBe('unshare -m --propagation private sh -c umount /sys/fs/cgroup/unified && exec "$@" sh crun run x');
  });

  it("gives podman ulimits within conmon's and the host's hard limits", () => {
    expect(podmanUlimits({ nofile: 1048576, nproc: 96365 })).toEqual(['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768']);
    expect(podmanUlimits({ nofile: 4096, nproc: 1000 })).toEqual(['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=1000:1000']);
  });
});

describe('bench: a comparator that cannot run', () => {
  it('is listed under skipped with the reason, and the run goes on', async () => {
    const r = await runBench({
      suites: ['boot'], comparators: ['native'], accel: 'tcg', httpd: '/nonexistent/httpd', runs: 1, weights: [1000],
      durationS: 1, connections: 1, instances: [1], vmMemBytes: 16 << 20,
    });
    expect(r.comparators).toEqual([]);
    expect(r.skipped).toEqual([expect.stringMatching(/^native: could not be set up: .*nonexistent/)]);
  });
});

describe('bench: comparators on this host', () => {
  it('runs the boot and memory suites for the native process, and (when installed) under qemu-user and in a runc container', { timeout: 30_000 }, async () => {
    const runc = await unavailable('container-runc');
    const crun = await unavailable('container-crun');
    const podman = await unavailable('container-podman');
    const qemuUser = await unavailable('native-qemu-user');
    const r = await runBench({
      suites: ['boot', 'memory'],
      comparators: [
        ...(runc ? [] : ['container-runc' as const]), ...(crun ? [] : ['container-crun' as const]), ...(podman ? [] : ['container-podman' as const]),
        ...(qemuUser ? [] : ['native-qemu-user' as const]), 'native',
      ],
      accel: 'tcg',
      httpd: artifacts.app('httpd'),
      runs: 2,
      weights: [1000],
      durationS: 1,
      connections: 1,
      instances: [2],
      vmMemBytes: 16 << 20,
    });
    expect(r.skipped).toEqual([]);
    expect(r.boot.native?.samplesMs).toHaveLength(2);
    expect(r.memory.native?.[0]?.pssPerInstanceBytes).toBeGreaterThan(0);
    if (!qemuUser) {
      expect(r.boot['native-qemu-user']?.p50Ms).toBeGreaterThan(0);
      expect(r.comparators.find((c) => c.name === 'native-qemu-user')?.accel).toBe('tcg-user');
    }
    if (!runc) {
      expect(r.boot['container-runc']?.p50Ms).toBeGreaterThan(0);
      expect(r.memory['container-runc']?.[0]?.cgroupPerInstanceBytes).toBeGreaterThan(0);
      expect(r.comparators.find((c) => c.name === 'container-runc')?.accel).toBe('native');
      // nothing left behind: no container, no cgroup of ours
      expect(execFileSync('sh', ['-c', `ls -d /sys/fs/cgroup/memory/unikit-bench-${process.pid}* 2>/dev/null || true`]).toString()).toBe('');
    }
    for (const [name, why] of [['container-crun', crun], ['container-podman', podman]] as const) {
      if (why) continue;
      expect(r.boot[name]?.p50Ms, name).toBeGreaterThan(0);
      expect(r.memory[name]?.[0]?.cgroupPerInstanceBytes, name).toBeGreaterThan(0);
    }
    if (!podman) expect(execFileSync('podman', ['ps', '-a', '-q', '--filter', `name=unikit-bench-${process.pid}`]).toString()).toBe('');
  });
});
