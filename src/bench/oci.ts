/**
 * OCI bundles for the container comparator: a rootfs holding the same static binary and its
 * files, and a config.json written here (not by `runc spec`) with an explicit
 * linux.cgroupsPath, which runc 1.1 on this machine's cgroup v1 hybrid hierarchy needs, so the
 * bench can read the container's memory from memory/<cgroupsPath>/memory.usage_in_bytes.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundleOptions {
  /** The static program, copied to /<name> in the rootfs. */
  program: string;
  /** Its name in the rootfs root. */
  name: string;
  args: string[];
  /** Host directories copied into the rootfs: host -> guest path. */
  dirs?: { host: string; guest: string }[];
  cgroupsPath: string;
  /** The rootfs to use instead of bundleDir/rootfs (absolute; shared by several bundles, read-only). */
  rootPath?: string;
  /** Share the host's network namespace (the default; the server's port is then the host's). */
  hostNetwork?: boolean;
}

/** The OCI runtime spec (1.0.2) config for one server process, no capabilities, read-only root. */
export function ociConfig(o: Pick<BundleOptions, 'args' | 'cgroupsPath' | 'hostNetwork' | 'rootPath'>): Record<string, unknown> {
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (o.hostNetwork === false) namespaces.push({ type: 'network' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: ['PATH=/'],
      cwd: '/',
      capabilities: { bounding: [], effective: [], permitted: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: o.rootPath ?? 'rootfs', readonly: true },
    hostname: 'unikit-bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      cgroupsPath: o.cgroupsPath,
      namespaces,
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyTree(join(from, e.name), join(to, e.name));
    else if (e.isFile()) copyFileSync(join(from, e.name), join(to, e.name));
  }
}

/** Bytes of the regular files under `dir`. */
export function treeBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += treeBytes(join(dir, e.name));
    else if (e.isFile()) n += statSync(join(dir, e.name)).size;
  }
  return n;
}

/** Writes bundleDir/rootfs and bundleDir/config.json; returns the rootfs size in bytes. */
export function writeBundle(bundleDir: string, o: BundleOptions): number {
  const rootfs = join(bundleDir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  copyFileSync(o.program, join(rootfs, o.name));
  for (const d of ['proc', 'dev']) mkdirSync(join(rootfs, d), { recursive: true });
  for (const d of o.dirs ?? []) copyTree(d.host, join(rootfs, d.guest.replace(/^\/+/, '')));
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(ociConfig(o), null, 2) + '\n');
  return treeBytes(rootfs);
}
