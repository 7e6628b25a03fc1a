/** `unikit run --net user|tap|none -p HOST:GUEST[/udp]...`: the guest's network, checked before the VM starts. */
import {
  type Machine, type NetMode, type VmNetwork, NET_MODES, NetworkUnavailableError, VmmError, checkForwardsDistinct,
  parsePortForward, tapUnavailable,
} from '../vmm/index.js';
import { UsageError } from './usage.js';

export const NETWORK_OPTIONS = [
  { name: 'net', kind: 'value' },
  { name: 'publish', short: 'p', kind: 'list' },
] as const;

/**
 * --net and -p: user networking unless --net says otherwise (none on q35, whose buses the
 * kernel's virtio-mmio NIC driver does not see). Every problem is found before the VM starts.
 */
export function chooseNetwork(modeText: string | undefined, publish: readonly string[], machine: Machine): VmNetwork {
  const mode: NetMode = modeText === undefined ? (machine === 'microvm' ? 'user' : 'none') : oneOf<NetMode>('--net', modeText, NET_MODES);
  const ports = publish.map((spec) => {
    try {
      return parsePortForward(spec);
    } catch (e: unknown) {
      throw e instanceof VmmError ? new UsageError(e.message) : e;
    }
  });
  try {
    checkForwardsDistinct(ports);
  } catch (e: unknown) {
    throw e instanceof VmmError ? new UsageError(e.message) : e;
  }
  if (ports.length && mode !== 'user') {
    throw new UsageError(mode === 'tap'
      ? '-p forwards host ports with --net user; with --net tap the guest has an address of its own (printed at start): connect to it directly'
      : `-p needs a network: use --net user${machine === 'q35' ? ' with --machine microvm' : ''}`);
  }
  if (mode !== 'none' && machine !== 'microvm') throw new UsageError(`--net ${mode} needs --machine microvm (the kernel's NIC is virtio-mmio); use --net none with q35`);
  if (mode === 'tap') {
    const why = tapUnavailable();
    if (why) throw new NetworkUnavailableError(why);
    return { mode };
  }
  return mode === 'user' ? { mode, ports } : { mode: 'none' };
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`bad ${option} ${JSON.stringify(value)}: use one of ${allowed.join(', ')}`);
  return value as T;
}
