/** The API's JSON shapes (api/openapi.yaml: Image, Instance, Stats, Tenant) made from store rows. */
import { processMemory, procStat } from './procfs.js';
import { tenantNetwork } from './tenant-net.js';
import type { ImageRow, InstanceNetwork, InstanceRow, InstanceState, PortSpec, Store, TenantRow, TenantUsage } from './store.js';

export interface TenantView {
  name: string;
  maxInstances: number | null;
  maxMemory: number | null;
  /** Instances not exited and guest memory of the active ones, now. */
  usage: TenantUsage;
  /** Its tap network: bridge and subnet. */
  network: { bridge: string; subnet: string };
  hasToken: boolean;
  createdAt: string;
}

export interface ImageView {
  id: string;
  tenant: string;
  name: string;
  app: string;
  argv: string[];
  env: string[];
  memory: number;
  kernelSize: number;
  initrdSize: number;
  level: string | null;
  signed: boolean;
  createdAt: string;
}

export interface InstanceView {
  id: string;
  tenant: string;
  name: string;
  image: { id: string; name: string | null };
  memory: number;
  args: string[] | null;
  env: string[];
  network: InstanceNetwork;
  ports: PortSpec[];
  /** With a tap: the guest's address on its tenant's bridge. */
  ip: string | null;
  restart: { policy: string; maxRetries: number };
  state: InstanceState;
  pid: number | null;
  accel: string | null;
  createdAt: string;
  startedAt: string | null;
  bootedAt: string | null;
  bootMs: number | null;
  finishedAt: string | null;
  exit: { status: number; reason: string; detail: string | null } | null;
  restartCount: number;
}

export interface StatsView {
  id: string;
  name: string;
  state: InstanceState;
  pid: number | null;
  rssBytes: number | null;
  pssBytes: number | null;
  cpuSeconds: number | null;
  uptimeSeconds: number | null;
  bootMs: number | null;
  memory: number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function imageView(r: ImageRow): ImageView {
  return {
    id: r.id, tenant: r.tenant, name: r.name, app: r.app, argv: r.argv, env: r.env, memory: r.memory, kernelSize: r.kernelSize,
    initrdSize: r.initrdSize, level: r.level, signed: r.signed, createdAt: new Date(r.createdAt).toISOString(),
  };
}

/** `imageNames` caches id -> name for listings (one images query, not one per instance). */
export function instanceView(r: InstanceRow, store: Store, imageNames?: Map<string, string>): InstanceView {
  const imageName = imageNames ? imageNames.get(r.imageId) ?? null : store.getImage(r.imageId)?.name ?? null;
  return {
    id: r.id, tenant: r.tenant, name: r.name, image: { id: r.imageId, name: imageName }, memory: r.memory, args: r.args, env: r.env,
    network: r.network, ports: r.ports, ip: r.ip, restart: { policy: r.restartPolicy, maxRetries: r.maxRetries }, state: r.state,
    pid: r.pid, accel: r.accel, createdAt: iso(r.createdAt) as string, startedAt: iso(r.startedAt), bootedAt: iso(r.bootedAt),
    bootMs: r.bootMs === null ? null : Math.round(r.bootMs * 1000) / 1000, finishedAt: iso(r.finishedAt),
    exit: r.exitStatus === null ? null : { status: r.exitStatus, reason: r.exitReason ?? 'unknown', detail: r.exitDetail },
    restartCount: r.restartCount,
  };
}

export function statsView(r: InstanceRow): StatsView {
  const live = r.pid !== null && (r.state === 'running' || r.state === 'starting' || r.state === 'stopping');
  const mem = live ? processMemory(r.pid as number) : undefined;
  const st = live ? procStat(r.pid as number) : undefined;
  const since = r.startedAt;
  return {
    id: r.id, name: r.name, state: r.state, pid: live ? r.pid : null,
    rssBytes: mem?.rssBytes ?? null, pssBytes: mem?.pssBytes ?? null, cpuSeconds: st?.cpuSeconds ?? null,
    uptimeSeconds: live && since !== null ? Math.round((Date.now() - since) / 10) / 100 : null,
    bootMs: r.bootMs === null ? null : Math.round(r.bootMs * 1000) / 1000, memory: r.memory,
  };
}

export function tenantView(t: TenantRow, usage: TenantUsage): TenantView {
  const net = tenantNetwork(t.name, t.netIndex);
  return {
    name: t.name, maxInstances: t.maxInstances, maxMemory: t.maxMemory, usage, network: { bridge: net.bridge, subnet: net.subnet },
    hasToken: t.tokenHash !== null, createdAt: new Date(t.createdAt).toISOString(),
  };
}
