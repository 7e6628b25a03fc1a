/**
 * `--net tap` (root): every instance gets a tap on the bridge unikit0 (10.77.0.1/16 on the host,
 * made when missing) and an address of its own, 10.77.x.y, leased without collisions among
 * concurrent instances.
 *
 * - Leases are files under /run/unikit/net/leases (machine-wide, like the bridge and the tap
 *   names, whatever $UNIKIT_HOME each instance uses; gone at reboot with the taps), one per
 *   address, written while holding a lock directory (mkdir is atomic); a lease names the unikit
 *   process and, once spawned, QEMU.
 * - QEMU creates the tap itself (non-persistent) and runs net/ifup.sh to put it on the bridge,
 *   so the tap disappears with QEMU however QEMU ends, even by SIGKILL.
 * - The lease goes when the VM ends (runVm's exit path and the host process's exit handler);
 *   a lease whose unikit and QEMU are both gone, and any unikit-* link without a live lease, is
 *   reaped by the next allocation.
 * - Other networks (TapNetwork: unikitd's bridge per tenant, a /24 each) work the same way with
 *   their own bridge, leases (leases-BRIDGE), ifup script and tap names.
 * - Where nftables can be used (root, nft installed), the host fences (fence.ts): a tap leased
 *   with a network policy gets its rules before QEMU starts, removed with the lease (or reaped
 *   with a dead lease), and every bridge is kept from routing to the other unikit bridges.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkPolicy } from '../abi/index.js';
import { fenceUnavailable, installTapFence, isolateBridge, reapTapFences, removeTapFences, unisolateBridge } from './fence.js';
import { NetworkUnavailableError } from './net.js';

export const TAP_NET = { bridge: 'unikit0', host: '10.77.0.1', prefix: 16, base: [10, 77] } as const;
/** Where leases, the lock and QEMU's ifup script live. */
export const TAP_STATE_DIR = '/run/unikit/net';
const TAP_PREFIX = 'unikit-';
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 15_000;

/**
 * A bridge and its subnet: `unikit run`'s unikit0 (10.77.0.0/16), or another (unikitd gives each
 * tenant its own /24). Each network has its own leases and tap names; the lock is shared.
 */
export interface TapNetwork {
  bridge: string;
  /** The host's address on the bridge: the guests' gateway. */
  host: string;
  prefix: 16 | 24;
  /** The subnet's leading octets: two for a /16, three for a /24. */
  base: readonly number[];
  /** How its taps' names start (short: a name has at most 15 characters; unique per network). */
  tapPrefix: string;
}

export const DEFAULT_TAP_NETWORK: TapNetwork = { bridge: TAP_NET.bridge, host: TAP_NET.host, prefix: TAP_NET.prefix, base: TAP_NET.base, tapPrefix: TAP_PREFIX };

export interface TapLease {
  /** The tap's name (unikit-X-Y for 10.77.X.Y). */
  tap: string;
  /** The guest's address, its prefix length, and the host's address on the bridge. */
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  /** The -netdev value. */
  netdev: string;
  /**
   * Whether the host fences the tap by the network policy it was leased with (fence.ts); when a
   * policy was given but the fence cannot be made, why (the guest kernel is then the only fence).
   */
  fence: { on: true } | { on: false; why?: string };
  /** Records QEMU's pid in the lease (a lease lives while either process does). */
  setQemuPid(pid: number): void;
  /** Gives the address back; idempotent, synchronous (safe in an exit handler). */
  release(): void;
}

interface LeaseFile {
  ownerPid: number;
  qemuPid?: number;
  tap: string;
  createdAt: string;
}

/** Why tap networking cannot work here, or undefined when it can. */
export function tapUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return '--net tap needs root (it makes a bridge and a tap per instance): run as root, or use --net user';
  if (!existsSync('/dev/net/tun')) return '--net tap needs /dev/net/tun (modprobe tun), or use --net user';
  return undefined;
}

export interface TapFenceRequest {
  /** The guest's network policy, enforced on the tap by the host too (when nftables can be used). */
  policy?: NetworkPolicy;
  /** false: no host fence even with a policy (tests that show the kernel's fence alone). */
  hostFence?: boolean;
}

