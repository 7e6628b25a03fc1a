/**
 * A real unikitd for the fleet tests: the built CLI's `daemon` command in its own temporary
 * UNIKIT_HOME, a client for its API, the CLI pointed at the same home, and clean-up that leaves
 * no QEMU process behind. Images use the real guest kernel when it is built, else stand-ins
 * (bench/guests/standin.S) that behave the same from the host's side.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../src/image/index.js';
import { FleetClient } from '../../src/fleet/index.js';
import { artifacts, projectRoot } from '../../src/project/index.js';
import { buildStandinImage } from '../../bench/guests/standin.js';
import { type Outcome, runCli } from '../support/run.js';

export interface TestDaemon {
  home: string;
  client: FleetClient;
  proc: ChildProcess;
  /** The daemon's stderr so far. */
  log(): string;
  cli(args: readonly string[], o?: { timeoutMs?: number }): Promise<Outcome>;
  /** Starts the daemon again (after kill9 or stop) in the same home. */
  restart(): Promise<void>;
  kill9(): Promise<void>;
  /** Stops the daemon, kills every QEMU of this home, removes the home. */
  dispose(): Promise<void>;
}

export async function startTestDaemon(args: readonly string[] = [], home = mkdtempSync(join(tmpdir(), 'ukf-'))): Promise<TestDaemon> {
  let proc: ChildProcess;
  let stderr = '';
  const client = new FleetClient({ home, autoStart: false });
  const launch = async (): Promise<void> => {
    proc = spawn(process.execPath, [artifacts.cli(), 'daemon', ...args], {
      env: { ...process.env, UNIKIT_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr?.on('data', (b: Buffer) => void (stderr += b.toString()));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`unikitd exited with ${proc.exitCode}: ${stderr}`);
      if (await client.ping().catch(() => false)) return;
      await sleep(50);
    }
    throw new Error(`unikitd did not answer within 20 s: ${stderr}`);
  };
  await launch();
  const d: TestDaemon = {
    home,
    client,
    get proc() {
      return proc;
    },
    log: () => stderr,
    cli: (a, o = {}) => runCli(a, { env: { UNIKIT_HOME: home }, timeoutMs: o.timeoutMs ?? 60_000 }),
    restart: launch,
    kill9: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
    dispose: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
      }
      for (const pid of qemuPids(home)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
  return d;
}

/** pids of the QEMU processes whose command line mentions `home`. */
export function qemuPids(home: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(`${home}/fleet/instances/`)) {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') out.push(Number(name));
      }
    } catch {
      // went away
    }
  }
  return out;
}

export interface TestImages {
  /** Prints "ready", then sleeps for ever. */
  idle: string;
  /** Prints "tick 1".."tick 8" 100 ms apart, exits 0. */
  ticks: string;
  /** Crashes with a page fault: status 139. */
  segv: string;
  /** Whether these use the real guest kernel. */
  real: boolean;
}

/** Image directories for the tests, built once per test file into `dir`. */
export async function testImages(dir: string): Promise<TestImages> {
  const mem = 8 << 20;
  if (existsSync(artifacts.kernel()) && existsSync(artifacts.app('segfault'))) {
    const idle = join(dir, 'idle-bin');
    execFileSync('musl-gcc', ['-static', '-O2', '-o', idle, join(projectRoot(), 'bench', 'guests', 'idle.c')]);
    return {
      idle: (await buildImage({ elf: idle, outDir: join(dir, 'idle'), mem, guestPath: '/idle' })).dir,
      ticks: (await buildImage({ elf: idle, outDir: join(dir, 'ticks'), mem, guestPath: '/ticks', args: ['8'] })).dir,
      segv: (await buildImage({ elf: artifacts.app('segfault'), outDir: join(dir, 'segv'), mem })).dir,
      real: true,
    };
  }
  const ticks = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `tick ${i}\n`).join('');
  return {
    idle: (await buildStandinImage({ out: 'ready\n' }, join(dir, 'idle'), { mem })).dir,
    ticks: (await buildStandinImage({ end: 'exit', out: ticks.slice(0, 7), late: ticks.slice(7), spin: 5e7, klog2: '@exit 0 exit\n', status: 0 }, join(dir, 'ticks'), { mem })).dir,
    segv: (await buildStandinImage({ end: 'exit', klog2: '@exit 139 signal\n', status: 139, spin: 1e6 }, join(dir, 'segv'), { mem })).dir,
    real: false,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a value that is not undefined, or throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
