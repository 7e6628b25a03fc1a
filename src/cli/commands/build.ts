/** `unikit build <elf> ...`: make an image directory; `--level` hardens and signs it. */
import { basename, resolve } from 'node:path';
import { type ManifestSecurity, buildImage, formatBytes, signImage, signingKey } from '../../image/index.js';
import { onePositional, parseArgs } from '../args.js';
import { parseEnvOptions, parseFileSpec } from '../file-spec.js';
import { planSecurityOptions } from '../security-options.js';
import { parseSize } from '../size.js';

export const BUILD_OPTIONS = [
  { name: 'file', kind: 'list' },
  { name: 'env', kind: 'list' },
  { name: 'mem', kind: 'value' },
  { name: 'out', short: 'o', kind: 'value' },
  { name: 'cwd', kind: 'value' },
  { name: 'level', kind: 'value' },
  { name: 'override', kind: 'list' },
] as const;

export async function buildCommand(argv: readonly string[], io: { out: (s: string) => void; message?: (line: string) => void }): Promise<number> {
  const p = parseArgs('build', argv, BUILD_OPTIONS);
  const elf = onePositional('build', p, 'the program to pack: unikit build <elf>');
  const mem = p.values.get('mem');
  const outDir = resolve(p.values.get('out') ?? `${basename(elf)}.unikit`);
  const plan = planSecurityOptions(p.values.get('level'), p.lists.get('override') ?? []);
  const security: ManifestSecurity | undefined = plan && {
    level: plan.level, flags: plan.flags, mechanisms: plan.mechanisms, signed: plan.build.sign,
  };
  const image = await buildImage({
    elf,
    outDir,
    files: (p.lists.get('file') ?? []).map(parseFileSpec),
    env: parseEnvOptions(p.lists.get('env') ?? []),
    args: p.rest ?? [],
    mem: mem === undefined ? undefined : parseSize(mem),
    cwd: p.values.get('cwd'),
    security,
  });
  const m = image.manifest;
  let extra = '';
  if (plan) {
    extra = `, level ${plan.level} (flags: ${plan.flags.join(' ') || 'none'})`;
    if (plan.build.sign) extra += `, signed by key ${(await signImage(image.dir, await signingKey())).keyId}`;
    if (plan.build.syscallAllowlist) {
      // The strict flag only bites in a per-program kernel (docs/security.md): until `unikit build`
      // makes one, say that the allowlist is not in force rather than pretend.
      io.message?.('unikit: warning: this unikit cannot build per-program kernels yet: the syscall allowlist of this level is not enforced (the general kernel has every syscall)');
    }
  }
  io.out(`built ${image.dir}: ${m.app.name} (${m.app.kind}), kernel ${formatBytes(m.kernel.size)}, initrd ${formatBytes(m.initrd.size)}, memory ${formatBytes(m.memory)}${extra}\n`);
  return 0;
}
