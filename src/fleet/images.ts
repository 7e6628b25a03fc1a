/**
 * Registering image directories: checked with src/image's loader (a signed image must verify; with
 * --require-signed an unsigned one is refused), copied into the daemon's store under a content id
 * of the tenant's (so a rebuilt directory does not change what instances run), and removed only
 * when no instance is made from them. Each registration and each refusal for a signature is an
 * audit row.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_FILES, ImageError, SIGNATURE_FILE, loadVerifiedImage } from '../image/index.js';
import { appendAudit } from './audit.js';
import { AmbiguousError, BadRequestError, FleetError, NotFoundError } from './errors.js';
import type { FleetPaths } from './paths.js';
import { trustedKeysFor } from './trust.js';
import { DEFAULT_TENANT, type ImageRow, type Store } from './store.js';

export interface RegisterOptions {
  tenant: string;
  name?: string;
  /** For the audit log. */
  actor: string;
  /** The host policy "signed images only". */
  requireSigned?: boolean;
}

/** The refusal of an image without a signature under the host policy "signed images only". */
export function unsignedRefusal(what: string): FleetError {
  return new FleetError('UNSIGNED_IMAGE', `${what} is not signed and this unikitd runs signed images only (--require-signed): build it with \`unikit build --level medium\` (or higher), which signs it`, 'path');
}

export async function registerImage(store: Store, paths: FleetPaths, dir: string, o: RegisterOptions): Promise<{ image: ImageRow; created: boolean }> {
  const refuse = (reason: string, message: string): void => {
    appendAudit(store, { tenant: o.tenant, actor: o.actor, kind: 'image.refused', subject: o.name ?? dir, detail: { path: dir, reason, message } });
  };
  let loaded;
  try {
    // A signed image must verify (and one whose level signs must be signed) before it is kept.
    loaded = await loadVerifiedImage(dir, await trustedKeysFor(paths, o.tenant));
  } catch (e) {
    if (e instanceof ImageError) {
      if (e.code === 'IMAGE_BAD_SIGNATURE' || e.code === 'IMAGE_UNSIGNED') refuse(e.code === 'IMAGE_UNSIGNED' ? 'unsigned' : 'bad-signature', e.message);
      throw new BadRequestError('path', e.message);
    }
    throw e;
  }
  const { image, signature } = loaded;
  if (o.requireSigned && !signature) {
    const err = unsignedRefusal(`image ${image.dir}`);
    refuse('unsigned', err.message);
    throw err;
  }
  const m = image.manifest;
  const content: unknown[] = [m.kernel.buildId, m.initrd.sha256, m.app.path, m.argv, m.env, m.cwd, m.memory];
  // The level's kernel flags are in the manifest only: two levels of one program are two images.
  if (m.security) content.push(m.security);
  // Each tenant has its own copy (and id); `default` keeps the ids of the days before tenants.
  if (o.tenant !== DEFAULT_TENANT) content.push(o.tenant);
  const id = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 12);
  const existing = store.getImage(id);
  if (existing && existing.tenant === o.tenant) return { image: existing, created: false };
  if (existing) throw new FleetError('CONFLICT', `image id ${id} is taken`); // a 48-bit collision: not expected
  const wanted = o.name ?? m.app.name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]/, 'i');
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
    id, tenant: o.tenant, name: wanted, dir: dest, app: m.app.name, prog: m.app.path, argv: m.argv, env: m.env, cwd: m.cwd,
    memory: m.memory, kernelSize: m.kernel.size, initrdSize: m.initrd.size, level: m.security?.level ?? null,
    signed: signature !== undefined, createdAt: Date.now(),
  };
  try {
    store.insertImage(row);
  } catch (e) {
    await rm(dest, { recursive: true, force: true });
    throw e;
  }
  appendAudit(store, {
    tenant: o.tenant, actor: o.actor, kind: 'image.registered', subject: wanted,
    detail: {
      id, app: m.app.name, level: m.security?.level ?? null, flags: [...(m.security?.flags ?? []), ...(m.flags ?? [])],
      mechanisms: m.security?.mechanisms ?? null, signed: signature !== undefined, keyId: signature?.keyId ?? null,
    },
  });
  return { image: row, created: true };
}

/** One of the tenant's images by name, id or id prefix; another tenant's is "not found". */
export function resolveImage(store: Store, tenant: string, ref: string): ImageRow {
  const found = store.findImages(tenant, ref);
  if (found.length === 0) throw new NotFoundError('image', ref);
  if (found.length > 1) throw new AmbiguousError('image', ref, found.length);
  return found[0] as ImageRow;
}

export async function removeImage(store: Store, tenant: string, ref: string): Promise<void> {
  const img = resolveImage(store, tenant, ref);
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
