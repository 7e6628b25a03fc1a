/**
 * The general end of the spectrum: the same program as PID 1 of an initramfs booted by Debian's
 * cloud kernel (linux-image-cloud-amd64), for side-by-side comparison with the unikernel and for
 * programs the unikernel cannot run yet (static programs only, for now).
 *
 * The kernel is fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
 * $UNIKIT_HOME/linux/<package>/ (never installed into /boot); only vmlinuz and the virtio
 * network modules are kept. Its virtio drivers are modules, so a short busybox script runs first
 * as /init: it loads them (in the order their depends= says), configures eth0 for QEMU user
 * networking (10.0.2.15/24 via 10.0.2.2) and execs the program, which becomes PID 1.
 * The VM needs PCI (q35 with virtio-net-pci): the kernel finds no virtio-mmio device on microvm
 * without ACPI.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { unikitHome } from '../project/index.js';
import { type CpioEntry, S_IFDIR, S_IFREG, writeCpio } from './cpio.js';

export const LINUX_META_PACKAGE = 'linux-image-cloud-amd64';
/** The modules virtio-net-pci needs in Debian's cloud kernel. */
export const LINUX_NET_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];
/** Guest RAM for the Linux microVM: the kernel, its page tables and the initramfs. */
export const LINUX_DEFAULT_MEMORY = 128 << 20;
export const LINUX_IMAGE_FORMAT = 'unikit-linux/1';
export const DEFAULT_BUSYBOX = '/bin/busybox';

export interface LinuxKernel {
  package: string;
  dir: string;
  vmlinuz: string;
  /** module name -> .ko path */
  modules: Record<string, string>;
}

export class LinuxKernelError extends Error {
  readonly code = 'LINUX_KERNEL';
  constructor(message: string) {
    super(message);
    this.name = 'LinuxKernelError';
  }
}

/** The `depends=` list of a kernel module's .modinfo, read from the .ko bytes. */
export function moduleDepends(ko: Buffer): string[] {
  const text = ko.toString('latin1');
  const m = /\0depends=([^\0]*)\0/.exec(text);
  return m && m[1] ? m[1].split(',').filter((s) => s !== '') : [];
}

/** The modules in an order where each comes after what it depends on; throws on an unknown dependency. */
export function orderModules(deps: Record<string, string[]>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: string, from?: string): void => {
    if (state.get(m) === 'done') return;
    if (state.get(m) === 'visiting') throw new LinuxKernelError(`kernel modules depend on each other in a cycle through ${m}`);
    const d = deps[m];
    if (!d) throw new LinuxKernelError(`kernel module ${m}${from ? ` (needed by ${from})` : ''} is not in the kernel package`);
    state.set(m, 'visiting');
    for (const x of d) visit(x, m);
    state.set(m, 'done');
    out.push(m);
  };
  for (const m of Object.keys(deps)) visit(m);
  return out;
}

function findFiles(dir: string, wanted: Set<string>, out: Record<string, string>): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findFiles(p, wanted, out);
    else if (e.name.endsWith('.ko') && wanted.has(e.name.slice(0, -3))) out[e.name.slice(0, -3)] = p;
  }
}

/**
 * Debian's cloud kernel under $UNIKIT_HOME/linux: fetched and unpacked on first use (apt-get
 * download needs Debian's archive; nothing is installed).
 */
