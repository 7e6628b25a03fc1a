/**
 * The general end of the spectrum: the same program in an initramfs booted by Debian's cloud
 * kernel (linux-image-cloud-amd64), for side-by-side comparison with the unikernel and for
 * programs the unikernel cannot run yet: dynamically linked ones get their interpreter and
 * libraries packed from the host (linux-libs.ts).
 *
 * The kernel is fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
 * $UNIKIT_HOME/linux/<package>/ (never installed into /boot); only vmlinuz and the virtio
 * network modules are kept. Its virtio drivers are modules, so a busybox script is /init: it
 * loads them (in the order their depends= says), configures eth0 for QEMU user networking
 * (10.0.2.15/24 via 10.0.2.2), then execs the program, which is PID 1. Its exit makes the kernel
 * panic with its status, which ends the VM (linuxExitFromKlog). The VM needs PCI (q35 with
 * virtio-net-pci): the kernel finds no virtio-mmio device on microvm without ACPI.
 *
 * The streams follow unikit's own layout (docs/guest-abi.md): the program's stdout on COM1
 * (ttyS0), its stderr on COM2 (ttyS1), both in raw mode so bytes pass unchanged; the kernel
 * console, with the "@entering-program" marker and the final panic, on a third UART (ttyS2,
 * 0x3e8, IRQ 5, found through ACPI), which the host reads as the kernel log.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { unikitHome } from '../project/index.js';
import { type CpioEntry, S_IFDIR, S_IFREG, writeCpio } from './cpio.js';
import { ImageError } from './errors.js';
import { programLibraries } from './linux-libs.js';

export const LINUX_META_PACKAGE = 'linux-image-cloud-amd64';
/** The modules virtio-net-pci needs in Debian's cloud kernel. */
export const LINUX_NET_MODULES = ['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net'];
/** Guest RAM for the Linux microVM: the kernel, its page tables and the initramfs. */
export const LINUX_DEFAULT_MEMORY = 128 << 20;
export const LINUX_IMAGE_FORMAT = 'unikit-linux/1';
export const DEFAULT_BUSYBOX = '/bin/busybox';
/** Linux's COMMAND_LINE_SIZE on x86, the terminating NUL included. */
export const LINUX_CMDLINE_MAX = 2048;
/** The kernel command line before the run configuration: console on the third UART, panics end the VM. */
export const LINUX_BASE_APPEND = 'console=ttyS2 quiet panic=-1';

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

/** Single-quoted for busybox sh. */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * What one run executes, as a shell snippet in base64 (one word of the kernel command line
 * with no spaces or quotes): `set -- ENV... ARGV...`, which /init hands to `env -i`.
 */
export function encodeRunConfig(run: { argv: readonly string[]; env: readonly string[] }): string {
  if (run.argv.length === 0 || !(run.argv[0] as string).startsWith('/')) throw new LinuxKernelError('argv[0] must be the program\'s absolute path in the image');
  return Buffer.from(`set -- ${[...run.env, ...run.argv].map(shQuote).join(' ')}\n`).toString('base64');
}

/** The kernel command line of one run: the base, then after `--` (the kernel hands it to /init as $1) the run configuration. */
export function linuxAppend(run: { argv: readonly string[]; env: readonly string[] }): string {
  const append = `${LINUX_BASE_APPEND} -- ${encodeRunConfig(run)}`;
  if (append.length >= LINUX_CMDLINE_MAX) {
    throw new LinuxKernelError(`the arguments and environment take ${append.length} bytes of the kernel command line, which holds ${LINUX_CMDLINE_MAX - 1}: pass fewer, or pack the data as a file (--file)`);
  }
  return append;
}

/**
 * The /init script: mounts, raw stdout/stderr UARTs, the network modules and eth0, then it
 * `exec`s the program with exactly the run's environment (`env -i` execs in turn), so the
 * program is PID 1 with its stdout and stderr on the UARTs. When it exits, Linux panics
 * ("Attempted to kill init!", see linuxExitFromKlog) and, with panic=-1 and QEMU's -no-reboot,
 * the VM ends. `defaultRun` is the build's run configuration, used when the command line brings none.
 */
