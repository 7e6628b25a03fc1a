/**
 * `unikit run <image-dir|elf> ...`: boot the program, stream its output byte for byte, and exit
 * with its status. An ELF is packed into a cached image first.
 */
import { stat } from 'node:fs/promises';
import { type Image, ImageError, bootFlags, cachedImage, checkMemory, loadLinuxImage, loadVerifiedImage } from '../../image/index.js';
import { type AccelRequest, type Machine, type VmResult, runVm } from '../../vmm/index.js';
import { onePositional, parseArgs } from '../args.js';
import {
  NETWORK_OPTIONS, checkNetworkAvailable, defaultNetwork, effectivePolicy, networkFromOptions, policyFromOptions,
} from '../network-options.js';
import { parseEnvOptions, parseFileSpec } from '../file-spec.js';
import { parseSize } from '../size.js';
import { UsageError } from '../usage.js';
import { runLinuxImage } from './run-linux.js';

export const RUN_OPTIONS = [
  { name: 'mem', kind: 'value' },
  { name: 'accel', kind: 'value' },
  { name: 'machine', kind: 'value' },
  { name: 'env', kind: 'list' },
  { name: 'file', kind: 'list' },
  { name: 'verbose', short: 'v', kind: 'flag' },
  { name: 'time', kind: 'flag' },
  { name: 'timeout', kind: 'value' },
  { name: 'fast', kind: 'flag' },
  ...NETWORK_OPTIONS,
] as const;

export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** One line for the user, without its newline. */
  message: (line: string) => void;
}

export async function runCommand(argv: readonly string[], io: RunIo): Promise<number> {
  const p = parseArgs('run', argv, RUN_OPTIONS);
  const target = onePositional('run', p, 'an image directory or a program: unikit run <image-dir|elf>');
  // An image built with --kernel linux boots Debian's cloud kernel instead (run-linux.ts).
  const linux = loadLinuxImage(target);
  if (linux) return runLinuxImage(linux, p, io);
  const accel = oneOf<AccelRequest>('--accel', p.values.get('accel') ?? 'auto', ['auto', 'kvm', 'tcg']);
  const machine = oneOf<Machine>('--machine', p.values.get('machine') ?? 'microvm', ['microvm', 'q35']);
  const memText = p.values.get('mem');
  const mem = memText === undefined ? undefined : parseSize(memText);
  const env = parseEnvOptions(p.lists.get('env') ?? []);
  const files = (p.lists.get('file') ?? []).map(parseFileSpec);
  const timeoutText = p.values.get('timeout');
  const timeoutMs = timeoutText === undefined ? undefined : parseSeconds(timeoutText) * 1000;
  const requested = networkFromOptions(p.values.get('net'), p.lists.get('publish') ?? [], machine);
  if (requested) checkNetworkAvailable(requested);
  const requestedPolicy = policyFromOptions(p.lists.get('listen') ?? [], p.lists.get('egress') ?? []);

  const st = await stat(target).catch(() => undefined);
  if (!st) throw new ImageError('IMAGE_MISSING_FILE', `${target} does not exist (give an image directory or a program)`);
  let image: Image;
  let argvOut: string[];
  let envOut: string[];
  if (st.isDirectory()) {
    // A signed image boots only if it verifies; one built at a signing level must be signed.
    image = (await loadVerifiedImage(target)).image;
    if (files.length) throw new UsageError('--file packs files into a new image: give `unikit run` the program, or rebuild the image with `unikit build --file`');
    if (p.flags.has('fast')) throw new UsageError('an image runs in the mode it was built for: rebuild it with `unikit build --fast`');
    const m = image.manifest;
    argvOut = p.rest === undefined ? m.argv : [m.argv[0] ?? m.app.path, ...p.rest];
    envOut = mergeEnv(m.env, env);
    if (mem !== undefined) checkMemory({ kernel: m.kernel.footprint ?? m.kernel.size, initrd: m.initrd.size, program: m.app.memorySpan }, mem, m.app.name);
  } else {
    // Arguments and environment are not part of the cached image: one image serves every run.
    // --fast: the program's syscall sites rewritten, run in ring 0 (with the general kernel).
    image = await cachedImage({ elf: target, files, mem, ...(p.flags.has('fast') ? { specialize: { fast: true } } : {}) });
    argvOut = [image.manifest.app.path, ...(p.rest ?? [])];
    envOut = env;
  }

  const m = image.manifest;
  const network = requested ?? defaultNetwork(m, machine);
  checkNetworkAvailable(network);
  const result: VmResult = await runVm({
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    prog: m.app.path,
    argv: argvOut,
    env: envOut,
    cwd: m.cwd,
    memory: mem ?? m.memory,
    flags: bootFlags(m),
    accel,
    machine,
    network,
    networkPolicy: effectivePolicy(requestedPolicy, m.network, network),
    verbose: p.flags.has('verbose'),
    timeoutMs,
    stdout: io.stdout,
    stderr: io.stderr,
    onMessage: io.message,
    onKlog: p.flags.has('verbose') ? (line) => {
      if (!line.startsWith('unikit: ')) io.message(`unikit: [kernel] ${line}`);
    } : undefined,
  });
  if (p.flags.has('time')) {
    const t = result.timings;
    const boot = t.bootMs === undefined ? 'no entry marker' : `boot ${t.bootMs.toFixed(1)} ms`;
    io.message(`unikit: ${boot}, total ${t.totalMs.toFixed(1)} ms (QEMU spawn to exit, ${result.accel}, ${result.machine})`);
  }
  return result.status;
}

/** The image's environment with the command line's entries replacing same-named ones. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const key = (e: string): string => e.slice(0, e.indexOf('='));
  const replaced = new Set(extra.map(key));
  return [...base.filter((e) => !replaced.has(key(e))), ...extra];
}

export function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`bad ${option} ${JSON.stringify(value)}: use one of ${allowed.join(', ')}`);
  return value as T;
}

function parseSeconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`bad --timeout ${JSON.stringify(text)}: give seconds, e.g. 30`);
  return n;
}
