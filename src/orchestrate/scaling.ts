/**
 * Proactive scaling. A service's image is built when it is deployed (the factory caches it), so a
 * scale-out costs one boot, never a build. With `standby: true` in its Scaling policy one more
 * instance is kept booted out of the front: a scale-out then promotes it (it only enters the
 * front) and boots the next standby in the background. A scale-in retires the newest instances,
 * draining each out of the front. Counts outside the policy's [min, max] are refused.
 *
 * The standby's role is recorded with the deployment's instances (store.ts): after a unikitd
 * restart it stays out of the front, and one that ended meanwhile is replaced.
 */
import { performance } from 'node:perf_hooks';
import { type ApiHandler, FleetError, type ImageRow, tenantOf } from '../fleet/index.js';
import type { Deployment } from './deployment.js';
import type { Orchestrator } from './orchestrator.js';
import type { ServiceQueue } from './rollout.js';

export interface ScaleResult {
  deployment: string;
  service: string;
  /** Instances serving before and after. */
  from: number;
  instances: number;
  /** How each new instance came: promoted from standby, or booted from the built image. */
  added: { id: string; how: 'standby' | 'boot' }[];
  removed: string[];
  /** The standby now (a new one may still be booting: null until it runs). */
  standby: string | null;
  /** Milliseconds until the new count served. */
  ms: number;
}

/** Where per-service state is kept: deployment id and service name. */
export const serviceKey = (d: Deployment, service: string): string => `${d.row.id}/${service}`;

export class Scaling {
  constructor(private readonly o: Orchestrator, private readonly queue: ServiceQueue) {}

  /** The standby of the service, if one is booted. */
  standbyOf(d: Deployment, service: string): string | null {
    return d.service(service).standby;
  }

  /** The instances behind the front: all but the standby. */
  serving(d: Deployment, service: string): string[] {
    const sb = this.standbyOf(d, service);
    return d.service(service).instances.filter((id) => id !== sb);
  }

  /** After a deploy: boots a standby for each service whose Scaling policy asks for one (in the background). */
  prepare(d: Deployment): void {
    for (const s of d.services.values()) {
      if (s.spec.scaling.standby) this.refill(d, s.spec.name);
    }
  }

  /** Replaces the standby by one of the service's current image (after its level changed). */
  async replaceStandby(d: Deployment, service: string): Promise<void> {
    const old = this.standbyOf(d, service);
    if (old === null) return;
    await d.removeInstance(service, old);
    await this.bootStandby(d, service);
  }

  async scale(tenant: string, actor: string, name: string, service: string, count: number): Promise<ScaleResult> {
    const d = this.o.deployment(tenant, name);
    const s = d.service(service);
    const { min, max } = s.spec.scaling;
    if (!Number.isInteger(count) || count < Math.max(min, 0) || count > max) {
      throw new FleetError('BAD_REQUEST', `instances: ${count} is outside service ${service}'s Scaling policy (min ${min}, max ${max})`, 'instances');
    }
    const key = serviceKey(d, service);
    const result = await this.queue.run(key, async () => {
      const started = performance.now();
      const from = this.serving(d, service).length;
      const added: ScaleResult['added'] = [];
      const removed: string[] = [];
      while (this.serving(d, service).length < count) {
        const standby = await this.takeStandby(d, service);
        if (standby !== null) {
          added.push({ id: standby, how: 'standby' });
        } else {
          added.push({ id: await bootInstance(d, service), how: 'boot' });
        }
      }
      for (let serving = this.serving(d, service); serving.length > count; serving = this.serving(d, service)) {
        const newest = serving[serving.length - 1] as string;
        await d.removeInstance(service, newest);
        removed.push(newest);
      }
      const ms = performance.now() - started;
      return { deployment: name, service, from, instances: this.serving(d, service).length, added, removed, standby: this.standbyOf(d, service), ms };
    });
    if (s.spec.scaling.standby && this.standbyOf(d, service) === null) this.refill(d, service);
    d.ctx.audit({
      tenant, actor, kind: 'scale', subject: `${name}/${service}`,
      detail: { from: result.from, to: result.instances, added: result.added, removed: result.removed, ms: Math.round(result.ms) },
    });
    return result;
  }

  /** Puts the standby in the fronts, if it still runs; its id, or null (one that ended is removed). */
  private async takeStandby(d: Deployment, service: string): Promise<string | null> {
    const id = this.standbyOf(d, service);
    if (id === null) return null;
    if (!usable(d, service, id)) {
      await d.removeInstance(service, id);
      return null;
    }
    d.promote(d.service(service), id);
    return id;
  }

  private refill(d: Deployment, service: string): void {
    void this.queue.run(serviceKey(d, service), async () => {
      // Not for a deployment undeployed meanwhile: its instance would belong to nothing.
      const live = this.o.deploymentsOf(d.tenant).includes(d);
      if (!live || !d.services.has(service)) return;
      // A standby that ended (say while unikitd was away) is replaced.
      const old = this.standbyOf(d, service);
      if (old !== null && !usable(d, service, old)) await d.removeInstance(service, old);
      if (this.standbyOf(d, service) === null) await this.bootStandby(d, service);
    }).catch((e: Error) => d.ctx.log(`deployment ${d.name}: booting a standby of ${service}: ${e.message}`));
  }

  /** Boots an instance that stays out of the fronts, recorded as the standby. */
  private async bootStandby(d: Deployment, service: string): Promise<void> {
    await d.addInstance(service, undefined, { serve: false });
  }
}

/** Whether the standby still runs and (for a service with a front) has its port forwarded. */
function usable(d: Deployment, service: string, id: string): boolean {
  const s = d.service(service);
  const row = d.ctx.store.getInstance(id);
  return row !== undefined && row.state === 'running' && (!s.front || d.backendOf(s, id) !== undefined);
}

/** One more instance of the service (its current image, or `image`), ready and behind its front; one that fails is removed. */
export async function bootInstance(d: Deployment, service: string, image?: ImageRow): Promise<string> {
  return (await d.addInstance(service, image)).id;
}

/** POST /v1/deployments/{name}/scale. */
export function scalingHandlers(s: Scaling): Record<string, ApiHandler> {
  return {
    scaleDeployment: async (req) => {
      const t = tenantOf(req);
      return s.scale(t.tenant, t.actor, req.params.name as string, req.body.service as string, req.body.instances as number);
    },
  };
}
