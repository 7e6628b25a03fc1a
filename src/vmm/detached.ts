/**
 * Launching a VM that outlives its launcher (for unikitd): QEMU in its own session, its console
 * and kernel log appended to files rather than pipes, a QMP socket to control it, and nothing
 * tying it to the host process. The guest ABI's command line is the same as runVm's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Accel } from './accel.js';
import { type NetworkPolicy, UNIKIT_ABI } from '../abi/index.js';
import { buildCmdline } from './cmdline.js';
import { nicArgs, userNetworkFor } from './net.js';
import { STREAM_FDS, qemuArgs } from './qemu-args.js';
import { DEFAULT_QEMU, type GuestSpec } from './vm.js';

export interface PortForward {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  guestPort: number;
}

export interface DetachedVmOptions extends GuestSpec {
  accel: Accel;
  tscKhz?: number;
  /** Where the program's stdout and stderr go (appended, one file, like a console). */
  consoleFile: string;
  /** Where the kernel log goes (appended). */
  klogFile: string;
  /** QEMU's own stdout and stderr (appended). */
  qemuLogFile: string;
  /** The QMP server socket QEMU creates. */
  qmpSocket: string;
  /** The control UART's socket QEMU creates (docs/guest-abi.md): write 'T' to stop the program. */
  controlSocket?: string;
  /** The guest's name (QEMU -name). */
  name: string;
  /** TCG translation cache in MiB: small keeps an idle VM small (default 4). */
  tbSizeMiB?: number;
  /** 'none' (default), QEMU user networking with these forwards, or a leased tap (acquireTap). */
  network?: { mode: 'none' } | { mode: 'user'; ports: PortForward[] } | { mode: 'tap'; netdev: string; mac: string; ip: string; prefix: number; gateway: string };
  /**
   * Enforced by the guest kernel, as runVm's option: binds only to `listen` ports, egress only to
   * `egress` targets; forwards to other guest ports are not made (see userNetworkFor), and an
   * empty `egress` (with no UDP forward) adds QEMU's restrict=on; on a tap, the lease carries the
   * host's fence (acquireTap with the policy). Known at deploy time, so not part of the image.
   */
  networkPolicy?: NetworkPolicy;
}

export interface DetachedVm {
  child: ChildProcess;
  /** undefined when the spawn failed (the child's 'error' event says why). */
  pid: number | undefined;
  /** Epoch milliseconds (sub-millisecond precision) just before the spawn. */
  spawnedAtMs: number;
  args: string[];
}

/** Spawns QEMU detached; the caller may unref() the child to let the host exit before it. */
export function launchDetached(o: DetachedVmOptions): DetachedVm {
  const cmdline = buildCmdline({
    prog: o.prog, argv: o.argv, env: o.env ?? [], cwd: o.cwd, verbose: o.verbose,
    tscKhz: o.tscKhz, realtimeNs: BigInt(Date.now()) * 1_000_000n, seed: randomBytes(32),
    flags: [...(o.flags ?? []), ...(o.controlSocket ? (['control'] as const) : [])],
    networkPolicy: o.networkPolicy,
    net: o.network?.mode === 'tap' ? { ip: `${o.network.ip}/${o.network.prefix}`, gw: o.network.gateway } : undefined,
  });
  const args = detachedArgs(qemuArgs({
    machine: o.machine ?? 'microvm', accel: o.accel, memory: o.memory, kernel: o.kernel, initrd: o.initrd, cmdline,
  }), o);
  const logFd = openSync(o.qemuLogFile, 'a');
  try {
    const spawnedAtMs = performance.timeOrigin + performance.now();
    const child = spawn(o.qemuBinary ?? DEFAULT_QEMU, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    return { child, pid: child.pid, spawnedAtMs, args };
  } finally {
    closeSync(logFd);
  }
}

/** qemuArgs' command line with the fd streams turned into appended files, plus QMP, name, network. */
export function detachedArgs(base: readonly string[], o: DetachedVmOptions): string[] {
  const files: Record<string, string> = {
    [`/dev/fd/${STREAM_FDS.stdout}`]: o.consoleFile,
    [`/dev/fd/${STREAM_FDS.stderr}`]: o.consoleFile,
    [`/dev/fd/${STREAM_FDS.klog}`]: o.klogFile,
  };
  const out: string[] = [];
  for (let i = 0; i < base.length; i++) {
    const a = base[i] as string;
    const prev = base[i - 1];
    if (prev === '-chardev') {
      const m = /^(file,id=[^,]+,path=)(\/dev\/fd\/\d+)$/.exec(a);
      const file = m ? files[m[2] as string] : undefined;
      if (!m || file === undefined) throw new Error(`detachedArgs: unexpected chardev ${a}`);
      out.push(`${m[1] as string}${chardevPath(file)},append=on`);
    } else if (prev === '-accel' && a === 'tcg') {
      out.push(`tcg,tb-size=${o.tbSizeMiB ?? 4}`);
    } else {
      out.push(a);
    }
  }
  out.push('-qmp', `unix:${chardevPath(o.qmpSocket)},server=on,wait=off`, '-name', chardevPath(o.name));
  if (o.controlSocket) {
    out.push('-chardev', `socket,id=ctl,path=${chardevPath(o.controlSocket)},server=on,wait=off`,
      '-device', `isa-serial,chardev=ctl,iobase=0x${UNIKIT_ABI.PORT_CONTROL.toString(16)},irq=${UNIKIT_ABI.CONTROL_IRQ}`);
  }
  const net = o.network ?? { mode: 'none' };
  if (net.mode === 'user') out.push(...nicArgs(userNetworkFor(net.ports, o.networkPolicy).netdev));
  else if (net.mode === 'tap') out.push(...nicArgs(net.netdev, net.mac));
  return out;
}

/** QEMU option values split at commas; a path with one would need doubling, so refuse it. */
function chardevPath(p: string): string {
  if (p.includes(',')) throw new Error(`QEMU option values cannot contain a comma: ${p}`);
  return p;
}
