/**
 * Rolling replacement of a service's instances by instances of another image (a new security
 * level): the image first, then one instance at a time: boot a new one, wait until its port
 * accepts, put it in the front, drain the old one out of the front, stop it. The service keeps
 * its instance count throughout, plus one while a new instance boots.
 *
 * When the new image fails to build, or a new instance fails to boot or to get ready, the
 * rollout stops there: that instance is stopped, the instances already replaced are replaced
 * back by ones of the old image, the old ones are kept, and the failure is recorded.
 *
 * The steps that touch the deployment (build, boot, stop) are the caller's: this module is the
 * order and the readiness check, so it runs the same against unikitd's runtime and in tests.
 */
import { createConnection } from 'node:net';
import type { Level } from '../security/index.js';
import { FleetError } from '../fleet/errors.js';
import type { Backend, Front } from './front.js';

/** What a rollout asks of the deployment it works on. */
export interface RolloutSteps {
  /** The service's image at `level`, built or taken from the cache; resolves with its image id. */
  build(level: Level): Promise<string>;
  /**
   * Boots one more instance of the service from the image and resolves once it runs the program,
   * with where the host reaches its port. A boot that fails leaves nothing behind.
   */
  boot(imageId: string): Promise<Backend>;
  /** Stops the instance and removes it from the service. */
  stop(id: string): Promise<void>;
}

export interface RolloutRequest {
  front: Front;
  /** The service's instances now, all in the front. */
  instances: Backend[];
  /** The image they run. */
  fromImage: string;
  to: Level;
  steps: RolloutSteps;
  /** Records a decision in the audit table (kind, detail). */
  audit: (kind: string, detail: Record<string, unknown>) => void;
  /** How long a new instance's port may take to accept after its boot. */
  readyTimeoutMs?: number;
  /** How long the front lets an old instance's connections finish. */
  drainTimeoutMs?: number;
}

export interface RolloutResult {
  level: Level;
  imageId: string;
  /** The service's instances after the rollout, in the front. */
  instances: Backend[];
  /** Old instance id -> the instance that took its place. */
  replaced: { old: string; new: string }[];
}

/** The rollout stopped: the service runs what it ran before (`stage` says where it failed). */
export class RolloutError extends FleetError {
  constructor(readonly stage: 'build' | 'boot' | 'ready', readonly level: Level, cause: string) {
    super('START_FAILED', `raising to ${level} stopped at the ${stage} of a new instance${stage === 'build' ? "'s image" : ''}: ${cause}; the old instances keep running`);
  }
}

class StageError extends Error {
  constructor(readonly stage: 'boot' | 'ready', message: string) {
    super(message);
  }
}

export async function rollOut(r: RolloutRequest): Promise<RolloutResult> {
  let imageId: string;
  try {
    imageId = await r.steps.build(r.to);
  } catch (e) {
    const why = errorText(e);
    r.audit('rollout.failed', { level: r.to, stage: 'build', error: why });
    throw new RolloutError('build', r.to, why);
  }
  const current = [...r.instances];
  const replaced: { old: Backend; new: Backend }[] = [];
  for (const old of r.instances) {
    try {
      const fresh = await replaceOne(r, old, imageId);
      replaced.push({ old, new: fresh });
      current[current.indexOf(old)] = fresh;
    } catch (e) {
      const stage = e instanceof StageError ? e.stage : 'boot';
      const why = errorText(e);
      const back = await rollBack(r, replaced);
      r.audit('rollout.failed', {
        level: r.to, stage, error: why, image: imageId, replacedBack: replaced.length, ...(back ? { rollbackError: back } : {}),
      });
      throw new RolloutError(stage, r.to, why);
    }
  }
  return { level: r.to, imageId, instances: current, replaced: replaced.map((x) => ({ old: x.old.id, new: x.new.id })) };
}

/** Boots the successor of `old`, swaps them in the front, stops `old`. */
async function replaceOne(r: RolloutRequest, old: Backend, imageId: string): Promise<Backend> {
  let fresh: Backend;
  try {
    fresh = await r.steps.boot(imageId);
  } catch (e) {
    throw new StageError('boot', errorText(e));
  }
  try {
    await waitReady(fresh, r.readyTimeoutMs ?? 30_000);
  } catch (e) {
    await r.steps.stop(fresh.id).catch(() => undefined);
    throw new StageError('ready', errorText(e));
  }
  r.front.add(fresh);
  await r.front.remove(old.id, r.drainTimeoutMs);
  await r.steps.stop(old.id);
  return fresh;
}

/** Puts instances of the old image back in place of the new ones; the error text if that failed too. */
async function rollBack(r: RolloutRequest, replaced: { old: Backend; new: Backend }[]): Promise<string | undefined> {
  for (const { new: fresh } of replaced.reverse()) {
    try {
      await replaceOne(r, fresh, r.fromImage);
    } catch (e) {
      return errorText(e);
    }
  }
  return undefined;
}

/**
 * Resolves once `b`'s port accepts a connection and keeps it open for `settleMs` (or answers at
 * once). A connect alone does not tell: the host side of a QEMU user-network forward accepts
 * even while nothing in the guest listens, and closes again a moment later.
 */
export async function waitReady(b: Backend, timeoutMs: number, settleMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe(b, settleMs)) return;
    if (Date.now() > deadline) throw new Error(`its port ${b.host}:${b.port} did not accept a connection within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

function probe(b: Backend, settleMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: b.host, port: b.port });
    let timer: NodeJS.Timeout | undefined;
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => {
      timer = setTimeout(() => done(true), settleMs);
    });
    s.once('data', () => done(true));
    s.once('end', () => done(false));
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
