/** `unikit inspect <image-dir> [--json]`: what an image holds, for people or for programs. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Image, type Manifest, ImageError, formatBytes, loadImage, readSignature, verifyImage } from '../../image/index.js';
import { describeNetworkPolicy } from '../../security/index.js';
import { onePositional, parseArgs } from '../args.js';

export async function inspectCommand(argv: readonly string[], io: { out: (s: string) => void }): Promise<number> {
  const p = parseArgs('inspect', argv, [{ name: 'json', kind: 'flag' }]);
  const image = await loadImage(onePositional('inspect', p, 'an image directory: unikit inspect <image-dir>'));
  if (p.flags.has('json')) {
    io.out(JSON.stringify(image.manifest, null, 2) + '\n');
    return 0;
  }
  io.out(describe(image.manifest, await integrity(image), await signatureLine(image)));
  return 0;
}

/** "ed25519 by key K, verified" or why it does not verify, or "none". */
async function signatureLine(image: Image): Promise<string> {
  const sig = await readSignature(image.dir).catch(() => undefined);
  if (!sig) return image.manifest.security?.signed ? 'MISSING (the level signs images: run refuses this one)' : 'none';
  try {
    const v = await verifyImage(image);
    return `ed25519 by key ${v?.keyId ?? sig.keyId}, verified (signed ${sig.signed})`;
  } catch (e) {
    if (e instanceof ImageError) return `BAD: ${e.message}`;
    throw e;
  }
}

async function integrity(image: Image): Promise<string[]> {
  const problems: string[] = [];
  const sha = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');
  if ((await sha(image.kernelPath)) !== image.manifest.kernel.buildId) problems.push('kernel.elf does not match the manifest\'s build id');
  if ((await sha(image.initrdPath)) !== image.manifest.initrd.sha256) problems.push('initrd.cpio does not match the manifest\'s sha256');
  return problems;
}

function describe(m: Manifest, problems: string[], signature: string): string {
  const q = (s: string): string => (/^[\w./:=,+-]+$/.test(s) ? s : JSON.stringify(s));
  const lines = [
    `app       ${m.app.name} (${m.app.kind}) at ${m.app.path}, ${formatBytes(m.app.size)}, needs ${formatBytes(m.app.memorySpan)} of memory`,
    `          sha256 ${m.app.sha256}`,
    `argv      ${m.argv.map(q).join(' ')}`,
    `env       ${m.env.length ? m.env.map(q).join(' ') : '(none)'}`,
    `cwd       ${m.cwd}`,
    `memory    ${formatBytes(m.memory)}`,
    `kernel    ${formatBytes(m.kernel.size)}, build id ${m.kernel.buildId}`,
    ...(m.syscalls ? [
      `syscalls  the kernel is built for ${m.syscalls.set.length} (config sha256 ${m.syscalls.configHash.slice(0, 16)}...): ${m.syscalls.set.join(' ')}`,
      ...(m.syscalls.traced.length ? [`          added by a traced profile: ${m.syscalls.traced.join(' ')}`] : []),
      ...(m.syscalls.lacking.length ? [`          lacking (packed with --force; ENOSYS if reached): ${m.syscalls.lacking.join(' ')}`] : []),
      ...(m.syscalls.unresolvedSites ? [`          ${m.syscalls.unresolvedSites} sites not resolved statically`] : []),
    ] : []),
    ...(m.flags?.length ? [`flags     ${m.flags.join(' ')}`] : []),
    ...(m.fast ? [
      `fast      ${m.fast.rewritten} of ${m.fast.sites} syscall sites rewritten into direct calls (${m.fast.pairs} mov eax,imm32;syscall pairs)`,
      ...m.fast.kept.map((k) => `          kept trapping: ${k.address}: ${k.reason}`),
    ] : []),
    ...(m.network?.policy ? [`network   policy: ${describeNetworkPolicy(m.network.policy)} (enforced by the kernel)`] : []),
    ...(m.security ? [`security  level ${m.security.level}: ${Object.entries(m.security.mechanisms).map(([k, on]) => `${k} ${on ? 'on' : 'off'}`).join(', ')}`] : []),
    `signature ${signature}`,
    `initrd    ${formatBytes(m.initrd.size)}, sha256 ${m.initrd.sha256}`,
    `files     ${m.files.length ? String(m.files.length) : '(none besides the program)'}`,
    ...m.files.map((f) => `          ${f.guest}  ${f.mode}  ${formatBytes(f.size)}  sha256 ${f.sha256}  from ${f.host}`),
    `created   ${m.created}  (manifest format ${m.format}, guest ABI ${m.abi})`,
    ...problems.map((p) => `WARNING   ${p}`),
  ];
  return lines.join('\n') + '\n';
}
