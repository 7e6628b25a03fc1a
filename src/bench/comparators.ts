/**
 * What the bench compares: apps/httpd as (a) a unikernel in isolated mode and in fast mode,
 * (b) a Linux microVM, (c) runc, crun and podman containers (containers.ts), (d) a native host
 * process, the container and native cases also under qemu-user. Each one starts
 * instances that answer HTTP on a host port, and says how much memory an instance takes.
 * Every comparator carries the accelerator its figures were taken with: VMs run under whatever
 * resolveAccel chose (TCG on machines without usable KVM), containers and native processes run
 * on the host CPU ("native").
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Image, LINUX_DEFAULT_MEMORY, LINUX_GUEST_EXIT, buildLinuxImage, cachedImage, linuxAppend, linuxQemuArgs } from '../image/index.js';
import { type Accel, type KernelFlag, STREAM_FDS, type VmResult, freeTcpPort, runVm } from '../vmm/index.js';
import { waitForHttp } from './http.js';
import { containerUnavailable, ociContainer, podmanContainer } from './containers.js';
import { findPid, pssBytes } from './procmem.js';

export type ComparatorName = 'unikernel' | 'unikernel-fast' | 'linux-microvm' | 'container-runc' | 'container-crun' | 'container-podman' | 'native'
  | 'container-runc-qemu-user' | 'native-qemu-user';
export const COMPARATORS: readonly ComparatorName[] = [
  'unikernel', 'unikernel-fast', 'linux-microvm', 'container-runc', 'container-crun', 'container-podman', 'native', 'container-runc-qemu-user', 'native-qemu-user',
];

/**
 * qemu-user-static's x86-64 emulator: the container and native cases run under it too, so that
 * they pay binary translation (TCG in user mode) as the VMs do where there is no KVM.
 */
export const QEMU_USER = '/usr/bin/qemu-x86_64-static';
/** The accelerator label of the qemu-user comparators. */
export const QEMU_USER_ACCEL = 'tcg-user';

export interface InstanceMemory {
  /** PSS of the host process that is the instance (QEMU, the container's process, the native process). */
  pssBytes?: number;
  /** The container's cgroup v1 memory.usage_in_bytes. */
  cgroupBytes?: number;
}

export interface Instance {
  host: string;
  port: number;
  /** Spawn to the first HTTP answer, in ms. */
  readyMs: number;
  memory(): Promise<InstanceMemory>;
  stop(): Promise<void>;
}

export interface Comparator {
  name: ComparatorName;
  label: string;
  /** The accelerator the figures are taken with: 'tcg' or 'kvm' for VMs, 'tcg-user' under qemu-user, 'native' otherwise. */
  accel: Accel | 'native' | typeof QEMU_USER_ACCEL;
  /** What an instance is made from: kernel + initrd, the container's rootfs, the binary. */
  imageBytes: number;
  start(): Promise<Instance>;
  dispose(): Promise<void>;
}

export interface ComparatorContext {
  /** apps/httpd. */
  httpd: string;
  /** The document root every instance serves (its /stats is what "ready" asks for). */
  docroot: string;
  accel: Accel;
  /** Guest RAM of the VMs. */
  vmMemBytes: number;
  /** Where bundles and state go; removed by dispose. */
  workDir: string;
}

/** undefined when this comparator can run here, else why not. */
export async function unavailable(name: ComparatorName): Promise<string | undefined> {
  if (name.endsWith('-qemu-user') && !existsSync(QEMU_USER)) return `${QEMU_USER} is missing: apt-get install qemu-user-static (bash scripts/setup.sh does)`;
  if (name.startsWith('container-')) return containerUnavailable(name);
  return undefined;
}

export async function makeComparator(name: ComparatorName, ctx: ComparatorContext): Promise<Comparator> {
  switch (name) {
    case 'unikernel':
    case 'unikernel-fast':
      return unikernel(ctx, name === 'unikernel-fast');
    case 'linux-microvm':
      return linuxMicrovm(ctx);
    case 'container-runc':
      return ociContainer(ctx, 'runc');
    case 'container-crun':
      return ociContainer(ctx, 'crun');
    case 'container-podman':
      return podmanContainer(ctx);
    case 'native':
      return native(ctx);
    case 'container-runc-qemu-user':
      return ociContainer(ctx, 'runc', QEMU_USER);
    case 'native-qemu-user':
      return native(ctx, QEMU_USER);
  }
}

async function unikernel(ctx: ComparatorContext, fast: boolean): Promise<Comparator> {
  const image: Image = await cachedImage({
    elf: ctx.httpd,
    files: [{ host: ctx.docroot, guest: '/www' }],
    ...(fast ? { specialize: { fast: true } } : {}),
  });
  const m = image.manifest;
  const flags = [...new Set([...(m.security?.flags ?? []), ...(m.flags ?? [])])] as KernelFlag[];
  return {
    name: fast ? 'unikernel-fast' : 'unikernel',
    label: fast ? 'unikit unikernel, fast mode (rewritten syscalls)' : 'unikit unikernel, isolated mode',
    accel: ctx.accel,
    imageBytes: statSync(image.kernelPath).size + statSync(image.initrdPath).size,
    start: () => startVm(`httpd's VM`, {}, (port, signal, out) => runVm({
      kernel: image.kernelPath,
      initrd: image.initrdPath,
      prog: m.app.path,
      argv: [m.app.path, '80', '/www'],
      memory: ctx.vmMemBytes,
      accel: ctx.accel,
      flags,
      network: { mode: 'user', ports: [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, guestPort: 80 }] },
      signal,
      onStdout: out,
      onStderr: out,
    })),
    async dispose() {},
  };
}