export async function linuxKernel(home: string = unikitHome()): Promise<LinuxKernel> {
  const root = join(home, 'linux');
  const current = join(root, 'current.json');
  if (existsSync(current)) {
    const k = JSON.parse(readFileSync(current, 'utf8')) as LinuxKernel;
    if (existsSync(k.vmlinuz)) return k;
  }
  const run = promisify(execFile);
  mkdirSync(root, { recursive: true });
  let pkg: string;
  try {
    const { stdout } = await run('apt-cache', ['depends', LINUX_META_PACKAGE]);
    const m = /Depends:\s+(linux-image-\S+)/.exec(stdout);
    if (!m) throw new Error(`apt-cache depends ${LINUX_META_PACKAGE} names no linux-image package`);
    pkg = m[1] as string;
  } catch (e) {
    throw new LinuxKernelError(`cannot find Debian's cloud kernel: ${e instanceof Error ? e.message : String(e)} (apt-get update may help)`);
  }
  const dir = join(root, pkg);
  const tmp = join(root, `.${pkg}.${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await run('apt-get', ['download', pkg], { cwd: tmp }).catch((e: Error) => {
      throw new LinuxKernelError(`apt-get download ${pkg} failed: ${e.message}`);
    });
    const deb = readdirSync(tmp).find((n) => n.endsWith('.deb'));
    if (!deb) throw new LinuxKernelError(`apt-get download ${pkg} left no .deb`);
    const unpacked = join(tmp, 'x');
    await run('dpkg-deb', ['-x', join(tmp, deb), unpacked]);
    const vm = readdirSync(join(unpacked, 'boot')).find((n) => n.startsWith('vmlinuz-'));
    if (!vm) throw new LinuxKernelError(`${deb} holds no boot/vmlinuz-*`);
    const kept = join(tmp, 'kept');
    mkdirSync(join(kept, 'modules'), { recursive: true });
    copyFileSync(join(unpacked, 'boot', vm), join(kept, 'vmlinuz'));
    const found: Record<string, string> = {};
    findFiles(join(unpacked, 'lib', 'modules'), new Set(LINUX_NET_MODULES), found);
    const modules: Record<string, string> = {};
    for (const [name, path] of Object.entries(found)) {
      copyFileSync(path, join(kept, 'modules', `${name}.ko`));
      modules[name] = join(dir, 'modules', `${name}.ko`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(kept, dir);
    const k: LinuxKernel = { package: pkg, dir, vmlinuz: join(dir, 'vmlinuz'), modules };
    writeFileSync(current, JSON.stringify(k, null, 2) + '\n');
    return k;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The /init script: load the network modules, configure eth0 for user networking, exec the program. */
export function linuxInitScript(moduleOrder: readonly string[], argv: readonly string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/busybox sh',
    '# unikit: Debian cloud kernel, program as PID 1 after this script',
    'B=/bin/busybox',
    '$B mount -t proc proc /proc',
    '$B mount -t sysfs sys /sys',
    ...moduleOrder.map((m) => `$B insmod /lib/modules/${m}.ko || echo "unikit: insmod ${m} failed" >&2`),
    '$B ip link set lo up',
    '$B ip link set eth0 up && $B ip addr add 10.0.2.15/24 dev eth0 && $B ip route add default via 10.0.2.2',
    `exec ${argv.map(q).join(' ')}`,
    '',
  ].join('\n');
}

export interface LinuxImageOptions {
  elf: string;
  outDir: string;
  /** argv after the program's path. */
  args?: string[];
  /** Host directories or files to pack: host -> guest path. */
  files?: { host: string; guest: string }[];
  busybox?: string;
  home?: string;
}

export interface LinuxImage {
  dir: string;
  vmlinuz: string;
  initrd: string;
  argv: string[];
  /** vmlinuz + initramfs bytes. */
  bytes: number;
  kernelPackage: string;
}

/** Writes outDir/{vmlinuz,initramfs.cpio,linux.json}. */
export async function buildLinuxImage(o: LinuxImageOptions): Promise<LinuxImage> {
  const busybox = o.busybox ?? DEFAULT_BUSYBOX;
  if (!existsSync(busybox)) throw new LinuxKernelError(`${busybox} is missing: apt-get install busybox-static (bash scripts/setup.sh does)`);
  const k = await linuxKernel(o.home);
  const deps: Record<string, string[]> = {};
  for (const [name, path] of Object.entries(k.modules)) deps[name] = moduleDepends(readFileSync(path));
  const order = orderModules(deps);
  const name = o.elf.split('/').pop() as string;
  const argv = [`/${name}`, ...(o.args ?? [])];
  const mtime = Math.floor(Date.now() / 1000);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string): void => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, mode: S_IFDIR | 0o755, data: Buffer.alloc(0), mtime });
      }
    }
  };
  const file = (p: string, data: Buffer, mode: number): void => {
    const parent = p.split('/').slice(0, -1).join('/');
    if (parent) dir(parent);
    entries.push({ name: p, mode: S_IFREG | mode, data, mtime });
  };
  const addTree = (host: string, guest: string): void => {
    if (statSync(host).isDirectory()) {
      dir(guest);
      for (const e of readdirSync(host)) addTree(join(host, e), `${guest}/${e}`);
    } else file(guest, readFileSync(host), statSync(host).mode & 0o777);
  };
  for (const d of ['proc', 'sys', 'dev', 'tmp']) dir(d);
  file('bin/busybox', readFileSync(busybox), 0o755);
  for (const m of order) file(`lib/modules/${m}.ko`, readFileSync(k.modules[m] as string), 0o644);
  file(name, readFileSync(o.elf), 0o755);
  for (const f of o.files ?? []) addTree(f.host, f.guest.replace(/^\/+/, ''));
  file('init', Buffer.from(linuxInitScript(order, argv)), 0o755);
  mkdirSync(o.outDir, { recursive: true });
  const vmlinuz = join(o.outDir, 'vmlinuz');
  const initrd = join(o.outDir, 'initramfs.cpio');
  copyFileSync(k.vmlinuz, vmlinuz);
  writeFileSync(initrd, writeCpio(entries));
  const bytes = statSync(vmlinuz).size + statSync(initrd).size;
  writeFileSync(join(o.outDir, 'linux.json'), JSON.stringify({ format: LINUX_IMAGE_FORMAT, kernelPackage: k.package, argv, modules: order, bytes }, null, 2) + '\n');
  return { dir: o.outDir, vmlinuz, initrd, argv, bytes, kernelPackage: k.package };
}

/** QEMU arguments for a Linux image: q35 (PCI), virtio-net-pci on user networking, console on ttyS0 (the caller's stdio). */
export function linuxQemuArgs(o: { image: LinuxImage; accel: string; memory: number; hostfwd: string[] }): string[] {
  return [
    '-M', 'q35', '-accel', o.accel, '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-m', `${Math.ceil(o.memory / 1048576)}M`,
    '-kernel', o.image.vmlinuz, '-initrd', o.image.initrd,
    '-append', 'console=ttyS0 quiet panic=-1',
    '-serial', 'stdio',
    '-netdev', `user,id=n0${o.hostfwd.map((h) => `,hostfwd=${h}`).join('')}`,
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
}
