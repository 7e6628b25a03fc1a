/**
 * Proactive scaling. A service's image is built when it is deployed (the factory caches it), so a
 * scale-out costs one boot, never a build. With `standby: true` in its Scaling policy one more
 * instance is kept booted out of the front: a scale-out then promotes it (it only enters the
 * front) and boots the next standby in the background. A scale-in retires the newest instances,
 * draining each out of the front. Counts outside the policy's [min, max] are refused.
 *
 * Standbys live in this process only: after a unikitd restart the deployment's instances all
 * come back behind the front, and the next scale or deploy boots a new standby.
 */
import { performance } from 'node:perf_hooks';
import { type ApiHandler, FleetError, type ImageRow, tenantOf } from '../fleet/index.js';
import { type Deployment, FRONT_HOST } from './deployment.js';
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
  private readonly standbys = new Map<string, string>();

  constructor(private readonly o: Orchestrator, private readonly queue: ServiceQueue) {}

  /** The standby of the service, if one is booted. */
  standbyOf(d: Deployment, service: string): string | null {
    return this.standbys.get(serviceKey(d, service)) ?? null;
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
    this.standbys.delete(serviceKey(d, service));
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
        const standby = this.takeStandby(d, service);
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

  /** Puts the standby in the front, if it still runs; its id, or null. */
  private takeStandby(d: Deployment, service: string): string | null {
    const key = serviceKey(d, service);
    const id = this.standbys.get(key);
    if (id === undefined) return null;
    this.standbys.delete(key);
    const s = d.service(service);
    const row = d.ctx.store.getInstance(id);
    const fwd = row?.ports.find((p) => p.guestPort === s.port);
    if (!row || row.state !== 'running' || (s.front && !fwd)) return null;
    if (s.front && fwd) s.front.add({ id, host: FRONT_HOST, port: fwd.hostPort });
    return id;
  }

  private refill(d: Deployment, service: string): void {
    void this.queue.run(serviceKey(d, service), async () => {
      // Not for a deployment undeployed meanwhile: its instance would belong to nothing.
      const live = this.o.deploymentsOf(d.tenant).includes(d);
      if (live && this.standbyOf(d, service) === null && d.services.has(service)) await this.bootStandby(d, service);
    }).catch((e: Error) => d.ctx.log(`deployment ${d.name}: booting a standby of ${service}: ${e.message}`));
  }

  /** Boots an instance and keeps it out of the front. */
  private async bootStandby(d: Deployment, service: string): Promise<void> {
    const id = await bootInstance(d, service);
    await d.service(service).front?.remove(id);
    this.standbys.set(serviceKey(d, service), id);
  }
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
