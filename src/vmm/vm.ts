/**
 * Running one VM: QEMU spawned with the guest ABI's command line, its three streams read as they
 * arrive, the kernel log interpreted, the status taken from the "@exit" line, and QEMU stopped on
 * timeout, on SIGINT/SIGTERM, or when the host process exits.
 */
import { existsSync } from 'node:fs';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type ExitReason, type NetworkPolicy, UNIKIT_ABI, describeNetworkPolicy } from '../abi/index.js';
import { type Accel, type AccelRequest, resolveAccel } from './accel.js';
import { openChannels } from './channels.js';
import { buildCmdline } from './cmdline.js';
import type { KernelFlag } from './cmdline.js';
import {
  QemuMissingError, QemuStartError, VmCrashedError, VmInterruptedError, VmTimeoutError, type VmmError,
} from './errors.js';
import { KlogReader, isKnownReason } from './klog.js';
import { type VmNetwork, NetworkUnavailableError, USER_NET, checkHostPortsFree, nicArgs, userNetworkFor } from './net.js';
import { type Machine, STREAM_FDS, qemuArgs } from './qemu-args.js';
import { DEFAULT_TAP_NETWORK, TAP_STATE_DIR, type TapLease, acquireTap } from './tap.js';
import { hostTscKhz } from './tsc.js';

const HAVE_SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));

/** Whether `binary` (a path, or a name looked up in PATH) exists: spawned through setpriv, a
 * missing QEMU would otherwise show up only as setpriv's own failure. */