/** Leases an address and prepares the bridge (and the tap's host fence, for a policy); the
 * caller must release() the lease. */
export async function acquireTap(dir: string = TAP_STATE_DIR, net: TapNetwork = DEFAULT_TAP_NETWORK, fenceFor: TapFenceRequest = {}): Promise<TapLease> {
  const why = tapUnavailable();
  if (why) throw new NetworkUnavailableError(why);
  const isDefault = net.bridge === DEFAULT_TAP_NETWORK.bridge;
  const leases = join(dir, isDefault ? 'leases' : `leases-${net.bridge}`);
  mkdirSync(leases, { recursive: true });
  const script = join(dir, isDefault ? 'ifup.sh' : `ifup-${net.bridge}.sh`);
  if (script.includes(',')) throw new NetworkUnavailableError(`--net tap: the state directory must not contain a comma (QEMU option values): ${dir}`);

  const unlock = await lock(join(dir, 'lock'));
  let index: number;
  try {
    const live = reapStale(leases, net);
    ensureBridge(net);
    writeIfChanged(script, ifupScript(net.bridge), 0o755);
    index = 2;
    while (live.has(index) || index % 256 === 0 || index % 256 === 255) index++;
    if (index >= (net.prefix === 16 ? 65535 : 255)) throw new NetworkUnavailableError(`--net tap: all addresses of ${net.base.join('.')}.0${net.prefix === 16 ? '.0' : ''}/${net.prefix} are leased`);
    const lease: LeaseFile = { ownerPid: process.pid, tap: tapNameIn(net, index), createdAt: new Date().toISOString() };
    writeFileSync(join(leases, String(index)), JSON.stringify(lease) + '\n', { flag: 'wx' });
  } finally {
    unlock();
  }

  const file = join(leases, String(index));
  const tap = tapNameIn(net, index);
  const octets = net.prefix === 16 ? [...net.base, index >> 8, index & 255] : [...net.base, index];
  const mac = `52:54:${octets.map(hex).join(':')}`;
  let fence: TapLease['fence'] = { on: false };
  if (fenceFor.policy && fenceFor.hostFence !== false) {
    const why = fenceUnavailable();
    if (why) fence = { on: false, why };
    else {
      try {
        installTapFence({ tap, ip: octets.join('.'), mac }, fenceFor.policy);
        fence = { on: true };
      } catch (e) {
        rmSync(file, { force: true });
        throw e;
      }
    }
  }
  let released = false;
  return {
    tap,
    ip: octets.join('.'),
    prefix: net.prefix,
    gateway: net.host,
    mac,
    fence,
    netdev: `tap,id=n0,ifname=${tap},script=${script},downscript=no`,
    setQemuPid(pid) {
      const lease = readLease(file);
      if (lease && lease.ownerPid === process.pid) writeFileSync(file, JSON.stringify({ ...lease, qemuPid: pid }) + '\n');
    },
    release() {
      if (released) return;
      released = true;
      const lease = readLease(file);
      if (lease && lease.ownerPid === process.pid) rmSync(file, { force: true });
      if (fence.on) removeTapFences([tap]);
      // QEMU's tap goes with QEMU; one left behind (QEMU still closing, a persistent tap) goes now.
      if (existsSync(`/sys/class/net/${tap}`)) ip(['link', 'del', tap], true);
    },
  };
}

/**
 * Removes a network other than unikit0 that no tap is on any more: its bridge, its (empty) leases
 * directory and its ifup script. False when a tap is still on the bridge (nothing is removed).
 */
export function removeTapNetwork(net: TapNetwork, dir: string = TAP_STATE_DIR): boolean {
  if (net.bridge === DEFAULT_TAP_NETWORK.bridge) return false;
  const sys = `/sys/class/net/${net.bridge}`;
  if (existsSync(sys)) {
    if (readdirSync(`${sys}/brif`).length > 0) return false;
    ip(['link', 'del', net.bridge], true);
  }
  unisolateBridge(net.bridge);
  const leases = join(dir, `leases-${net.bridge}`);
  if (existsSync(leases) && readdirSync(leases).length === 0) rmSync(leases, { recursive: true, force: true });
  rmSync(join(dir, `ifup-${net.bridge}.sh`), { force: true });
  return true;
}