/** The same httpd under Debian's cloud kernel (src/image/linux.ts), q35 + virtio-net-pci, user networking, same QEMU and accelerator. */
async function linuxMicrovm(ctx: ComparatorContext): Promise<Comparator> {
  const image = await buildLinuxImage({ elf: ctx.httpd, outDir: join(ctx.workDir, 'linux'), args: ['80', '/www'], files: [{ host: ctx.docroot, guest: '/www' }] });
  const append = linuxAppend({ argv: image.argv, env: image.env });
  return {
    name: 'linux-microvm',
    label: `Linux microVM (${image.kernelPackage}, q35, virtio-net-pci, ${LINUX_DEFAULT_MEMORY >> 20} MiB)`,
    accel: ctx.accel,
    imageBytes: image.bytes,
    start: () => startVm(`the Linux microVM`, { timeoutMs: 120_000, intervalMs: 10 }, (port, signal, out) => runVm({
      kernel: image.vmlinuz,
      initrd: image.initrd,
      prog: image.argv[0] as string,
      argv: image.argv,
      memory: LINUX_DEFAULT_MEMORY,
      accel: ctx.accel,
      machine: 'q35',
      network: { mode: 'user', ports: [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, guestPort: 80 }] },
      signal,
      onStdout: out,
      onStderr: out,
      guestArgs: (accel) => linuxQemuArgs({ image, accel, memory: LINUX_DEFAULT_MEMORY, append, streams: STREAM_FDS }),
      guestExit: LINUX_GUEST_EXIT,
    })),
    async dispose() {},
  };
}

/**
 * Boots a VM serving httpd on a fresh host port forwarded to the guest's port 80, and waits for
 * its first HTTP answer. Its memory is the PSS of its QEMU process (found by the forward).
 */
async function startVm(
  what: string, wait: { timeoutMs?: number; intervalMs?: number },
  boot: (port: number, signal: AbortSignal, out: (b: Buffer) => void) => Promise<VmResult>,
): Promise<Instance> {
  const port = await freeTcpPort();
  const abort = new AbortController();
  let out = '';
  const t0 = performance.now();
  const done = boot(port, abort.signal, (b) => void (out = (out + b.toString()).slice(-4000)));
  const failed = done.then((r) => {
    throw new Error(`${what} ended (status ${r.status}) before httpd answered: ${out.slice(-600)}`);
  });
  failed.catch(() => undefined);
  try {
    await waitForHttp('127.0.0.1', port, { failed, ...wait });
  } catch (e) {
    abort.abort();
    await done.catch(() => undefined);
    throw e;
  }
  const readyMs = performance.now() - t0;
  let qemuPid: number | undefined;
  return {
    host: '127.0.0.1',
    port,
    readyMs,
    async memory() {
      qemuPid ??= findPid(`hostfwd=tcp:127.0.0.1:${port}-:80`);
      return { pssBytes: qemuPid === undefined ? undefined : pssBytes(qemuPid) };
    },
    async stop() {
      abort.abort();
      await done.catch(() => undefined);
    },
  };
}

async function native(ctx: ComparatorContext, qemuUser?: string): Promise<Comparator> {
  return {
    name: qemuUser ? 'native-qemu-user' : 'native',
    label: qemuUser ? 'host process under qemu-x86_64 user-mode emulation' : 'native host process',
    accel: qemuUser ? QEMU_USER_ACCEL : 'native',
    imageBytes: statSync(ctx.httpd).size + (qemuUser ? statSync(qemuUser).size : 0),
    async start() {
      const port = await freeTcpPort();
      const t0 = performance.now();
      const child = qemuUser
        ? spawn(qemuUser, [ctx.httpd, String(port), ctx.docroot], { stdio: 'ignore' })
        : spawn(ctx.httpd, [String(port), ctx.docroot], { stdio: 'ignore' });
      const closed = new Promise<void>((r) => child.once('close', () => r()));
      const failed = closed.then(() => {
        throw new Error('httpd ended before it answered');
      });
      failed.catch(() => undefined);
      await waitForHttp('127.0.0.1', port, { failed });
      const readyMs = performance.now() - t0;
      return {
        host: '127.0.0.1',
        port,
        readyMs,
        async memory() {
          return { pssBytes: child.pid === undefined ? undefined : pssBytes(child.pid) };
        },
        async stop() {
          child.kill('SIGKILL');
          await closed;
        },
      };
    },
    async dispose() {},
  };
}

/** A scratch directory for one bench run. */
export function benchWorkDir(): string {
  return mkdtempSync(join(tmpdir(), 'unikit-bench-'));
}