function executableExists(binary: string): boolean {
  if (binary.includes('/')) return existsSync(binary);
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${binary}`));
}

/** What boots: unikit's kernel, the initrd and the program, as runVm and launchDetached both take them. */
export interface GuestSpec {
  kernel: string;
  initrd: string;
  /** The program's path inside the initrd. */
  prog: string;
  /** argv, argv[0] first. */
  argv: string[];
  env?: string[];
  cwd?: string;
  /** Guest RAM in bytes. */
  memory: number;
  machine?: Machine;
  verbose?: boolean;
  /** Kernel flags: strict, fast, aslr, wx, ro (docs/guest-abi.md). */
  flags?: readonly KernelFlag[];
  qemuBinary?: string;
}

export interface VmOptions extends GuestSpec {
  accel?: AccelRequest;
  /** Stop the VM after this long (no limit by default). */
  timeoutMs?: number;
  /** Where the program's stdout and stderr go, with backpressure: a slow reader slows the guest. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Or each chunk as it arrives (both may be given). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** "unikit: " lines of the kernel log and unikit's own notices, for the user. */
  onMessage?: (line: string) => void;
  /** Every kernel log line, markers included. */
  onKlog?: (line: string) => void;
  /** The host TSC frequency to pass; measured (and cached) when absent, not passed when null. */
  tscKhz?: number | null;
  /**
   * 'required' (the default): a VM that ends without "@exit" crashed. 'optional': for guests
   * that do not speak the log protocol (the floor); the status then comes from QEMU's exit code.
   */
  exitMarker?: 'required' | 'optional';
  /** The guest's network (default none: the guest has loopback only). */
  network?: VmNetwork;
  /**
   * Enforced by the guest kernel (docs/guest-abi.md, `netpolicy`): binds only to `listen` ports,
   * connects and sends only to `egress` targets. With user networking only forwards to `listen`
   * ports are made, and an empty `egress` (with no UDP forward) turns on QEMU's restrict=on. Callers that want
   * `-p` ports declared add them to `listen` first (withListenPorts).
   */
  networkPolicy?: NetworkPolicy;
  /**
   * Tests only: which fences enforce `networkPolicy` (both by default). `guest: false` boots
   * without the kernel's `netpolicy` flag, `host: false` leases the tap without the host's fence
   * (fence.ts), so that each can be shown to hold on its own.
   */
  networkPolicyFences?: { guest?: boolean; host?: boolean };
  /** Stops the VM when aborted (runVm then rejects with VmInterruptedError). */
  signal?: AbortSignal;
  /**
   * A guest that is not unikit's kernel (a Linux image): its whole QEMU command line but the
   * NIC, for the accelerator chosen. It must write the three streams to STREAM_FDS and the same
   * "@" markers to the kernel log; kernel, prog and the unikit command line are then unused, and
   * the NIC is virtio-net-pci.
   */
  guestArgs?: (accel: Accel) => string[];
  /**
   * A guest that reports its end in its own words instead of "@exit" (a Linux image, whose
   * program is PID 1: the kernel's panic when it exits): the status of a kernel log line, or
   * undefined; `expected` names that line in the error when the VM ends without it, and
   * `failure` picks the kernel log line that says why (a panic), quoted in that error.
   */
  guestExit?: {
    fromKlog: (line: string) => { status: number; reason: ExitReason } | undefined;
    expected: string;
    failure?: (line: string) => string | undefined;
  };
}

export interface VmTimings {
  /** performance.now() when QEMU was spawned. */
  spawnedAt: number;
  /** Spawn to "@entering-program", in ms; undefined when the marker never came. */
  bootMs?: number;
  /** Spawn to QEMU's exit, in ms. */
  totalMs: number;
}

export interface VmResult {
  /** What `unikit run` exits with: the program's status, 126, 128+N or 125. */
  status: number;
  reason: ExitReason | 'qemu-exit';
  accel: Accel;
  machine: Machine;
  timings: VmTimings;
  klogTail: string[];
  qemuArgs: string[];
  /** The guest's network: its mode, and with a tap the guest's address and the tap. */
  network: { mode: VmNetwork['mode']; ip?: string; tap?: string };
}

export const DEFAULT_QEMU = 'qemu-system-x86_64';

let fenceMissingSaid = false;

/** Once per process: a tap policy that only the guest kernel enforces (no nftables here). */
function sayFenceMissingOnce(say: (line: string) => void, why: string): void {
  if (fenceMissingSaid) return;
  fenceMissingSaid = true;
  say(`unikit: network policy: no host fence on the tap (${why}); the guest kernel alone enforces it`);
}

/** Runs the VM to its end. Rejects with a VmmError (status 125, or 128+N when interrupted). */
export async function runVm(o: VmOptions): Promise<VmResult> {
  const say = o.onMessage ?? ((): void => undefined);
  const machine = o.machine ?? 'microvm';
  const network = o.network ?? { mode: 'none' };
  if (network.mode !== 'none' && machine !== 'microvm' && !o.guestArgs) {
    throw new NetworkUnavailableError(`--net ${network.mode} needs --machine microvm (the kernel's NIC driver is virtio-mmio); use --net none with q35`);
  }
  if (network.mode === 'user') await checkHostPortsFree(network.ports);
  const qemu = o.qemuBinary ?? DEFAULT_QEMU;
  if (!executableExists(qemu)) throw new QemuMissingError(qemu);
  const accel = resolveAccel(o.accel ?? 'auto', say);
  const tap = network.mode === 'tap'
    ? await acquireTap(TAP_STATE_DIR, DEFAULT_TAP_NETWORK, { policy: o.networkPolicy, hostFence: o.networkPolicyFences?.host })
    : undefined;
  try {
    if (tap) say(`unikit: network: guest ${tap.ip}/${tap.prefix} on ${tap.tap} (bridge unikit0, host ${tap.gateway})`);
    if (tap && !tap.fence.on && tap.fence.why) sayFenceMissingOnce(say, tap.fence.why);
    else if (tap?.fence.on && o.verbose) say(`unikit: network policy: the host enforces it too, on ${tap.tap} (nftables)`);
    else if (o.verbose) say(`unikit: network: ${describeNetwork(network)}`);
    if (o.networkPolicy && o.verbose) say(`unikit: network policy: ${describeNetworkPolicy(o.networkPolicy)}`);
    const bus = o.guestArgs ? 'pci' : 'mmio';
    let netArgs: string[] = [];
    if (network.mode === 'user') {
      const user = userNetworkFor(network.ports, o.networkPolicy);
      for (const p of user.dropped) say(`unikit: network policy: guest port ${p.guestPort} is not a declared listen port: not forwarding ${p.hostIp}:${p.hostPort}`);
      netArgs = nicArgs(user.netdev, undefined, bus);
    } else if (tap) {
      netArgs = nicArgs(tap.netdev, tap.mac, bus);
    }
    return await runQemu(o, { accel, machine, tap, netArgs, say });
  } finally {
    tap?.release();
  }
}