export function tapName(index: number): string {
  return tapNameIn(DEFAULT_TAP_NETWORK, index);
}

function tapNameIn(net: TapNetwork, index: number): string {
  return net.prefix === 16 ? `${net.tapPrefix}${index >> 8}-${index & 255}` : `${net.tapPrefix}${index}`;
}

/** Removes leases whose processes are gone and unikit taps without a live lease; returns the
 * live leases' indices. Called with the lock held. */
function reapStale(leases: string, net: TapNetwork): Set<number> {
  const live = new Set<number>();
  const liveTaps = new Set<string>();
  for (const name of readdirSync(leases)) {
    const index = Number(name);
    const file = join(leases, name);
    const lease = readLease(file);
    const alive = lease !== undefined && (pidAlive(lease.ownerPid) || (lease.qemuPid !== undefined && pidAlive(lease.qemuPid)));
    if (alive && Number.isInteger(index)) {
      live.add(index);
      liveTaps.add(lease.tap);
    } else {
      rmSync(file, { force: true });
    }
  }
  for (const link of listLinks()) {
    if (link.startsWith(net.tapPrefix) && !liveTaps.has(link)) ip(['link', 'del', link], true);
  }
  reapTapFences(net.tapPrefix, liveTaps);
  return live;
}

/**
 * Removes the host fences of taps that no live lease holds, on every network (unikitd calls it at
 * start, after reconciliation: a fence outlives a crashed unikit until then or the next lease).
 */
export async function reapStaleFences(dir: string = TAP_STATE_DIR): Promise<void> {
  if (fenceUnavailable() || !existsSync(dir)) return;
  const unlock = await lock(join(dir, 'lock'));
  try {
    const live = new Set<string>();
    for (const name of readdirSync(dir)) {
      if (name !== 'leases' && !name.startsWith('leases-')) continue;
      for (const entry of readdirSync(join(dir, name))) {
        const lease = readLease(join(dir, name, entry));
        if (lease && (pidAlive(lease.ownerPid) || (lease.qemuPid !== undefined && pidAlive(lease.qemuPid)))) live.add(lease.tap);
      }
    }
    reapTapFences('', live);
  } finally {
    unlock();
  }
}

function ensureBridge(net: TapNetwork): void {
  const { bridge, host, prefix } = net;
  if (!existsSync(`/sys/class/net/${bridge}`)) {
    ip(['link', 'add', bridge, 'type', 'bridge']);
  }
  const addrs = ip(['-o', '-4', 'addr', 'show', 'dev', bridge]);
  if (!addrs.includes(` ${host}/${prefix} `)) ip(['addr', 'add', `${host}/${prefix}`, 'dev', bridge]);
  ip(['link', 'set', bridge, 'up']);
  if (!fenceUnavailable()) isolateBridge(bridge);
}

function ifupScript(bridge: string): string {
  return [
    '#!/bin/sh',
    '# unikit --net tap: QEMU runs this with the tap it made; put it on the bridge, bring it up.',
    `ip link set "$1" master ${bridge} && ip link set "$1" up`,
    '',
  ].join('\n');
}

function listLinks(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    return [];
  }
}

function ip(args: string[], tolerant = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (tolerant) return '';
    const err = e as { stderr?: string; message: string };
    throw new NetworkUnavailableError(`--net tap: ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim().split('\n')[0] ?? ''}`);
  }
}

function readLease(file: string): LeaseFile | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as LeaseFile;
    return typeof v.ownerPid === 'number' && typeof v.tap === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A process that exists and has not ended (a zombie waiting for its parent has ended). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function writeIfChanged(path: string, text: string, mode: number): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    // missing: write it
  }
  writeFileSync(path, text, { mode });
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** A lock directory: mkdir succeeds for one holder at a time. A lock older than
 * LOCK_STALE_MS (a holder that died inside the few milliseconds it holds it) is broken. */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {
      // gone meanwhile: retry
    }
    if (Date.now() > deadline) throw new NetworkUnavailableError(`--net tap: the lease lock ${path} stayed taken for ${LOCK_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
  }
}
