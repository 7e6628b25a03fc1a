/**
 * Images made on the fly for `unikit run <elf>`, kept under $UNIKIT_HOME/images/<key>, where
 * the key hashes everything the image is made of. A second run of the same program with the same
 * options reuses the image instead of packing it again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseElf } from '../elf/index.js';
import { artifacts, unikitHome } from '../project/index.js';
import { type BuildOptions, type Image, buildImage, loadImage } from './build.js';
import { MissingFileError, NoKernelError } from './errors.js';

export type CachedBuildOptions = Omit<BuildOptions, 'outDir'> & { cacheRoot?: string };

/** The image for these options: from the cache when present, else built and stored there. */
export async function cachedImage(o: CachedBuildOptions): Promise<Image> {
  const root = o.cacheRoot ?? join(unikitHome(), 'images');
  const key = await cacheKey(o);
  const dir = join(root, key);
  const hit = await loadImage(dir).catch(() => undefined);
  if (hit) return hit;
  // Build beside the final place and rename: two runs racing for one key both end well.
  const tmp = join(root, `.${key}.${randomBytes(4).toString('hex')}`);
  const { cacheRoot: _unused, ...build } = o;
  try {
    await buildImage({ ...build, outDir: tmp });
    await rename(tmp, dir).catch(async () => {
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return loadImage(dir);
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
  h.update(JSON.stringify({ files, env: o.env, args: o.args, mem: o.mem, guestPath: o.guestPath, cwd: o.cwd, elf: resolve(o.elf) }));
  return h.digest('hex').slice(0, 32);
}