async function runQemu(
  o: VmOptions,
  c: { accel: Accel; machine: Machine; tap: TapLease | undefined; netArgs: string[]; say: (line: string) => void },
): Promise<VmResult> {
  const { accel, machine, tap, say } = c;
  const unikitArgs = (): string[] => {
    const tscKhz = o.tscKhz === null ? undefined : o.tscKhz ?? hostTscKhz();
    const cmdline = buildCmdline({
      prog: o.prog, argv: o.argv, env: o.env ?? [], cwd: o.cwd, verbose: o.verbose, flags: o.flags,
      tscKhz, realtimeNs: realtimeNs(), seed: randomBytes(32),
      net: tap ? { ip: `${tap.ip}/${tap.prefix}`, gw: tap.gateway } : undefined,
      networkPolicy: o.networkPolicyFences?.guest === false ? undefined : o.networkPolicy,
    });
    return qemuArgs({ machine, accel, memory: o.memory, kernel: o.kernel, initrd: o.initrd, cmdline });
  };
  const args = [...(o.guestArgs ? o.guestArgs(accel) : unikitArgs()), ...c.netArgs];
  const binary = o.qemuBinary ?? DEFAULT_QEMU;
  const networkInfo: VmResult['network'] = { mode: o.network?.mode ?? 'none', ...(tap ? { ip: tap.ip, tap: tap.tap } : {}) };

  const channels = await openChannels();
  const spawnedAt = performance.now();
  let child: ChildProcess;
  try {
    // QEMU must not outlive unikit (a SIGKILLed unikit cannot clean up): setpriv makes the
    // kernel kill it when its parent dies, and a tap goes with it. Where setpriv is missing the
    // VM still runs, only without that guarantee.
    const [cmd, cmdArgs] = HAVE_SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
    child = spawn(cmd, cmdArgs, {
      stdio: ['ignore', 'pipe', 'pipe', channels.writeFds[0], channels.writeFds[1], channels.writeFds[2]],
    });
  } finally {
    channels.releaseWriteEnds();
  }
  const live = track(child, tap?.release);
  if (tap && child.pid !== undefined) tap.setQemuPid(child.pid);

  let bootMs: number | undefined;
  let exit: { status: number; reason: string } | undefined;
  let failure: string | undefined;
  const klog = new KlogReader((line, ev) => {
    o.onKlog?.(line);
    if (ev.kind === 'entering') bootMs ??= performance.now() - spawnedAt;
    else if (ev.kind === 'exit') exit ??= { status: ev.status, reason: ev.reason };
    else if (ev.kind === 'user') say(ev.text);
    else if (o.guestExit) {
      exit ??= o.guestExit.fromKlog(line);
      failure ??= o.guestExit.failure?.(line);
    }
  });
  let qemuOutput = '';
  const keepQemuOutput = (b: Buffer): void => {
    if (qemuOutput.length < 65536) qemuOutput += b.toString('utf8');
  };
  child.stdout?.on('data', keepQemuOutput);
  child.stderr?.on('data', keepQemuOutput);

  const [outR, errR, klogR] = channels.readers;
  if (o.stdout) forward(outR, o.stdout);
  if (o.stderr) forward(errR, o.stderr);
  if (o.onStdout || !o.stdout) outR.on('data', (b: Buffer) => o.onStdout?.(b));
  if (o.onStderr || !o.stderr) errR.on('data', (b: Buffer) => o.onStderr?.(b));
  klogR.on('data', (b: Buffer) => klog.feed(b));
  const drained = Promise.all([outR, errR, klogR, child.stdout, child.stderr].map(ended));

  const onAbort = (): void => live.stop(new VmInterruptedError('an abort'));
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  if (o.timeoutMs !== undefined) {
    timer = setTimeout(() => live.stop(new VmTimeoutError(o.timeoutMs ?? 0, klog.tail)), o.timeoutMs);
  }

  try {
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new QemuMissingError(binary) : e));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const totalMs = performance.now() - spawnedAt;
    // The streams end when QEMU's last write end closes; don't wait forever on a stray holder.
    await Promise.race([drained, delay(2000)]);
    klog.end();
    if (live.stoppedBy) throw live.stoppedBy;

    const exitDescription = ended.signal ? `was killed by ${ended.signal}` : `exited with code ${String(ended.code)}`;
    const timings: VmTimings = { spawnedAt, bootMs, totalMs };
    const base = { accel, machine, timings, klogTail: [...klog.tail], qemuArgs: [binary, ...args], network: networkInfo };
    if (exit) {
      const reason: ExitReason | 'qemu-exit' = isKnownReason(exit.reason) ? exit.reason : UNIKIT_ABI.EXIT_REASON_PANIC;
      return { ...base, status: exit.status, reason };
    }
    if (!klog.sawAnything && ended.code === 1 && qemuOutput.trim() !== '') {
      throw new QemuStartError(qemuOutput, exitDescription);
    }
    // isa-debug-exit makes QEMU exit with (value << 1) | 1: an odd code is the guest's own exit.
    if (o.exitMarker === 'optional' && ended.code !== null && ended.code % 2 === 1) {
      return { ...base, status: ended.code >> 1, reason: 'qemu-exit' };
    }
    throw new VmCrashedError(klog.tail, exitDescription, qemuOutput, o.guestExit?.expected, failure);
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    live.dispose();
    channels.dispose();
  }
}

