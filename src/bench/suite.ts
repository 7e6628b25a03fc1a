/**
 * The comparison suites, run in one process on one machine so that the figures are comparable:
 *   boot:    start-to-ready (spawn to the first HTTP answer), `runs` times per comparator;
 *   latency: wrk against /compute?n=N for each request weight N (light to heavy);
 *   memory:  N simultaneous instances per comparator, memory per instance.
 * Results are plain data (BenchResults): the report module turns them into Markdown and HTML.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { type Accel } from '../vmm/index.js';
import { type Comparator, type ComparatorName, type Instance, benchWorkDir, makeComparator, unavailable } from './comparators.js';
import { type WrkResult, wrk, wrkUnavailable } from './http.js';
import { mean, median, percentile } from './stats.js';

/**
 * wrk's threads (two connections each) start this far apart, before any request (http.ts):
 * QEMU's user-networking forwarder accepts from a listen backlog of 1.
 */
export const WRK_STAGGER_MS = 50;

/** Linux microVMs started at once by the memory suite, at most. */
export const LINUX_MAX_INSTANCES = 10;

export type SuiteName = 'boot' | 'latency' | 'memory';
export const SUITES: readonly SuiteName[] = ['boot', 'latency', 'memory'];

export interface BenchOptions {
  suites: SuiteName[];
  comparators: ComparatorName[];
  accel: Accel;
  httpd: string;
  /** Start-to-ready samples per comparator. */
  runs: number;
  /** /compute?n= weights for the latency suite, light first. */
  weights: number[];
  durationS: number;
  connections: number;
  /** Simultaneous instances for the memory suite. */
  instances: number[];
  vmMemBytes: number;
  progress?: (line: string) => void;
}

export interface ComparatorInfo {
  name: ComparatorName;
  label: string;
  accel: string;
  imageBytes: number;
}

export interface BootResult {
  samplesMs: number[];
  p50Ms: number;
  p90Ms: number;
  minMs: number;
}

export interface LatencyPoint extends WrkResult {
  n: number;
}

export interface MemoryPoint {
  instances: number;
  /** Mean PSS per instance (QEMU, container process or native process). */
  pssPerInstanceBytes?: number;
  /** Mean cgroup v1 memory.usage_in_bytes per container. */
  cgroupPerInstanceBytes?: number;
  /** Start-to-ready of the last instance started, with the others running. */
  lastReadyMs?: number;
}

export interface BenchResults {
  format: 'unikit-bench/1';
  date: string;
  host: { cpus: number; cpuModel: string; kernel: string };
  accel: Accel;
  vmMemBytes: number;
  settings: { runs: number; weights: number[]; durationS: number; connections: number; instances: number[] };
  comparators: ComparatorInfo[];
  boot: Partial<Record<ComparatorName, BootResult>>;
  latency: Partial<Record<ComparatorName, LatencyPoint[]>>;
  memory: Partial<Record<ComparatorName, MemoryPoint[]>>;
  skipped: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function stopAll(instances: Instance[]): Promise<void> {
  await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
}

export async function runBench(o: BenchOptions): Promise<BenchResults> {
  const say = o.progress ?? ((): void => undefined);
  const workDir = benchWorkDir();
  const docroot = join(workDir, 'www');
  mkdirSync(docroot);
  writeFileSync(join(docroot, 'index.html'), '<p>unikit bench</p>\n');
  const results: BenchResults = {
    format: 'unikit-bench/1',
    date: new Date().toISOString(),
    host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', kernel: release() },
    accel: o.accel,
    vmMemBytes: o.vmMemBytes,
    settings: { runs: o.runs, weights: o.weights, durationS: o.durationS, connections: o.connections, instances: o.instances },
    comparators: [],
    boot: {},
    latency: {},
    memory: {},
    skipped: [],
  };
  const comparators: Comparator[] = [];
  try {
    for (const name of o.comparators) {
      const why = await unavailable(name);
      if (why) {
        results.skipped.push(`${name}: ${why}`);
        continue;
      }
      let c: Comparator;
      try {
        c = await makeComparator(name, { httpd: o.httpd, docroot, accel: o.accel, vmMemBytes: o.vmMemBytes, workDir });
      } catch (e) {
        results.skipped.push(`${name}: could not be set up: ${message(e)}`);
        continue;
      }
      comparators.push(c);
      results.comparators.push({ name: c.name, label: c.label, accel: c.accel, imageBytes: c.imageBytes });
    }

    if (o.suites.includes('boot')) {
      for (const c of comparators) {
        say(`boot: ${c.name}`);
        try {
          await (await c.start()).stop(); // warm-up: page cache, QEMU's libraries
          const samples: number[] = [];
          for (let i = 0; i < o.runs; i++) {
            const inst = await c.start();
            samples.push(inst.readyMs);
            await inst.stop();
          }
          results.boot[c.name] = { samplesMs: samples, p50Ms: median(samples), p90Ms: percentile(samples, 90), minMs: Math.min(...samples) };
        } catch (e) {
          results.skipped.push(`boot ${c.name}: ${message(e)}`);
        }
      }
    }

    if (o.suites.includes('latency')) {
      const why = await wrkUnavailable();
      if (why) results.skipped.push(`latency: ${why}`);
      else {
        for (const c of comparators) {
          let inst: Instance;
          try {
            inst = await c.start();
          } catch (e) {
            results.skipped.push(`latency ${c.name}: ${message(e)}`);
            continue;
          }
          try {
            const points: LatencyPoint[] = [];
            for (const n of o.weights) {
              say(`latency: ${c.name} /compute?n=${n}`);
              const r = await wrk(`http://${inst.host}:${inst.port}/compute?n=${n}`, { threads: 2, connections: o.connections, durationS: o.durationS, staggerMs: WRK_STAGGER_MS });
              points.push({ n, ...r });
            }
            results.latency[c.name] = points;
          } catch (e) {
            results.skipped.push(`latency ${c.name}: ${message(e)}`);
          } finally {
            await inst.stop();
          }
        }
      }
    }

    if (o.suites.includes('memory')) {
      for (const c of comparators) {
        const points: MemoryPoint[] = [];
        for (const n of o.instances) {
          if (c.name === 'linux-microvm' && n > LINUX_MAX_INSTANCES) {
            results.skipped.push(`memory ${c.name} x${n}: not run (idle Linux guests keep their timer ticking under TCG; at most ${LINUX_MAX_INSTANCES} on this 2-core bench)`);
            continue;
          }
          say(`memory: ${c.name} x${n}`);
          const running: Instance[] = [];
          try {
            for (let i = 0; i < n; i++) running.push(await c.start());
            await new Promise((r) => setTimeout(r, 500)); // let the last ones settle
            const mems = await Promise.all(running.map((i) => i.memory()));
            const pss = mems.map((m) => m.pssBytes).filter((x): x is number => x !== undefined);
            const cg = mems.map((m) => m.cgroupBytes).filter((x): x is number => x !== undefined);
            points.push({
              instances: n,
              pssPerInstanceBytes: pss.length ? mean(pss) : undefined,
              cgroupPerInstanceBytes: cg.length ? mean(cg) : undefined,
              lastReadyMs: running[running.length - 1]?.readyMs,
            });
          } catch (e) {
            results.skipped.push(`memory ${c.name} x${n}: ${message(e)}`);
          } finally {
            await stopAll(running);
          }
        }
        results.memory[c.name] = points;
      }
    }
  } finally {
    for (const c of comparators) await c.dispose().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
  return results;
}
