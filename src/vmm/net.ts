/**
 * The guest's network on the host side: `--net user` (QEMU user networking, `-p HOST:GUEST` as
 * hostfwd on 127.0.0.1, no privileges), `--net tap` (root: a tap per instance on the unikit
 * bridge, tap.ts) and `--net none`. The kernel's virtio-net driver needs the modern virtio-mmio
 * transport, which QEMU gives only with `-global virtio-mmio.force-legacy=false`.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { NetworkPolicy } from '../abi/index.js';
import type { PortForward } from './detached.js';
import { VmmError } from './errors.js';

export type NetMode = 'none' | 'user' | 'tap';

/** What a VM's network is: none (loopback only in the guest), user networking, or a tap. */
export type VmNetwork = { mode: 'none' } | { mode: 'user'; ports: PortForward[] } | { mode: 'tap' };

/** The address QEMU user networking gives the guest, and the host as the guest sees it. */
export const USER_NET = { guest: '10.0.2.15', host: '10.0.2.2' } as const;

export const NET_MODES: readonly NetMode[] = ['user', 'tap', 'none'];

/** An invalid -p value. */
export class BadPortForwardError extends VmmError {
  constructor(readonly spec: string, why: string) {
    super('VMM_BAD_OPTION', `bad -p ${JSON.stringify(spec)}: ${why}; write HOST:GUEST or HOST:GUEST/udp, e.g. -p 8080:80`);
  }
}

/** A host port that something else already holds. */
export class PortInUseError extends VmmError {
  constructor(readonly port: PortForward) {
    super('VMM_PORT_IN_USE', `host port ${port.hostPort} (${port.proto} on ${port.hostIp}) is already in use: choose another with -p HOST:${port.guestPort}`);
  }
}

/** A network mode this run cannot have (tap without root, any network on q35). */
export class NetworkUnavailableError extends VmmError {
  constructor(message: string) {
    super('VMM_NETWORK', message);
  }
}

/** `HOST:GUEST` or `HOST:GUEST/tcp|udp`; the host side listens on 127.0.0.1. */
export function parsePortForward(spec: string): PortForward {
  const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw new BadPortForwardError(spec, 'not HOST:GUEST');
  const hostPort = Number(m[1]);
  const guestPort = Number(m[2]);
  for (const [what, p] of [['host', hostPort], ['guest', guestPort]] as const) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new BadPortForwardError(spec, `the ${what} port must be 1 to 65535`);
  }
  return { proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', hostIp: '127.0.0.1', hostPort, guestPort };
}

/** Refuses two forwards of one host port and protocol. */
export function checkForwardsDistinct(ports: readonly PortForward[]): void {
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.proto}:${p.hostIp}:${p.hostPort}`;
    if (seen.has(key)) throw new BadPortForwardError(`${p.hostPort}:${p.guestPort}/${p.proto}`, `host port ${p.hostPort}/${p.proto} is forwarded twice`);
    seen.add(key);
  }
}

/** Binds each host port for a moment: a port in use is a one-line error before QEMU starts
 * (QEMU's own message for it is vague). */
export async function checkHostPortsFree(ports: readonly PortForward[]): Promise<void> {
  for (const p of ports) {
    const free = await (p.proto === 'tcp' ? tcpPortFree(p) : udpPortFree(p));
    if (!free) throw new PortInUseError(p);
  }
}

function tcpPortFree(p: PortForward): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: p.hostIp, port: p.hostPort, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function udpPortFree(p: PortForward): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: p.hostIp, port: p.hostPort, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** A TCP port nobody listens on right now on `host` (the kernel picks it), for a forward or a front. */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** QEMU arguments for the guest's NIC on an already-described backend (`-netdev` value). */
export function nicArgs(netdev: string, mac?: string, bus: 'mmio' | 'pci' = 'mmio'): string[] {
  if (bus === 'pci') return ['-netdev', netdev, '-device', `virtio-net-pci,netdev=n0,romfile=${mac ? `,mac=${mac}` : ''}`];
  return [
    '-global', 'virtio-mmio.force-legacy=false',
    '-netdev', netdev,
    '-device', `virtio-net-device,netdev=n0${mac ? `,mac=${mac}` : ''}`,
  ];
}

/**
 * The -netdev value of user networking with these forwards. `restrict`: QEMU routes nothing the
 * guest sends to the host or beyond (forwards still work): a second fence, outside the guest,
 * for a network policy that allows no egress.
 */
export function userNetdev(ports: readonly PortForward[], restrict = false): string {
  return `user,id=n0${restrict ? ',restrict=on' : ''}${ports.map((p) => `,hostfwd=${p.proto}:${p.hostIp}:${p.hostPort}-:${p.guestPort}`).join('')}`;
}

/**
 * User networking under a network policy: forwards only to the policy's listen ports (a forward
 * to any other port is dropped, and returned so the caller can say so), and `restrict=on` when
 * the policy allows no egress at all and no UDP port is forwarded: restrict=on drops the guest's
 * UDP answers to forwarded clients too (measured with QEMU 7.2; TCP forwards keep working).
 * Without a policy, every forward and no restriction.
 */
export function userNetworkFor(ports: readonly PortForward[], policy: NetworkPolicy | undefined): { netdev: string; dropped: PortForward[] } {
  if (!policy) return { netdev: userNetdev(ports), dropped: [] };
  const kept = ports.filter((p) => policy.listen.includes(p.guestPort));
  const dropped = ports.filter((p) => !policy.listen.includes(p.guestPort));
  const restrict = policy.egress.length === 0 && !kept.some((p) => p.proto === 'udp');
  return { netdev: userNetdev(kept, restrict), dropped };
}
