/**
 * `unikit build <elf> ...`: make an image directory with a kernel built for the program's
 * syscalls (`--general` packs the general one); `--fast` rewrites its syscall sites; `--level`
 * hardens and signs it.
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { type Manifest, type ManifestSecurity, buildImage, buildLinuxImage, formatBytes, signImage, signingKey } from '../../image/index.js';
import { readProfile } from '../../trace/index.js';
import { type ParsedArgs, onePositional, parseArgs } from '../args.js';
import { parseEnvOptions, parseFileSpec } from '../file-spec.js';
import { NETWORK_OPTIONS, manifestNetwork, networkFromOptions, policyFromOptions } from '../network-options.js';
import { planSecurityOptions } from '../security-options.js';
import { parseSize } from '../size.js';
import { UsageError } from '../usage.js';

export const BUILD_OPTIONS = [
  { name: 'file', kind: 'list' },
  { name: 'env', kind: 'list' },
  { name: 'mem', kind: 'value' },
  { name: 'out', short: 'o', kind: 'value' },
  { name: 'cwd', kind: 'value' },
  { name: 'level', kind: 'value' },
  { name: 'override', kind: 'list' },
  { name: 'general', kind: 'flag' },
  { name: 'strict', kind: 'flag' },
  { name: 'force', kind: 'flag' },
  { name: 'fast', kind: 'flag' },
  { name: 'profile', kind: 'value' },
  { name: 'kernel', kind: 'value' },
  ...NETWORK_OPTIONS,
] as const;

export async function buildCommand(argv: readonly string[], io: { out: (s: string) => void; message?: (line: string) => void }): Promise<number> {
  const p = parseArgs('build', argv, BUILD_OPTIONS);
  const elf = onePositional('build', p, 'the program to pack: unikit build <elf>');
  const mem = p.values.get('mem');
  const outDir = resolve(p.values.get('out') ?? `${basename(elf)}.unikit`);
  const kernel = p.values.get('kernel') ?? 'unikit';
  if (kernel === 'linux') return buildLinuxCommand(elf, outDir, p, io);
  if (kernel !== 'unikit') throw new UsageError(`--kernel ${JSON.stringify(kernel)}: use unikit (the default) or linux`);
  const network = networkFromOptions(p.values.get('net'), p.lists.get('publish') ?? [], 'microvm');
  const policy = policyFromOptions(p.lists.get('listen') ?? [], p.lists.get('egress') ?? []);
  const plan = planSecurityOptions(p.values.get('level'), p.lists.get('override') ?? []);
  const security: ManifestSecurity | undefined = plan && {
    level: plan.level, flags: plan.flags, mechanisms: plan.mechanisms, signed: plan.build.sign,
  };
  const profileFile = p.values.get('profile');
  const profile = profileFile === undefined ? undefined : readProfile(await readFile(profileFile, 'utf8'), profileFile);
  // UNIKIT_KERNEL names a kernel to pack as it is: nothing to specialize.
  const general = p.flags.has('general') || process.env.UNIKIT_KERNEL !== undefined;
  if (general && plan?.build.syscallAllowlist) {
    throw new UsageError(`level ${plan.level} enforces the syscall allowlist, which needs a per-program kernel: drop --general (or --override syscalls=off)`);
  }
  if (general && (p.flags.has('strict') || profileFile !== undefined)) {
    throw new UsageError(`${p.flags.has('strict') ? '--strict' : '--profile'} needs a per-program kernel: drop --general`);
  }
  const image = await buildImage({
    elf,
    outDir,
    files: (p.lists.get('file') ?? []).map(parseFileSpec),
    env: parseEnvOptions(p.lists.get('env') ?? []),
    args: p.rest ?? [],
    mem: mem === undefined ? undefined : parseSize(mem),
    cwd: p.values.get('cwd'),
    security,
    ...(network || policy ? { network: manifestNetwork(network, policy) } : {}),
    specialize: {
      perProgramKernel: !general,
      profile,
      force: p.flags.has('force'),
      strict: p.flags.has('strict'),
      fast: p.flags.has('fast') || plan?.build.fast === true,
    },
  });
  const m = image.manifest;
  let extra = '';
  if (plan) {
    extra = `, level ${plan.level} (flags: ${plan.flags.join(' ') || 'none'})`;
    if (plan.build.sign) extra += `, signed by key ${(await signImage(image.dir, await signingKey())).keyId}`;
  }
  for (const line of warnings(m)) io.message?.(`unikit: warning: ${line}`);
  io.out(`built ${image.dir}: ${m.app.name} (${m.app.kind}), kernel ${formatBytes(m.kernel.size)}${kernelNote(m)}, initrd ${formatBytes(m.initrd.size)}, memory ${formatBytes(m.memory)}${fastNote(m)}${extra}\n`);
  return 0;
}

function kernelNote(m: Manifest): string {
  return m.syscalls ? ` (built for its ${m.syscalls.set.length} syscalls${m.flags?.includes('strict') || m.security?.flags.includes('strict') ? ', strict' : ''})` : ' (general)';
}

function fastNote(m: Manifest): string {
  return m.fast ? `, fast mode: ${m.fast.rewritten} of ${m.fast.sites} syscall sites rewritten` : '';
}

/** What the user should know about what was packed. */
function warnings(m: Manifest): string[] {
  const out: string[] = [];
  if (m.syscalls && m.syscalls.lacking.length > 0) {
    out.push(`packed with --force: ${m.syscalls.lacking.join(', ')} will fail with ENOSYS if reached`);
  }
  if (m.syscalls && m.syscalls.unresolvedSites > 0) {
    out.push(`${m.syscalls.unresolvedSites} syscall site${m.syscalls.unresolvedSites === 1 ? '' : 's'} of ${m.app.name} could not be resolved: ` +
      'a call outside the analyzed set fails (or stops the VM with --strict); `unikit trace` a workload and build with --profile');
  }
  if (m.fast && m.fast.kept.length > 0) {
    out.push(`fast mode: ${m.fast.kept.length} syscall site${m.fast.kept.length === 1 ? '' : 's'} keep trapping (\`unikit inspect\` says why)`);
  }
  return out;
}

