/**
 * `--net user|tap|none` and `-p HOST:GUEST[/udp]` for `unikit run` and `unikit build`: the
 * guest's network, checked before any VM starts. Without either, `unikit run` uses what the
 * image records (build --net, -p), else user networking when the program may use sockets.
 * `--listen PORT` and `--egress HOST:PORT` make a network policy the guest kernel enforces.
 */
import type { ManifestNetwork } from '../image/index.js';
import {
  type NetworkPolicy, NetworkPolicyError, parseEgressTarget, parseListenPort, validateNetworkPolicy, withListenPorts,
} from '../security/index.js';
import {
  type Machine, type NetMode, type VmNetwork, NET_MODES, NetworkUnavailableError, VmmError, checkForwardsDistinct,
  parsePortForward, tapUnavailable,
} from '../vmm/index.js';
import { UsageError } from './usage.js';

export const NETWORK_OPTIONS = [
  { name: 'net', kind: 'value' },
  { name: 'publish', short: 'p', kind: 'list' },
  { name: 'listen', kind: 'list' },
  { name: 'egress', kind: 'list' },
] as const;

/**
 * The network policy `--listen PORT` and `--egress HOST:PORT` (each repeatable; `none` declares
 * nothing) ask for, or undefined when neither is given. Either one turns the policy on: what the
 * other does not name is not allowed.
 */
export function policyFromOptions(listen: readonly string[], egress: readonly string[]): NetworkPolicy | undefined {
  if (listen.length === 0 && egress.length === 0) return undefined;
  const some = (v: readonly string[]): string[] => v.filter((x) => x !== 'none');
  try {
    return validateNetworkPolicy({
      listen: some(listen).map(parseListenPort),
      egress: some(egress).map(parseEgressTarget),
    }, 'the network policy (--listen, --egress)');
  } catch (e) {
    throw e instanceof NetworkPolicyError ? new UsageError(e.message) : e;
  }
}

/** The policy a VM boots with: the command line's, else the image's; ports `-p` forwards count as declared. */
export function effectivePolicy(requested: NetworkPolicy | undefined, image: ManifestNetwork | undefined, network: VmNetwork): NetworkPolicy | undefined {
  const policy = requested ?? image?.policy;
  if (!policy) return undefined;
  return network.mode === 'user' ? withListenPorts(policy, network.ports.map((p) => p.guestPort)) : policy;
}

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

/** The manifest's record of a network, and of a policy (user networking when only a policy was given). */
export function manifestNetwork(n: VmNetwork | undefined, policy?: NetworkPolicy): ManifestNetwork {
  const net = n ?? { mode: 'user', ports: [] };
  const ports = net.mode === 'user' ? net.ports.map((p) => ({ proto: p.proto, host: p.hostPort, guest: p.guestPort })) : [];
  return { mode: net.mode, ports, ...(policy ? { policy } : {}) };
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
