/**
 * The container comparators: runc and crun running the OCI bundle unikit writes (oci.ts), and
 * podman running the same rootfs imported as an image. All share the host's network, so httpd's
 * port is a host port, and each container's memory is its cgroup v1 memory.usage_in_bytes.
 *
 * This machine's quirks, handled here (docs/benchmarks.md): cgroups are v1 with a hybrid
 * cgroup2 mount at /sys/fs/cgroup/unified, which crun 1.8 refuses ("cgroups in hybrid mode not
 * supported"), so crun runs in a private mount namespace with that mount unmounted; podman's
 * conmon refuses ulimits above its own, so podman gets nofile and nproc at or under 20000 and
 * 32768 (and under the hard limits here); podman runs runc, which handles the hybrid hierarchy.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { freeTcpPort } from '../vmm/index.js';
import type { Comparator, ComparatorContext, ComparatorName, Instance } from './comparators.js';
import { waitForHttp } from './http.js';
import { ociConfig, writeBundle } from './oci.js';
import { cgroupMemoryBytes, hardLimit, memoryCgroupOf, pssBytes } from './procmem.js';

const run = promisify(execFile);

export type OciRuntime = 'runc' | 'crun';

/** Whether /sys/fs/cgroup/unified is a cgroup2 mount next to v1 hierarchies (what crun refuses). */
export function hybridCgroups(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  return mountinfo.split('\n').some((l) => / \/sys\/fs\/cgroup\/unified .* - cgroup2 /.test(l));
}

/** The command that runs `argv` with the hybrid cgroup2 mount hidden (a private mount namespace without it). */
export function withCgroup2Hidden(argv: readonly string[]): [string, string[]] {
  return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified && exec "$@"', 'sh', ...argv]];
}

/** podman's --ulimit values: conmon's limits (nofile 20000, nproc 32768) or the hard limits here, whichever is lower. */
export function podmanUlimits(limits: { nofile?: number; nproc?: number } = { nofile: hardLimit('Max open files'), nproc: hardLimit('Max processes') }): string[] {
  const nofile = Math.min(20000, limits.nofile ?? 20000);
  const nproc = Math.min(32768, limits.nproc ?? 32768);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

/** undefined when this container comparator can run here, else why not. */
export async function containerUnavailable(name: ComparatorName): Promise<string | undefined> {
  const tool = name.startsWith('container-podman') ? 'podman' : name.startsWith('container-crun') ? 'crun' : 'runc';
  if (process.getuid?.() !== 0) return `${tool} needs root here`;
  if (!existsSync('/sys/fs/cgroup/memory')) return 'no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory';
  const has = async (cmd: string): Promise<boolean> => run(cmd, ['--version']).then(() => true, () => false);
  if (!(await has(tool))) return `${tool} is missing: apt-get install ${tool} (bash scripts/setup.sh does)`;
  if (tool === 'crun' && hybridCgroups() && !(await has('unshare'))) return 'crun refuses hybrid cgroups and unshare (util-linux) is missing to hide the cgroup2 mount';
  if (tool === 'podman' && !(await has('runc'))) return 'podman runs runc here (crun refuses hybrid cgroups): apt-get install runc';
  return undefined;
}

/** runc or crun running the bundle; with `qemuUser`, httpd runs under that emulator inside the container. */
export async function ociContainer(ctx: ComparatorContext, runtime: OciRuntime, qemuUser?: string): Promise<Comparator> {
  const base = join(ctx.workDir, `${runtime}${qemuUser ? '-qemu-user' : ''}`);
  const state = join(base, 'state');
  mkdirSync(state, { recursive: true });
  const rootfsBytes = writeBundle(join(base, 'image'), {
    program: ctx.httpd,
    name: 'httpd',
    args: ['/httpd'],
    dirs: [{ host: ctx.docroot, guest: '/www' }],
    cgroupsPath: '/unused',
  });
  const rootPath = join(base, 'image', 'rootfs');
  if (qemuUser) copyFileSync(qemuUser, join(rootPath, 'qemu-x86_64'));
  const rootBytes = rootfsBytes + (qemuUser ? statSync(qemuUser).size : 0);
  const parent = `unikit-bench-${process.pid}-${runtime}${qemuUser ? '-qemu-user' : ''}`;
  const hide = runtime === 'crun' && hybridCgroups();
  const command = (args: string[]): [string, string[]] => (hide ? withCgroup2Hidden([runtime, ...args]) : [runtime, args]);
  const runtimeCall = (args: string[]): Promise<unknown> => run(...command(args));
  let serial = 0;
  return {
    name: `container-${runtime}${qemuUser ? '-qemu-user' : ''}` as ComparatorName,
    label: `${runtime} container (OCI bundle, host network${hide ? '; cgroup2 mount hidden: hybrid cgroups' : ''})${qemuUser ? ', httpd under qemu-x86_64 user-mode emulation' : ''}`,
    accel: qemuUser ? 'tcg-user' : 'native',
    imageBytes: rootBytes,
    async start() {
      const port = await freeTcpPort();
      const id = `${parent}-${++serial}`;
      const bundle = join(base, id);
      const cgroupsPath = `/${parent}/${id}`;
      mkdirSync(bundle, { recursive: true });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(ociConfig({ args: [...(qemuUser ? ['/qemu-x86_64'] : []), '/httpd', String(port), '/www'], cgroupsPath, rootPath })));
      return await startDetached({
        port,
        what: `${runtime} run ${id}`,
        command: command(['--root', state, 'run', '-d', '--bundle', bundle, id]),
        stop: async () => {
          await runtimeCall(['--root', state, 'kill', id, 'KILL']).catch(() => undefined);
          for (let i = 0; i < 50; i++) {
            if (await runtimeCall(['--root', state, 'delete', '-f', id]).then(() => true, () => false)) break;
            await new Promise((res) => setTimeout(res, 20));
          }
          rmSync(bundle, { recursive: true, force: true });
        },
        pid: async () => (JSON.parse((await run(runtime, ['--root', state, 'state', id])).stdout) as { pid: number }).pid,
        cgroup: () => cgroupsPath,
      });
    },
    async dispose() {
      // delete removes each container's cgroup; the parent is ours to remove, in every hierarchy.
      for (const controller of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(join('/sys/fs/cgroup', controller, parent));
        } catch {
          // not created in this hierarchy, or not empty
        }
      }
    },
  };
}

