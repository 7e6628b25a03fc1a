/**
 * Registering image directories: checked with src/image's loader, copied into the daemon's
 * store under a content id (so a rebuilt directory does not change what instances run), and
 * removed only when no instance is made from them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_FILES, ImageError, SIGNATURE_FILE, loadVerifiedImage } from '../image/index.js';
import { AmbiguousError, BadRequestError, FleetError, NotFoundError } from './errors.js';
import type { FleetPaths } from './paths.js';
import type { ImageRow, Store } from './store.js';

export async function registerImage(store: Store, paths: FleetPaths, dir: string, name?: string): Promise<{ image: ImageRow; created: boolean }> {
  let image;
  try {
    // A signed image must verify (and one whose level signs must be signed) before it is kept.
    image = (await loadVerifiedImage(dir)).image;
  } catch (e) {
    if (e instanceof ImageError) throw new BadRequestError('path', e.message);
    throw e;
  }
  const m = image.manifest;
  const id = createHash('sha256')
    .update(JSON.stringify([m.kernel.buildId, m.initrd.sha256, m.app.path, m.argv, m.env, m.cwd, m.memory]))
    .digest('hex').slice(0, 12);
  const existing = store.getImage(id);
  if (existing) return { image: existing, created: false };
  const wanted = name ?? m.app.name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]/, 'i');
  const dest = join(paths.images, id);
  const tmp = join(paths.images, `.${id}.${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    for (const f of Object.values(IMAGE_FILES)) await copyFile(join(image.dir, f), join(tmp, f));
    if (await exists(join(image.dir, SIGNATURE_FILE))) await copyFile(join(image.dir, SIGNATURE_FILE), join(tmp, SIGNATURE_FILE));
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const row: ImageRow = {
    id, name: wanted, dir: dest, app: m.app.name, prog: m.app.path, argv: m.argv, env: m.env, cwd: m.cwd,
    memory: m.memory, kernelSize: m.kernel.size, initrdSize: m.initrd.size, createdAt: Date.now(),
  };
  try {
    store.insertImage(row);
  } catch (e) {
    await rm(dest, { recursive: true, force: true });
    throw e;
  }
  return { image: row, created: true };
}

export function resolveImage(store: Store, ref: string): ImageRow {
  const found = store.findImages(ref);
  if (found.length === 0) throw new NotFoundError('image', ref);
  if (found.length > 1) throw new AmbiguousError('image', ref, found.length);
  return found[0] as ImageRow;
}

export async function removeImage(store: Store, ref: string): Promise<void> {
  const img = resolveImage(store, ref);
  const users = store.imageUsers(img.id);
  if (users.length) {
    const list = users.slice(0, 5).join(', ') + (users.length > 5 ? ', ...' : '');
    throw new FleetError('IN_USE', `image ${img.name} is used by ${list}: remove ${users.length === 1 ? 'that instance' : 'those instances'} first (unikit rm)`);
  }
  store.deleteImage(img.id);
  await rm(img.dir, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
