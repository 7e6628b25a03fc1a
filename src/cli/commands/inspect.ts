/**
 * `unikit inspect <image-dir> [--json]`: what an image holds, for people or for programs. A unikit
 * image shows its manifest.json; a Linux microVM image (`build --kernel linux`) its linux.json.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Image, type LinuxImage, type Manifest, ImageError, formatBytes, loadImage, loadLinuxImage, readSignature, verifyImage,
} from '../../image/index.js';
import { describeNetworkPolicy } from '../../security/index.js';
import { onePositional, parseArgs } from '../args.js';

export async function inspectCommand(argv: readonly string[], io: { out: (s: string) => void }): Promise<number> {
  const p = parseArgs('inspect', argv, [{ name: 'json', kind: 'flag' }]);
  const dir = onePositional('inspect', p, 'an image directory: unikit inspect <image-dir>');
  const linux = loadLinuxImage(dir);
  if (linux) {
    io.out(p.flags.has('json') ? JSON.stringify(await linuxRecord(linux), null, 2) + '\n' : await describeLinux(linux));
    return 0;
  }
  const image = await loadImage(dir);
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

/** What linux.json records, as written (loadLinuxImage checked it), and the sizes of the two files. */
async function linuxRecord(image: LinuxImage): Promise<Record<string, unknown>> {
  const record = JSON.parse(await readFile(join(image.dir, 'linux.json'), 'utf8')) as Record<string, unknown>;
  return { ...record, sizes: { vmlinuz: (await stat(image.vmlinuz)).size, initramfs: (await stat(image.initrd)).size } };
}

async function describeLinux(image: LinuxImage): Promise<string> {
  const r = await linuxRecord(image);
  const sizes = r['sizes'] as { vmlinuz: number; initramfs: number };
  const modules = Array.isArray(r['modules']) ? (r['modules'] as unknown[]).map(String) : [];
  const q = (s: string): string => (/^[\w./:=,+-]+$/.test(s) ? s : JSON.stringify(s));
  const lines = [
    `linux     a Linux microVM image (unikit build --kernel linux), format ${String(r['format'])}`,
    `program   ${image.argv[0] ?? '?'} (PID 1)`,
    `argv      ${image.argv.map(q).join(' ')}`,
    `env       ${image.env.length ? image.env.map(q).join(' ') : '(none)'}`,
    `kernel    ${image.kernelPackage}, vmlinuz ${formatBytes(sizes.vmlinuz)}`,
    `modules   ${modules.length ? modules.join(' ') : '(none)'}`,
    `libraries ${image.libraries.length ? `${image.libraries.length} packed from the host` : '(none: a static program)'}`,
    ...image.libraries.map((l) => `          ${l}`),
    `initramfs ${formatBytes(sizes.initramfs)} (busybox, modules, libraries, the program, /init)`,
    `total     ${formatBytes(sizes.vmlinuz + sizes.initramfs)}`,
  ];
  return lines.join('\n') + '\n';
}
