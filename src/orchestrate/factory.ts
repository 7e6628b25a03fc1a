/**
 * The image factory: the hardened image of a service at a level for a tenant (program x level x
 * tenant key), built when missing, cached by a content hash of everything that goes into it,
 * signed with the tenant's own key and registered in unikitd. A cache hit builds nothing. A build
 * happens in a private temporary directory that is removed whatever happens, and unikitd copies
 * the finished image in by rename, so a failure leaves no half-built image behind.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type FleetPaths, type ImageRow, type Store, registerImage, tenantKeysDir } from '../fleet/index.js';
import { type FileSpec, type SigningKey, buildImage, kernelSourceFingerprint, signImage, signingKey } from '../image/index.js';
import { type Level, type Overrides, type SecurityPlan, SecurityError, planSecurity } from '../security/index.js';
import type { UnikernelService } from '../tosca/index.js';
import type { DeploymentStore } from './store.js';

/** Bumped when what the factory puts into an image changes, so old cache entries stop matching. */
const FACTORY_FORMAT = 1;

export interface FactoryImage {
  image: ImageRow;
  plan: SecurityPlan;
  /** True when it came from the cache (nothing was built). */
  cached: boolean;
  /** The content hash the cache knows it by. */
  hash: string;
  keyId: string;
  /** Milliseconds spent building and registering (0 for a cache hit). */
  buildMs: number;
}

export interface FactoryContext {
  store: Store;
  deployments: DeploymentStore;
  paths: FleetPaths;
}

/** Where builds happen, each in a directory of its own that goes when the build ends. */
export function factoryScratch(paths: Pick<FleetPaths, 'root'>): string {
  return join(paths.root, 'factory');
}

/**
 * The tenant's image-signing key, made on first use in $UNIKIT_HOME/tenants/<tenant>/keys/
 * (src/fleet's tenantKeysDir): unikitd trusts it for that tenant's images only.
 */
export async function tenantKey(paths: Pick<FleetPaths, 'home'>, tenant: string): Promise<SigningKey> {
  return signingKey(dirname(tenantKeysDir(paths, tenant)));
}

/**
 * The plan of `service` at `level`: its own plan at its own level; at another level (an event
 * raised it), the same overrides where the new level allows them. A weakening the new level
 * refuses is dropped, since a raise must never keep a mechanism off that the level turns on.
 */
export function planAt(service: UnikernelService, level: Level): SecurityPlan {
  if (level === service.security.level) return service.security;
  const overrides: Overrides = {};
  for (const m of service.security.strengthened) overrides[m] = true;
  for (const m of service.security.weakened) overrides[m] = false;
  try {
    return planSecurity(level, overrides);
  } catch (e) {
    if (!(e instanceof SecurityError)) throw e;
    const kept: Overrides = {};
    for (const m of service.security.strengthened) kept[m] = true;
    return planSecurity(level, kept);
  }
}

/** HOST:GUEST as src/tosca writes it (host absolute, split at the first colon); GUEST defaults to /<basename>. */
export function fileSpec(text: string): FileSpec {
  const colon = text.indexOf(':');
  const host = colon >= 0 ? text.slice(0, colon) : text;
  return { host, guest: colon >= 0 ? text.slice(colon + 1) : '/' + basename(host) };
}

/** sha256 over a file's, a symlink's or a directory tree's names and bytes. */
async function hashTree(path: string, h: ReturnType<typeof createHash>): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) h.update(`l ${await readlink(path)}\0`);
  else if (st.isDirectory()) {
    h.update('d\0');
    for (const name of (await readdir(path)).sort()) {
      h.update(`${name}\0`);
      await hashTree(join(path, name), h);
    }
  } else h.update(`f ${st.mode & 0o777} ${st.size}\0`).update(await readFile(path));
}

/** The content hash of the image `service` at `plan` signed by `keyId`: what the cache is keyed by. */
export async function imageHash(service: UnikernelService, plan: SecurityPlan, keyId: string): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({
    format: FACTORY_FORMAT, args: service.args, env: service.env, memory: service.memory,
    level: plan.level, mechanisms: plan.mechanisms, flags: plan.flags, build: plan.build,
    kernel: kernelSourceFingerprint(), keyId,
  }));
  h.update('\0program\0').update(await readFile(service.binary));
  for (const f of service.files.map(fileSpec)) {
    h.update(`\0file ${f.guest}\0`);
    await hashTree(f.host, h);
  }
  return h.digest('hex');
}

/**
 * The registered, signed image of `service` at `level` for `tenant`: from the cache when an
 * image with the same content hash is still registered, else built now.
 */
export async function imageFor(ctx: FactoryContext, service: UnikernelService, level: Level, tenant: string): Promise<FactoryImage> {
  const plan = planAt(service, level);
  const key = await tenantKey(ctx.paths, tenant);
  const hash = await imageHash(service, plan, key.keyId);
  const hit = ctx.deployments.cached(hash);
  const found = hit && ctx.store.getImage(hit.imageId);
  const registered = found && found.tenant === tenant ? found : undefined;
  if (registered) return { image: registered, plan, cached: true, hash, keyId: key.keyId, buildMs: 0 };
  if (hit) ctx.deployments.forgetCached(hash); // removed with `unikit images rm` since

  const started = performance.now();
  const scratch = factoryScratch(ctx.paths);
  await mkdir(scratch, { recursive: true });
  const tmp = await mkdtemp(join(scratch, `${service.name}-`));
  try {
    const outDir = join(tmp, 'image');
    const built = await buildImage({
      elf: service.binary,
      outDir,
      files: service.files.map(fileSpec),
      env: service.env,
      args: service.args,
      mem: service.memory,
      security: { level: plan.level, flags: plan.flags, mechanisms: plan.mechanisms, signed: plan.build.sign },
      specialize: { perProgramKernel: true, strict: plan.build.syscallAllowlist, fast: plan.build.fast },
    });
    // Every image the factory makes is signed, whatever the level: the tenant's key says whose it is.
    await signImage(built.dir, key);
    const name = `${basename(service.binary).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]/, 'i')}-${plan.level}-${hash.slice(0, 10)}`;
    const { image } = await registerImage(ctx.store, ctx.paths, built.dir, { tenant, name, actor: 'orchestrator' });
    ctx.deployments.putCached({ hash, tenant, imageId: image.id, level: plan.level, createdAt: Date.now() });
    return { image, plan, cached: false, hash, keyId: key.keyId, buildMs: performance.now() - started };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