function describeNetwork(n: VmNetwork): string {
  if (n.mode !== 'user') return 'none (loopback only)';
  const fwd = n.ports.map((p) => `${p.hostIp}:${p.hostPort} to ${p.guestPort}/${p.proto}`).join(', ');
  return `user networking, guest ${USER_NET.guest}, host ${USER_NET.host}${fwd ? `, forwarding ${fwd}` : ''}`;
}

// ---- the registry of running VMs: what SIGINT, SIGTERM and process exit must stop ----

interface LiveVm {
  stoppedBy?: VmmError;
  stop(reason: VmmError): void;
  dispose(): void;
  /** Host resources to give back even when the process exits abruptly (a tap lease). */
  cleanup?: () => void;
}

const liveVms = new Set<LiveVm>();

function onSignal(signal: NodeJS.Signals): void {
  const signo = osConstants.signals[signal] ?? 0;
  for (const vm of liveVms) {
    const err = new VmInterruptedError(signal);
    Object.defineProperty(err, 'status', { value: UNIKIT_ABI.STATUS_SIGNAL_BASE + signo });
    vm.stop(err);
  }
}

function onProcessExit(): void {
  for (const vm of liveVms) {
    vm.stop(new VmInterruptedError('the host process exiting'));
    vm.cleanup?.();
  }
}

function track(child: ChildProcess, cleanup?: () => void): LiveVm {
  const vm: LiveVm = {
    cleanup,
    stop(reason) {
      vm.stoppedBy ??= reason;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    dispose() {
      liveVms.delete(vm);
      if (liveVms.size === 0) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('exit', onProcessExit);
      }
    },
  };
  if (liveVms.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', onProcessExit);
  }
  liveVms.add(vm);
  return vm;
}

// ---- small helpers ----

const wallAnchorNs = BigInt(Date.now()) * 1_000_000n;
const monoAnchorNs = process.hrtime.bigint();

/** CLOCK_REALTIME in ns now: Date.now()'s base advanced with the monotonic clock's precision. */
function realtimeNs(): bigint {
  return wallAnchorNs + (process.hrtime.bigint() - monoAnchorNs);
}

/** Pipes a guest stream to `dest`; if `dest` fails (a closed pipe), the rest is read and
 * dropped, so the guest is never left blocked on a full FIFO. */
function forward(src: NodeJS.ReadableStream, dest: NodeJS.WritableStream): void {
  src.pipe(dest, { end: false });
  dest.once('error', () => {
    src.unpipe(dest);
    src.resume();
  });
}

function ended(stream: NodeJS.ReadableStream | null | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!stream) return resolve();
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
