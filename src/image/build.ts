/**
 * Building an image directory (kernel.elf, initrd.cpio, manifest.json) from a program and its
 * files, and loading one back. Every check that can be done without a VM is done here, before
 * anything is written.
 */
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UNIKIT_ABI } from '../abi/index.js';
import { elfLoadFootprint, parseElf } from '../elf/index.js';
import { artifacts } from '../project/index.js';
import { writeCpio } from './cpio.js';
import { ImageError, MissingFileError, NoKernelError } from './errors.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestNetwork, type ManifestSecurity, validateManifest } from './manifest.js';
import { DEFAULT_MEMORY, checkMemory } from './memory.js';
import { type FileSpec, RootFs, normalizeGuestPath, sha256 } from './rootfs.js';
import { type SpecializeOptions, specializeProgram } from './specialize.js';
import { elfTextSize } from './kernel.js';

export interface BuildOptions {
  /** The program: a static x86-64 ELF on the host. */
  elf: string;
  files?: FileSpec[];
  /** "KEY=VALUE" entries, in order. */
  env?: string[];
  /** argv[1..]; argv[0] is the program's path in the image. */
  args?: string[];
  /** Guest RAM in bytes (DEFAULT_MEMORY when absent). */
  mem?: number;
  outDir: string;
  /** Where the program goes in the image; "/<basename>" by default. */
  guestPath?: string;
  cwd?: string;
  /** The guest kernel to pack; kernel/build/kernel.elf by default. */
  kernel?: string;
  /** The security level's record for the manifest (sign the image after with signImage). */
  security?: ManifestSecurity;
  /** Per-program kernel, strict and fast mode (specialize.ts); none of them by default. */
  specialize?: SpecializeOptions;
  /** The network to record for `unikit run` (none recorded by default). */
  network?: ManifestNetwork;
}

export interface Image {
  dir: string;
  manifest: Manifest;
  kernelPath: string;
  initrdPath: string;
}

export const IMAGE_FILES = { kernel: 'kernel.elf', initrd: 'initrd.cpio', manifest: 'manifest.json' } as const;

export async function buildImage(o: BuildOptions): Promise<Image> {
  // The program first: its problems are the user's, a missing kernel is the checkout's.
  const appBytes = await readFile(o.elf).catch(() => {
    throw new MissingFileError('program', o.elf);
  });
  const program = parseElf(appBytes, o.elf);
  const env = o.env ?? [];
  for (const e of env) checkEnvEntry(e);
  const general = o.kernel ?? artifacts.kernel();
  await stat(general).catch(() => {
    throw new NoKernelError(general);
  });
  const special = await specializeProgram(appBytes, basename(o.elf), o.specialize ?? {});
  const kernelPath = special.kernelPath ?? general;
  // A rewritten program has one more segment: its span is what the guest loads.
  const span = special.program === appBytes ? program.span : parseElf(special.program, o.elf).span;
  const kernel = await readFile(kernelPath).catch(() => {
    throw new NoKernelError(kernelPath);
  });

  const guestPath = '/' + normalizeGuestPath(o.guestPath ?? basename(o.elf));
  const rootfs = new RootFs();
  const appStat = await stat(o.elf);
  rootfs.addBuffer(guestPath, o.elf, special.program, appStat.mode, Math.floor(appStat.mtimeMs / 1000));
  for (const f of o.files ?? []) await rootfs.add(f);
  const initrd = writeCpio(rootfs.toEntries());

  const mem = o.mem ?? DEFAULT_MEMORY;
  const kernelFootprint = Math.max(elfLoadFootprint(kernel) ?? 0, kernel.length);
  checkMemory({ kernel: kernelFootprint, initrd: initrd.length, program: span.size }, mem, basename(o.elf));

  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    abi: UNIKIT_ABI.ABI_VERSION,
    app: {
      name: basename(o.elf),
      path: guestPath,
      host: resolve(o.elf),
      sha256: sha256(appBytes),
      size: appBytes.length,
      kind: program.kind,
      memorySpan: span.size,
    },
    argv: [guestPath, ...(o.args ?? [])],
    env,
    cwd: o.cwd ?? '/',
    memory: mem,
    files: rootfs.packed,
    kernel: {
      buildId: sha256(kernel), size: kernel.length, footprint: kernelFootprint, textSize: elfTextSize(kernel),
      kind: special.kernelPath ? 'program' : 'general',
    },
    initrd: { size: initrd.length, sha256: sha256(initrd) },
    created: new Date().toISOString(),
    ...(o.security ? { security: o.security } : {}),
    ...(o.network ? { network: o.network } : {}),
    ...special.manifest,
  };

  await mkdir(o.outDir, { recursive: true });
  await copyFile(kernelPath, join(o.outDir, IMAGE_FILES.kernel));
  await writeFile(join(o.outDir, IMAGE_FILES.initrd), initrd);
  // The manifest goes last and by rename: a directory with a manifest is a complete image.
  const manifestPath = join(o.outDir, IMAGE_FILES.manifest);
  await writeFile(manifestPath + '.tmp', JSON.stringify(manifest, null, 2) + '\n');
  await rename(manifestPath + '.tmp', manifestPath);
  return imageAt(o.outDir, manifest);
}

/** Reads an image directory back; throws ImageError when it is not one. */
export async function loadImage(dir: string): Promise<Image> {
  const manifestPath = join(dir, IMAGE_FILES.manifest);
  const text = await readFile(manifestPath, 'utf8').catch(() => {
    throw new ImageError('IMAGE_NOT_AN_IMAGE', `${dir} is not an image directory (it has no ${IMAGE_FILES.manifest}); make one with \`unikit build\``);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ImageError('IMAGE_BAD_MANIFEST', `${manifestPath} is not valid JSON: ${(e as Error).message}`);
  }
  const image = imageAt(dir, validateManifest(parsed, manifestPath));
  for (const [what, path] of [['kernel', image.kernelPath], ['initrd', image.initrdPath]] as const) {
    await stat(path).catch(() => {
      throw new ImageError('IMAGE_NOT_AN_IMAGE', `${dir} is an incomplete image: its ${what} ${path} is missing`);
    });
  }
  return image;
}

/** True when `path` is a directory: `run` treats it as an image (loadImage then says if it is not one). */
export async function isImageDir(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && st.isDirectory();
}

function imageAt(dir: string, manifest: Manifest): Image {
  return {
    dir: resolve(dir),
    manifest,
    kernelPath: resolve(dir, IMAGE_FILES.kernel),
    initrdPath: resolve(dir, IMAGE_FILES.initrd),
  };
}

/** "KEY=VALUE", KEY non-empty and without "=". */
export function checkEnvEntry(entry: string): void {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new ImageError('IMAGE_BAD_ENV', `bad environment entry ${JSON.stringify(entry)}: write KEY=VALUE`);
}
