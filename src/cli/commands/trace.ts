/**
 * `unikit trace <image-dir|elf> [--json] [-- ARGS...]`: run the program once with the kernel's
 * syscall recording on (the `trace` flag) and print the set of syscalls the workload really
 * made. The program's own output goes to stderr so that stdout is only the set (`--json > FILE`
 * makes the profile `unikit build --profile FILE` reads).
 */
import { readFile, stat } from 'node:fs/promises';
import { type Image, ImageError, cachedImage, loadVerifiedImage } from '../../image/index.js';
import {
  PROFILE_FORMAT, type SyscallProfile, TraceError, formatProfile, formatProfileJson, nameSyscalls, parseTraceLine,
} from '../../trace/index.js';
import { type KernelFlag, runVm } from '../../vmm/index.js';
import { onePositional, parseArgs } from '../args.js';
import { parseEnvOptions, parseFileSpec } from '../file-spec.js';
import { parseSize } from '../size.js';

export const TRACE_OPTIONS = [
  { name: 'json', kind: 'flag' },
  { name: 'mem', kind: 'value' },
  { name: 'env', kind: 'list' },
  { name: 'file', kind: 'list' },
  { name: 'timeout', kind: 'value' },
] as const;

export async function traceCommand(argv: readonly string[], io: { out: (s: string) => void; stderr: NodeJS.WritableStream; message: (line: string) => void }): Promise<number> {
  const p = parseArgs('trace', argv, TRACE_OPTIONS);
  const target = onePositional('trace', p, 'an image directory or a program: unikit trace <image-dir|elf>');
  const memText = p.values.get('mem');
  const mem = memText === undefined ? undefined : parseSize(memText);
  const env = parseEnvOptions(p.lists.get('env') ?? []);
  const timeout = p.values.get('timeout');

  const st = await stat(target).catch(() => undefined);
  if (!st) throw new ImageError('IMAGE_MISSING_FILE', `${target} does not exist (give an image directory or a program)`);
  let image: Image;
  let programBytes: Buffer | undefined;
  if (st.isDirectory()) {
    image = (await loadVerifiedImage(target)).image;
    // The analysis is of the program as given to `build`: when it is still where it was.
    const host = await readFile(image.manifest.app.host).catch(() => undefined);
    if (host && !image.manifest.fast) programBytes = host;
  } else {
    // The general kernel: a traced run should see every call, not ENOSYS for those outside a set.
    image = await cachedImage({ elf: target, files: (p.lists.get('file') ?? []).map(parseFileSpec), mem });
    programBytes = await readFile(target);
  }
  const m = image.manifest;
  // Recording, not enforcing: a call outside a per-program kernel's set is recorded, and the
  // workload goes on (it gets ENOSYS) instead of stopping at the first one.
  const flags = [...new Set([...(m.security?.flags ?? []), ...(m.flags ?? [])])].filter((f) => f !== 'strict') as KernelFlag[];
  let traced: number[] | undefined;
  const result = await runVm({
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    prog: m.app.path,
    argv: p.rest === undefined ? m.argv : [m.argv[0] ?? m.app.path, ...p.rest],
    env: [...m.env, ...env],
    cwd: m.cwd,
    memory: mem ?? m.memory,
    flags: [...flags, 'trace'],
    timeoutMs: timeout === undefined ? undefined : Number(timeout) * 1000,
    stdout: io.stderr,
    stderr: io.stderr,
    onMessage: io.message,
    onKlog: (line) => {
      traced = parseTraceLine(line) ?? traced;
    },
  });
  if (traced === undefined) {
    throw new TraceError('TRACE_NO_LINE', `the VM ended (status ${result.status}) without the kernel's @trace line: is kernel.elf older than the trace flag? (npm run build)`);
  }
  let missed: SyscallProfile['missedByAnalysis'] = null;
  if (programBytes) {
    const { analyzeElf } = await import('../../analyze/index.js');
    const found = new Set(analyzeElf(programBytes, { name: m.app.name }).syscalls.map((s) => s.number));
    missed = nameSyscalls(traced.filter((n) => !found.has(n)));
  }
  const profile: SyscallProfile = {
    format: PROFILE_FORMAT, program: m.app.name, argv: p.rest === undefined ? m.argv : [m.argv[0] ?? m.app.path, ...p.rest],
    status: result.status, syscalls: nameSyscalls(traced), missedByAnalysis: missed,
  };
  io.out(p.flags.has('json') ? formatProfileJson(profile) : formatProfile(profile));
  return 0;
}
