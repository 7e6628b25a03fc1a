/**
 * `unikit run <dir>` for an image built with `--kernel linux`: Debian's cloud kernel on q35 under
 * the same QEMU and accelerator, the program's stdout and stderr streamed as they arrive, and its
 * exit status returned: the program is PID 1, and the kernel's panic when it exits carries its
 * status (linuxExitFromKlog) and ends the VM.
 */
import { LINUX_DEFAULT_MEMORY, LINUX_GUEST_EXIT, type LinuxImage, linuxAppend, linuxQemuArgs } from '../../image/index.js';
import { type AccelRequest, STREAM_FDS, type VmNetwork, runVm } from '../../vmm/index.js';
import type { ParsedArgs } from '../args.js';
import { parseEnvOptions } from '../file-spec.js';
import { checkNetworkAvailable, networkFromOptions } from '../network-options.js';
import { parseSize } from '../size.js';
import { UsageError } from '../usage.js';
import { type RunIo, mergeEnv, oneOf } from './run.js';

/** Below this the cloud kernel cannot unpack its initramfs and start (it panics). */
export const LINUX_MIN_MEMORY = 64 << 20;

export async function runLinuxImage(image: LinuxImage, p: ParsedArgs, io: RunIo): Promise<number> {
  if ((p.lists.get('file') ?? []).length) throw new UsageError('--file packs files into a new image: rebuild the Linux image with `unikit build --kernel linux --file`');
  if (p.flags.has('fast')) throw new UsageError('--fast is a unikernel mode: a Linux image runs its program under Linux');
  if (p.lists.has('listen') || p.lists.has('egress')) throw new UsageError('--listen and --egress make a network policy the unikit kernel enforces: a Linux image has no such kernel');
  const machine = p.values.get('machine');
  if (machine !== undefined && machine !== 'q35') {
    throw new UsageError(`a Linux image boots on q35 (Debian's cloud kernel finds its devices through ACPI and PCI): drop --machine ${machine}`);
  }
  const accel = oneOf<AccelRequest>('--accel', p.values.get('accel') ?? 'auto', ['auto', 'kvm', 'tcg']);
  const memText = p.values.get('mem');
  const memory = memText === undefined ? LINUX_DEFAULT_MEMORY : parseSize(memText);
  if (memory < LINUX_MIN_MEMORY) throw new UsageError(`--mem ${memText ?? ''} is too small for a Linux image: give at least ${LINUX_MIN_MEMORY >> 20}M (the default is ${LINUX_DEFAULT_MEMORY >> 20}M)`);
  const timeoutText = p.values.get('timeout');
  const timeout = timeoutText === undefined ? undefined : Number(timeoutText);
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) throw new UsageError(`bad --timeout ${JSON.stringify(timeoutText)}: give seconds, e.g. 30`);
  // Checked as for the unikernel; the machine passed is microvm because the NIC question is
  // settled here: the Linux image's NIC is virtio-net-pci on q35.
  const requested = networkFromOptions(p.values.get('net'), p.lists.get('publish') ?? [], 'microvm');
  const network: VmNetwork = requested ?? { mode: 'user', ports: [] };
  if (network.mode === 'tap') throw new UsageError('--net tap is not supported for Linux images yet: use --net user with -p HOST:GUEST');
  checkNetworkAvailable(network);

  const env = mergeEnv(image.env, parseEnvOptions(p.lists.get('env') ?? []));
  const argv = p.rest === undefined ? image.argv : [image.argv[0] as string, ...p.rest];
  const append = linuxAppend({ argv, env });
  const verbose = p.flags.has('verbose');
  const result = await runVm({
    kernel: image.vmlinuz,
    initrd: image.initrd,
    prog: argv[0] as string,
    argv,
    memory,
    accel,
    machine: 'q35',
    network,
    verbose,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    stdout: io.stdout,
    stderr: io.stderr,
    onMessage: io.message,
    onKlog: verbose ? (line) => {
      if (!line.startsWith('unikit: ') && !line.startsWith('@')) io.message(`unikit: [linux] ${line}`);
    } : undefined,
    guestArgs: (chosen) => linuxQemuArgs({ image, accel: chosen, memory, append, streams: STREAM_FDS }),
    guestExit: LINUX_GUEST_EXIT,
  });
  if (p.flags.has('time')) {
    const t = result.timings;
    const boot = t.bootMs === undefined ? 'no entry marker' : `boot ${t.bootMs.toFixed(1)} ms`;
    io.message(`unikit: ${boot}, total ${t.totalMs.toFixed(1)} ms (QEMU spawn to exit, ${result.accel}, q35, Linux ${image.kernelPackage})`);
  }
  return result.status;
}
