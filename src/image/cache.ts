/**
 * Images made on the fly for `unikit run <elf>`, kept under $UNIKIT_HOME/images/<key>, where
 * the key hashes everything the image is made of. A second run of the same program with the same
 * files reuses the image instead of packing it again; arguments and environment go on the
 * kernel command line at run time, so callers leave them out of the key by not passing them.
 * The least recently used images beyond CACHE_MAX_IMAGES are removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseElf } from '../elf/index.js';
import { artifacts, unikitHome } from '../project/index.js';
import { type BuildOptions, type Image, buildImage, loadImage } from './build.js';
import { MissingFileError, NoKernelError } from './errors.js';

export type CachedBuildOptions = Omit<BuildOptions, 'outDir'> & { cacheRoot?: string; maxImages?: number };

export const CACHE_MAX_IMAGES = 32;

/** The image for these options: from the cache when present, else built and stored there. */
export async function cachedImage(o: CachedBuildOptions): Promise<Image> {
  const root = o.cacheRoot ?? join(unikitHome(), 'images');
  const key = await cacheKey(o);
  const dir = join(root, key);
  const hit = await loadImage(dir).catch(() => undefined);
  if (hit) {
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined); // recently used: last to be evicted
    return hit;
  }
  // Build beside the final place and rename: two runs racing for one key both end well.
  const tmp = join(root, `.${key}.${randomBytes(4).toString('hex')}`);
  const { cacheRoot: _root, maxImages = CACHE_MAX_IMAGES, ...build } = o;
  try {
    await buildImage({ ...build, outDir: tmp });
    await rename(tmp, dir).catch(async () => {
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await evictOldest(root, maxImages);
  return loadImage(dir);
}

/** Removes the least recently used images beyond `keep` (by directory mtime). */
async function evictOldest(root: string, keep: number): Promise<void> {
  const names = (await readdir(root).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
  if (names.length <= keep) return;
  const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(root, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  aged.sort((a, b) => b.t - a.t);
  for (const { n } of aged.slice(keep)) await rm(join(root, n), { recursive: true, force: true });
}

async function cacheKey(o: CachedBuildOptions): Promise<string> {
  const program = await readFile(o.elf).catch(() => {
    throw new MissingFileError('program', o.elf);
  });
  parseElf(program, o.elf); // a bad program is reported before anything else
  const kernelPath = o.kernel ?? artifacts.kernel();
  const h = createHash('sha256');
  h.update(await readFile(kernelPath).catch(() => {
    throw new NoKernelError(kernelPath);
  }));
  h.update(program);
  const files = [];
  for (const f of o.files ?? []) {
    // Host files are identified by path, size and mtime: hashing whole trees on every run would
    // cost more than packing them.
    const st = await stat(f.host).catch(() => {
      throw new MissingFileError('file', f.host);
    });
    files.push([resolve(f.host), f.guest, st.size, st.mtimeMs, st.mode]);
  }
  const rewriter = o.specialize?.fast ? (await import('../rewrite/index.js')).REWRITE_VERSION : undefined;
  const special = o.specialize && { ...o.specialize, rewriter };
  h.update(JSON.stringify({ files, env: o.env, args: o.args, mem: o.mem, guestPath: o.guestPath, cwd: o.cwd, elf: resolve(o.elf), special }));
  return h.digest('hex').slice(0, 32);
}