/**
 * Starts a container with a runtime command that returns once it runs detached, and waits until
 * its httpd answers; a failed start is cleaned up and its error says which command failed.
 * Memory is read from the container's process (found once, on first use) and its cgroup.
 */
async function startDetached(o: {
  port: number;
  what: string;
  command: [string, string[]];
  stop: () => Promise<void>;
  pid: () => Promise<number>;
  cgroup: (pid: number) => string | undefined;
}): Promise<Instance> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(o.command[0], o.command[1], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r)); // not 'close': the container keeps the runtime's stderr
  const failed = exited.then((code) => {
    if (code !== 0) throw new Error(`${o.what} failed (status ${String(code)}): ${err.trim()}`);
    return new Promise<never>(() => undefined);
  });
  failed.catch(() => undefined);
  try {
    await waitForHttp('127.0.0.1', o.port, { failed });
  } catch (e) {
    await exited;
    await o.stop();
    throw e;
  }
  const readyMs = performance.now() - t0;
  await exited;
  let pid: number | undefined;
  return {
    host: '127.0.0.1',
    port: o.port,
    readyMs,
    async memory() {
      pid ??= await o.pid();
      const cg = o.cgroup(pid);
      return { pssBytes: pssBytes(pid), cgroupBytes: cg === undefined ? undefined : cgroupMemoryBytes(cg) };
    },
    stop: o.stop,
  };
}

/** podman (runc runtime, host network) running the bundle's rootfs, imported as an image once. */
export async function podmanContainer(ctx: ComparatorContext): Promise<Comparator> {
  const base = join(ctx.workDir, 'podman');
  const rootBytes = writeBundle(join(base, 'image'), { program: ctx.httpd, name: 'httpd', args: ['/httpd'], dirs: [{ host: ctx.docroot, guest: '/www' }], cgroupsPath: '/unused' });
  const tar = join(base, 'rootfs.tar');
  await run('tar', ['-C', join(base, 'image', 'rootfs'), '-cf', tar, '.']);
  const image = `localhost/unikit-bench-httpd-${process.pid}`;
  await run('podman', ['import', tar, image]).catch((e: Error) => {
    throw new Error(`podman import failed: ${e.message}`);
  });
  const ulimits = podmanUlimits();
  let serial = 0;
  return {
    name: 'container-podman',
    label: `podman container (runc runtime, host network, ${ulimits.filter((_, i) => i % 2).join(' ')})`,
    accel: 'native',
    imageBytes: rootBytes,
    async start(): Promise<Instance> {
      const port = await freeTcpPort();
      const id = `unikit-bench-${process.pid}-podman-${++serial}`;
      return await startDetached({
        port,
        what: `podman run ${id}`,
        command: ['podman', ['--cgroup-manager', 'cgroupfs', 'run', '-d', '--rm', '--runtime', 'runc', '--network', 'host', '--read-only', ...ulimits,
          '--name', id, image, '/httpd', String(port), '/www']],
        stop: async () => {
          await run('podman', ['rm', '-f', '-t', '0', id]).catch(() => undefined);
        },
        pid: async () => Number((await run('podman', ['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim()),
        cgroup: memoryCgroupOf,
      });
    },
    async dispose() {
      await run('podman', ['rmi', '-f', image]).catch(() => undefined);
    },
  };
}