/**
 * --kernel linux: the program in an initramfs for Debian's cloud kernel (src/image/linux.ts), its
 * interpreter and libraries packed from the host when it is dynamically linked; for programs the
 * unikernel cannot run and for comparison with it (unikit bench). `unikit run` boots it.
 */
async function buildLinuxCommand(elf: string, outDir: string, p: ParsedArgs, io: { out: (s: string) => void }): Promise<number> {
  const unikernelOnly = ['level', 'override', 'profile', 'cwd', 'net', 'publish', 'mem', 'listen', 'egress'].filter((o) => p.values.has(o) || p.lists.has(o));
  const flags = ['general', 'strict', 'force', 'fast'].filter((f) => p.flags.has(f));
  const refused = [...unikernelOnly, ...flags];
  if (refused.length) throw new UsageError(`--kernel linux does not take --${refused.join(', --')}: those shape the unikernel image (give --mem, --net and -p to unikit run)`);
  const image = await buildLinuxImage({
    elf, outDir, args: p.rest ?? [], env: parseEnvOptions(p.lists.get('env') ?? []), files: (p.lists.get('file') ?? []).map(parseFileSpec),
  });
  const libs = image.libraries.length ? `, with ${image.libraries.length} librar${image.libraries.length === 1 ? 'y' : 'ies'} from the host` : '';
  io.out(`built ${image.dir}: ${basename(elf)} in ${image.kernelPackage}'s initramfs${libs}, ${formatBytes(image.bytes)} (vmlinuz + initramfs); run it with unikit run ${image.dir}\n`);
  return 0;
}