export function linuxInitScript(moduleOrder: readonly string[], defaultRun: { argv: readonly string[]; env: readonly string[] }): string {
  return [
    '#!/bin/busybox sh',
    '# unikit: Debian cloud kernel; this script sets up, then execs the program as PID 1',
    'B=/bin/busybox',
    'K=/dev/ttyS2',
    '$B mount -t devtmpfs dev /dev',
    '$B mount -t proc proc /proc',
    '$B mount -t sysfs sys /sys',
    '$B stty -F /dev/ttyS0 raw -echo',
    '$B stty -F /dev/ttyS1 raw -echo',
    ...moduleOrder.map((m) => `$B insmod /lib/modules/${m}.ko || echo "unikit: insmod ${m} failed" >$K`),
    '$B ip link set lo up',
    'if [ -e /sys/class/net/eth0 ]; then',
    '  $B ip link set eth0 up && $B ip addr add 10.0.2.15/24 dev eth0 && $B ip route add default via 10.0.2.2',
    'fi',
    `R=${encodeRunConfig(defaultRun)}`,
    '[ -n "$1" ] && R="$1"',
    'eval "$(echo "$R" | $B base64 -d)"',
    'echo @entering-program >$K',
    // A program env cannot start makes env exit 126 or 127: PID 1 exits, as natively.
    'exec $B env -i "$@" </dev/null >/dev/ttyS0 2>/dev/ttyS1',
    '',
  ].join('\n');
}

/** What the kernel log says when PID 1 (the program) ends: Linux's panic, printed at KERN_EMERG so `quiet` keeps it. */
export const LINUX_INIT_EXIT_PANIC = /Kernel panic - not syncing: Attempted to kill init! exitcode=0x([0-9a-fA-F]+)/;

/**
 * The program's status from the kernel's panic line when PID 1 exits, or undefined for any other
 * line. Linux 6.1's do_exit prints the wait status of the thread group: (status & 0xff) << 8 for
 * an exit, the signal number (0x80 added when a core was dumped) for a death by signal, reported
 * as 128 + N like a shell does.
 */
export function linuxExitFromKlog(line: string): { status: number; reason: 'exit' | 'signal' } | undefined {
  const m = LINUX_INIT_EXIT_PANIC.exec(line);
  if (!m) return undefined;
  const code = parseInt(m[1] as string, 16);
  const signal = code & 0x7f;
  if (signal !== 0) return { status: 128 + signal, reason: 'signal' };
  return { status: (code >> 8) & 0xff, reason: 'exit' };
}

/** runVm's `guestExit` for a Linux image: its program's end is the kernel's panic line. */
export const LINUX_GUEST_EXIT = {
  fromKlog: linuxExitFromKlog,
  expected: 'the kernel\'s "Attempted to kill init!" panic, which ends a Linux image\'s run',
  /** Any other panic (no init found, no memory...) says why the VM ended. */
  failure: (line: string): string | undefined => {
    const m = /Kernel panic - not syncing: .*/.exec(line);
    return m ? m[0] : undefined;
  },
};

export interface LinuxImageOptions {
  elf: string;
  outDir: string;
  /** argv after the program's path. */
  args?: string[];
  /** The environment of every run (a run's --env entries replace same-named ones). */
  env?: string[];
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
  env: string[];
  /** vmlinuz + initramfs bytes. */
  bytes: number;
  kernelPackage: string;
  /** Guest paths of the interpreter and libraries packed from the host ([] for a static program). */
  libraries: string[];
}

/** What linux.json holds. */
interface LinuxImageRecord {
  format: string;
  kernelPackage: string;
  argv: string[];
  env: string[];
  modules: string[];
  libraries: string[];
  bytes: number;
}

