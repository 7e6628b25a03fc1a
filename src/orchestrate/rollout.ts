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
 * The steps that touch the deployment (build, start, retire) are the caller's: this module is the
 * order, the roll-back and, for plain backends of a front, the readiness check (frontSteps).
 */
import { createConnection } from 'node:net';
import type { Level } from '../security/index.js';
import { FleetError } from '../fleet/index.js';
import type { Backend, Front } from './front.js';

/** What a rollout asks of the service it works on. */
export interface RolloutSteps {
  /** The service's image at `level`, built or taken from the cache; resolves with its image id. */
  build(level: Level): Promise<string>;
  /**
   * Boots one more instance of the service from the image, waits until its port accepts and puts
   * it in the front; resolves with its id. One that fails leaves nothing behind.
   */
  start(imageId: string): Promise<string>;
  /** Takes the instance out of the front, lets its connections finish, stops and removes it. */
  retire(id: string): Promise<void>;
}

export interface RolloutRequest {
  /** The service's instances now, all serving. */
  instances: string[];
  /** The image they run. */
  fromImage: string;
  to: Level;
  steps: RolloutSteps;
  /** Records a decision in the audit table (kind, detail). */
  audit: (kind: string, detail: Record<string, unknown>) => void;
}

export interface RolloutResult {
  level: Level;
  imageId: string;
  /** The service's instances after the rollout. */
  instances: string[];
  /** Old instance id -> the instance that took its place. */
  replaced: { old: string; new: string }[];
}

/** The rollout stopped: the service runs what it ran before (`stage` says where it failed). */
export class RolloutError extends FleetError {
  constructor(readonly stage: 'build' | 'start', readonly level: Level, cause: string) {
    super('START_FAILED', `raising to ${level} stopped at the ${stage === 'build' ? 'build of its image' : 'start of a new instance'}: ${cause}; the old instances keep running`);
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
  const replaced: { old: string; new: string }[] = [];
  for (const old of r.instances) {
    let fresh: string;
    try {
      fresh = await r.steps.start(imageId);
    } catch (e) {
      const why = errorText(e);
      const back = await rollBack(r, replaced);
      r.audit('rollout.failed', {
        level: r.to, stage: 'start', error: why, image: imageId, replacedBack: replaced.length, ...(back ? { rollbackError: back } : {}),
      });
      throw new RolloutError('start', r.to, why);
    }
    await r.steps.retire(old);
    replaced.push({ old, new: fresh });
    current[current.indexOf(old)] = fresh;
  }
  return { level: r.to, imageId, instances: current, replaced };
}

/** Puts instances of the old image back in place of the new ones; the error text if that failed too. */
async function rollBack(r: RolloutRequest, replaced: { old: string; new: string }[]): Promise<string | undefined> {
  for (const { new: fresh } of [...replaced].reverse()) {
    try {
      await r.steps.start(r.fromImage);
      await r.steps.retire(fresh);
    } catch (e) {
      return errorText(e);
    }
  }
  return undefined;
}

/** Instances as plain backends of a front: what start and retire do, given how to boot and stop one. */
export interface BackendSteps {
  front: Front;
  /** Boots an instance of the image; resolves once it runs the program, with where its port is. */
  boot(imageId: string): Promise<Backend>;
  stop(id: string): Promise<void>;
  readyTimeoutMs?: number;
  drainTimeoutMs?: number;
}

export function frontSteps(b: BackendSteps): Pick<RolloutSteps, 'start' | 'retire'> {
  return {
    start: async (imageId) => {
      const fresh = await b.boot(imageId);
      try {
        await waitReady(fresh, b.readyTimeoutMs ?? 30_000);
      } catch (e) {
        await b.stop(fresh.id).catch(() => undefined);
        throw e;
      }
      b.front.add(fresh);
      return fresh.id;
    },
    retire: async (id) => {
      await b.front.remove(id, b.drainTimeoutMs);
      await b.stop(id);
    },
  };
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

/**
 * Runs the work on one service one after the other (a rollout, a scale, a standby's boot), so
 * that two of them never pick the same instances; work on other services runs alongside.
 */
export class ServiceQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    this.tails.set(key, next);
    next.then(() => this.settle(key, next), () => this.settle(key, next));
    return next;
  }

  private settle(key: string, p: Promise<unknown>): void {
    if (this.tails.get(key) === p) this.tails.delete(key);
  }
}
