/**
 * Each tenant's tap network in unikitd: a bridge of its own, `uk-<tenant>`, with its own subnet,
 * 10.78.<n>.0/24 (n, 0..255, is the tenant's network number, chosen when the tenant is made).
 * Tenants' VMs sit on different bridges, so no frame passes between them; and the host does not
 * route between the bridges: where nftables can be used, src/vmm/fence.ts drops what it would
 * forward from one unikit bridge to another (table inet unikit, made with each bridge), whatever
 * net.ipv4.ip_forward says; without nftables, only while ip_forward is 0 (unikitd warns).
 */
import { readFileSync } from 'node:fs';
import { type TapNetwork, fenceUnavailable, removeTapNetwork } from '../vmm/index.js';

export const TENANT_NET_BASE = [10, 78] as const;
/** A tenant's network number is its subnet's third octet. */
export const MAX_NET_INDEX = 255;
const IFNAMSIZ = 15;

export interface TenantNetwork {
  bridge: string;
  /** "10.78.N.0/24" */
  subnet: string;
  /** The host's address on the bridge: the guests' gateway. */
  host: string;
  prefix: number;
  /** The subnet's third octet. */
  index: number;
}

/** The bridge and subnet of a tenant. A name too long for an interface is cut and given its number
 * after "_" (which no tenant name holds, so it cannot meet another tenant's bridge). */
export function tenantNetwork(name: string, netIndex: number): TenantNetwork {
  let bridge = `uk-${name}`;
  if (bridge.length > IFNAMSIZ) {
    const suffix = `_${netIndex}`;
    bridge = `uk-${name.slice(0, IFNAMSIZ - 3 - suffix.length)}${suffix}`;
  }
  const [a, b] = TENANT_NET_BASE;
  return { bridge, subnet: `${a}.${b}.${netIndex}.0/24`, host: `${a}.${b}.${netIndex}.1`, prefix: 24, index: netIndex };
}

/** The tenant's network as src/vmm's tap leasing takes it (tap names `uk<n>t<host>`). */
export function tapNetworkOf(net: TenantNetwork): TapNetwork {
  return { bridge: net.bridge, host: net.host, prefix: 24, base: [...TENANT_NET_BASE, net.index], tapPrefix: `uk${net.index}t` };
}

/** Deletes a removed tenant's bridge (and its lease state) when no tap is left on it. */
export function removeTenantBridge(net: TenantNetwork): void {
  try {
    removeTapNetwork(tapNetworkOf(net));
  } catch {
    // not ours to fail on: a bridge left behind holds no VM
  }
}

/** Whether the host routes between interfaces (then tenants' subnets reach each other through it). */
export function hostForwards(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** What unikitd should tell the operator about keeping tenants' tap networks apart, if anything. */
export function tenantIsolationNote(): string | undefined {
  if (process.getuid?.() !== 0) return undefined; // no tap networks without root
  const why = fenceUnavailable();
  if (!why) return undefined;
  const base = `no host network fence (${why}): tap network policies are enforced by the guest kernels only`;
  return hostForwards()
    ? `${base}, and net.ipv4.ip_forward is 1: the host routes between tenants' tap subnets (each tenant still has its own bridge); set it to 0 or install nftables to keep tenants apart at layer 3 too`
    : base;
}