/** Writes outDir/{vmlinuz,initramfs.cpio,linux.json}. */
export async function buildLinuxImage(o: LinuxImageOptions): Promise<LinuxImage> {
  const busybox = o.busybox ?? DEFAULT_BUSYBOX;
  if (!existsSync(o.elf) || !statSync(o.elf).isFile()) throw new ImageError('IMAGE_MISSING_FILE', `the program ${o.elf} does not exist`);
  if (!existsSync(busybox)) throw new LinuxKernelError(`${busybox} is missing: apt-get install busybox-static (bash scripts/setup.sh does)`);
  // Before the kernel download: a bad program or a missing library is the user's problem to hear first.
  const libraries = programLibraries(o.elf);
  const k = await linuxKernel(o.home);
  const deps: Record<string, string[]> = {};
  for (const [name, path] of Object.entries(k.modules)) deps[name] = moduleDepends(readFileSync(path));
  const order = orderModules(deps);
  const name = basename(o.elf);
  const argv = [`/${name}`, ...(o.args ?? [])];
  const env = o.env ?? [];
  const mtime = Math.floor(Date.now() / 1000);
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const files = new Set<string>();
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
    if (files.has(p) || dirs.has(p)) throw new ImageError('IMAGE_DUPLICATE_PATH', `/${p} would be packed twice into the Linux image`);
    files.add(p);
    const parent = p.split('/').slice(0, -1).join('/');
    if (parent) dir(parent);
    entries.push({ name: p, mode: S_IFREG | mode, data, mtime });
  };
  const addTree = (host: string, guest: string): void => {
    if (!existsSync(host)) throw new ImageError('IMAGE_MISSING_FILE', `--file ${host} does not exist`);
    if (statSync(host).isDirectory()) {
      dir(guest);
      for (const e of readdirSync(host)) addTree(join(host, e), `${guest}/${e}`);
    } else file(guest, readFileSync(host), statSync(host).mode & 0o777);
  };
  for (const d of ['proc', 'sys', 'dev', 'tmp']) dir(d);
  file('bin/busybox', readFileSync(busybox), 0o755);
  for (const m of order) file(`lib/modules/${m}.ko`, readFileSync(k.modules[m] as string), 0o644);
  for (const l of libraries) file(l.guest.replace(/^\/+/, ''), readFileSync(l.host), 0o755);
  file(name, readFileSync(o.elf), 0o755);
  for (const f of o.files ?? []) addTree(f.host, f.guest.replace(/^\/+/, ''));
  file('init', Buffer.from(linuxInitScript(order, { argv, env })), 0o755);
  mkdirSync(o.outDir, { recursive: true });
  const vmlinuz = join(o.outDir, 'vmlinuz');
  const initrd = join(o.outDir, 'initramfs.cpio');
  copyFileSync(k.vmlinuz, vmlinuz);
  writeFileSync(initrd, writeCpio(entries));
  const bytes = statSync(vmlinuz).size + statSync(initrd).size;
  const record: LinuxImageRecord = {
    format: LINUX_IMAGE_FORMAT, kernelPackage: k.package, argv, env, modules: order, libraries: libraries.map((l) => l.guest), bytes,
  };
  writeFileSync(join(o.outDir, 'linux.json'), JSON.stringify(record, null, 2) + '\n');
  return { dir: o.outDir, vmlinuz, initrd, argv, env, bytes, kernelPackage: k.package, libraries: record.libraries };
}

/** The Linux image in `dir`, or undefined when `dir` holds no linux.json (not a Linux image). */
export function loadLinuxImage(dir: string): LinuxImage | undefined {
  const path = join(dir, 'linux.json');
  if (!existsSync(path)) return undefined;
  let r: Partial<LinuxImageRecord>;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LinuxImageRecord>;
  } catch (e) {
    throw new ImageError('IMAGE_BAD_MANIFEST', `${path} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (r.format !== LINUX_IMAGE_FORMAT) throw new ImageError('IMAGE_BAD_MANIFEST', `${path}: format ${JSON.stringify(r.format)}, expected ${LINUX_IMAGE_FORMAT}`);
  if (!Array.isArray(r.argv) || r.argv.length === 0) throw new ImageError('IMAGE_BAD_MANIFEST', `${path}: no argv`);
  for (const f of ['vmlinuz', 'initramfs.cpio']) {
    if (!existsSync(join(dir, f))) throw new ImageError('IMAGE_MISSING_FILE', `${join(dir, f)} is missing: rebuild the image with unikit build --kernel linux`);
  }
  return {
    dir,
    vmlinuz: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initramfs.cpio'),
    argv: r.argv,
    env: r.env ?? [],
    bytes: r.bytes ?? 0,
    kernelPackage: r.kernelPackage ?? 'unknown',
    libraries: r.libraries ?? [],
  };
}

/**
 * QEMU arguments for a Linux image, without the NIC (src/vmm adds virtio-net-pci): q35, the
 * program's stdout and stderr on COM1 and COM2 and the kernel log on a third UART, written to
 * the fds `streams` names (src/vmm's STREAM_FDS).
 */
export function linuxQemuArgs(o: {
  image: Pick<LinuxImage, 'vmlinuz' | 'initrd'>; accel: string; memory: number; append: string;
  streams: { stdout: number; stderr: number; klog: number };
}): string[] {
  return [
    '-M', 'q35', '-accel', o.accel, '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-m', `${Math.ceil(o.memory / 1048576)}M`,
    '-chardev', `file,id=out,path=/dev/fd/${o.streams.stdout}`,
    '-device', 'isa-serial,chardev=out,iobase=0x3f8,irq=4',
    '-chardev', `file,id=err,path=/dev/fd/${o.streams.stderr}`,
    '-device', 'isa-serial,chardev=err,iobase=0x2f8,irq=3',
    '-chardev', `file,id=klog,path=/dev/fd/${o.streams.klog}`,
    '-device', 'isa-serial,chardev=klog,iobase=0x3e8,irq=5',
    '-kernel', o.image.vmlinuz, '-initrd', o.image.initrd,
    '-append', o.append,
  ];
}
