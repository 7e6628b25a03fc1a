/**
 * `--net user|tap|none` and `-p HOST:GUEST[/udp]` for `unikit run` and `unikit build`: the
 * guest's network, checked before any VM starts. Without either, `unikit run` uses what the
 * image records (build --net, -p), else user networking when the program may use sockets.
 */
import type { ManifestNetwork } from '../image/index.js';
import {
  type Machine, type NetMode, type VmNetwork, NET_MODES, NetworkUnavailableError, VmmError, checkForwardsDistinct,
  parsePortForward, tapUnavailable,
} from '../vmm/index.js';
import { UsageError } from './usage.js';

export const NETWORK_OPTIONS = [
  { name: 'net', kind: 'value' },
  { name: 'publish', short: 'p', kind: 'list' },
] as const;

/** The network the command line asks for, or undefined when it names none. */
export function networkFromOptions(modeText: string | undefined, publish: readonly string[], machine: Machine): VmNetwork | undefined {
  if (modeText === undefined && publish.length === 0) return undefined;
  const mode: NetMode = modeText === undefined ? 'user' : oneOf<NetMode>('--net', modeText, NET_MODES);
  const ports = publish.map((spec) => usage(() => parsePortForward(spec)));
  usage(() => checkForwardsDistinct(ports));
  if (ports.length && mode !== 'user') {
    throw new UsageError(mode === 'tap'
      ? '-p forwards host ports with --net user; with --net tap the guest has an address of its own (printed at start): connect to it directly'
      : '-p needs a network: use --net user');
  }
  if (mode !== 'none' && machine !== 'microvm') throw new UsageError(`--net ${mode} needs --machine microvm (the kernel's NIC is virtio-mmio); use --net none with q35`);
  return mode === 'user' ? { mode, ports } : { mode };
}

/**
 * Without --net or -p: the image's recorded network; none for a program whose per-program
 * kernel serves no socket call (it cannot use a NIC, and a NIC costs boot time); else user
 * networking on microvm (none on q35).
 */
export function defaultNetwork(m: { network?: ManifestNetwork; syscalls?: { set: string[] } }, machine: Machine): VmNetwork {
  if (m.network) {
    const n = m.network;
    if (n.mode !== 'none' && machine !== 'microvm') throw new UsageError(`the image asks for --net ${n.mode}, which needs --machine microvm; give --net none to run it on q35`);
    if (n.mode === 'user') return { mode: 'user', ports: n.ports.map((p) => ({ proto: p.proto, hostIp: '127.0.0.1', hostPort: p.host, guestPort: p.guest })) };
    return { mode: n.mode };
  }
  if (m.syscalls && !m.syscalls.set.includes('socket')) return { mode: 'none' };
  return machine === 'microvm' ? { mode: 'user', ports: [] } : { mode: 'none' };
}

/** A tap needs root and /dev/net/tun: refused with one line before anything else happens. */
export function checkNetworkAvailable(n: VmNetwork): void {
  const why = n.mode === 'tap' ? tapUnavailable() : undefined;
  if (why) throw new NetworkUnavailableError(why);
}

/** The manifest's record of a network. */
export function manifestNetwork(n: VmNetwork): ManifestNetwork {
  return { mode: n.mode, ports: n.mode === 'user' ? n.ports.map((p) => ({ proto: p.proto, host: p.hostPort, guest: p.guestPort })) : [] };
}

function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (e: unknown) {
    throw e instanceof VmmError ? new UsageError(e.message) : e;
  }
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`bad ${option} ${JSON.stringify(value)}: use one of ${allowed.join(', ')}`);
  return value as T;
}
