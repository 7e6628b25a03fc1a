/**
 * Security events (`POST /v1/events`): which of a tenant's services an event affects, and the
 * level the template's Security policy raises each to. A vulnerability in a syscall affects the
 * services whose program can make that syscall (the image's syscall set, or the program's
 * analysis for a general kernel); an intrusion report on an instance affects that instance's
 * service; an event may also name a deployment, and a service of it, directly.
 *
 * The level comes from the policy's triggers (`unikit.raise_level` actions, LevelRule): among the
 * rules whose event is this kind, the highest level. A level is never lowered: a service already
 * at or above it is left as it is. Applying the changes (rolling the services over) is the
 * caller's, one service at a time (rollout.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeElf } from '../analyze/index.js';
import { type ApiHandler, BadRequestError, FleetError, type ImageRow, tenantOf } from '../fleet/index.js';
import { LEVELS, type Level } from '../security/index.js';
import type { LevelRule } from '../tosca/index.js';
import type { Deployment } from './deployment.js';
import type { Orchestrator } from './orchestrator.js';
import { type ServiceQueue, rollOut } from './rollout.js';
import { type Scaling, bootInstance, serviceKey } from './scaling.js';

/** The kinds every deployment may receive; a template's triggers may name more. */
export const EVENT_KINDS = ['vulnerability', 'intrusion'] as const;
/** The prefix the profile's trigger events carry: `unikit.events.vulnerability`. */
export const EVENT_PREFIX = 'unikit.events.';

export interface SecurityEvent {
  kind: string;
  /** vulnerability: the syscall it is in. */
  syscall?: string;
  /** intrusion: the instance (id, id prefix or name) it was seen on. */
  instance?: string;
  deployment?: string;
  service?: string;
  /** Free text kept in the audit record (a CVE id, the report's source). */
  note?: string;
}

/** One service of one of the tenant's deployments, as events see it. */
export interface EventService {
  deployment: string;
  service: string;
  level: Level;
  rules: LevelRule[];
  /** The service's instance ids. */
  instances: string[];
  /** The syscall names its program can make; null when unknown (then a syscall event affects it). */
  syscalls: () => Promise<ReadonlySet<string> | null>;
}

export interface LevelChange {
  deployment: string;
  service: string;
  from: Level;
  to: Level;
  policy: string;
  trigger: string;
  /** Why the event affects the service. */
  reason: string;
}

export interface Unchanged {
  deployment: string;
  service: string;
  level: Level;
  why: string;
}

export interface EventPlan {
  changes: LevelChange[];
  unchanged: Unchanged[];
}

/** An instance reference the caller resolves within the tenant (404 when not the tenant's). */
export type InstanceOwner = (ref: string) => { deployment: string; service: string };

/** The rules of `service` that answer an event of `kind`. */
export function rulesFor(kind: string, rules: readonly LevelRule[]): LevelRule[] {
  return rules.filter((r) => r.event === kind || r.event === EVENT_PREFIX + kind);
}

/** Checks the event's shape against what the tenant's services can receive. */
export function checkEvent(e: SecurityEvent, services: readonly EventService[]): void {
  const kinds = new Set<string>(EVENT_KINDS);
  for (const s of services) for (const r of s.rules) kinds.add(r.event.startsWith(EVENT_PREFIX) ? r.event.slice(EVENT_PREFIX.length) : r.event);
  if (!kinds.has(e.kind)) {
    throw new BadRequestError('kind', `unknown event kind ${JSON.stringify(e.kind)}: one of ${[...kinds].join(', ')} (a template's triggers name further ones)`);
  }
  if (e.service !== undefined && e.deployment === undefined) throw new BadRequestError('deployment', 'an event that names a service names its deployment too');
  const targeted = e.deployment !== undefined || e.instance !== undefined;
  if (e.kind === 'vulnerability' && e.syscall === undefined && !targeted) {
    throw new BadRequestError('syscall', 'a vulnerability event names the syscall it is in (or the deployment it affects)');
  }
  if (e.kind === 'intrusion' && !targeted) throw new BadRequestError('instance', 'an intrusion event names the instance it was seen on (or the deployment)');
  if (e.syscall !== undefined && !/^[a-z_][a-z0-9_]*$/.test(e.syscall)) throw new BadRequestError('syscall', `${JSON.stringify(e.syscall)} is not a syscall name (e.g. openat)`);
}

/** What the event changes: the affected services and the level each goes to. */
export async function planEvent(e: SecurityEvent, services: readonly EventService[], owner: InstanceOwner): Promise<EventPlan> {
  checkEvent(e, services);
  let affected: { s: EventService; reason: string }[] = services.map((s) => ({ s, reason: '' }));
  if (e.deployment !== undefined) {
    affected = affected.filter((a) => a.s.deployment === e.deployment && (e.service === undefined || a.s.service === e.service));
    if (affected.length === 0) {
      const what = e.service === undefined ? `deployment ${JSON.stringify(e.deployment)}` : `service ${JSON.stringify(e.service)} in deployment ${JSON.stringify(e.deployment)}`;
      throw new FleetError('NOT_FOUND', `no ${what}: see \`unikit status\``, e.service === undefined ? 'deployment' : 'service');
    }
    affected = affected.map((a) => ({ ...a, reason: `named by the event` }));
  }
  if (e.instance !== undefined) {
    const o = owner(e.instance);
    affected = affected.filter((a) => a.s.deployment === o.deployment && a.s.service === o.service)
      .map((a) => ({ ...a, reason: `its instance ${e.instance as string}` }));
  }
  if (e.syscall !== undefined) {
    const syscall = e.syscall;
    const kept: typeof affected = [];
    for (const a of affected) {
      const set = await a.s.syscalls();
      if (set === null) kept.push({ ...a, reason: `its syscall set is unknown, so it may make ${syscall}` });
      else if (set.has(syscall)) kept.push({ ...a, reason: `its program can make ${syscall}` });
    }
    affected = kept;
  }
  const plan: EventPlan = { changes: [], unchanged: [] };
  for (const { s, reason } of affected) {
    const rules = rulesFor(e.kind, s.rules);
    const top = rules.reduce<LevelRule | undefined>((best, r) => (!best || rank(r.level) > rank(best.level) ? r : best), undefined);
    const base = { deployment: s.deployment, service: s.service };
    if (!top) plan.unchanged.push({ ...base, level: s.level, why: `its Security policy has no trigger for ${EVENT_PREFIX}${e.kind}` });
    else if (rank(top.level) <= rank(s.level)) plan.unchanged.push({ ...base, level: s.level, why: `already at ${s.level}, not below ${top.level} (levels are never lowered)` });
    else plan.changes.push({ ...base, from: s.level, to: top.level, policy: top.policy, trigger: top.trigger, reason });
  }
  return plan;
}

export function rank(l: Level): number {
  return LEVELS.indexOf(l);
}

const analyzed = new Map<string, Promise<ReadonlySet<string> | null>>();

/**
 * The syscalls the program of the image in `dir` can make: the manifest's set for a per-program
 * kernel; otherwise the program's analysis (cached by the program's hash), or null when the
 * analysis left sites unresolved (any syscall may then be made).
 */
export async function imageSyscalls(dir: string): Promise<ReadonlySet<string> | null> {
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
    app: { host: string; sha256: string };
    syscalls?: { set: string[]; unresolvedSites: number };
  };
  if (m.syscalls) return m.syscalls.unresolvedSites > 0 ? null : new Set(m.syscalls.set);
  let found = analyzed.get(m.app.sha256);
  if (!found) {
    found = readFile(m.app.host).then((bytes) => {
      const a = analyzeElf(bytes, { name: m.app.host });
      return a.unresolvedSites > 0 ? null : new Set(a.syscalls.map((u) => u.name));
    }, () => null);
    analyzed.set(m.app.sha256, found);
  }
  return found;
}

/** What POST /v1/events answers (202): the changes that will be made, and the services left as they are. */
export interface EventAccepted extends EventPlan {
  event: SecurityEvent;
}

/**
 * Events inside unikitd: plans each against the tenant's running deployments, answers at once,
 * and rolls each affected service over to its new level in the background, one service's work
 * after another's (a scale, an earlier event) on the same queue.
 */
export class SecurityEvents {
  /** Levels services are being raised to, so that a second event plans against them. */
  private readonly pending = new Map<string, Level>();

  constructor(private readonly o: Orchestrator, private readonly queue: ServiceQueue, private readonly scaling: Scaling) {}

  async post(tenant: string, actor: string, event: SecurityEvent): Promise<EventAccepted> {
    const deployments = this.o.deploymentsOf(tenant).filter((d) => d.row.state === 'running');
    const services: EventService[] = deployments.flatMap((d) => [...d.services.values()].map((s) => ({
      deployment: d.name,
      service: s.spec.name,
      level: this.pending.get(serviceKey(d, s.spec.name)) ?? s.level,
      rules: s.spec.rules,
      instances: [...s.instances],
      syscalls: () => imageSyscalls(s.image.dir),
    })));
    const plan = await planEvent(event, services, (ref) => this.ownerOf(tenant, ref, deployments));
    for (const c of plan.changes) {
      const d = deployments.find((x) => x.name === c.deployment);
      if (!d) continue;
      const key = serviceKey(d, c.service);
      this.pending.set(key, c.to);
      void this.queue.run(key, () => this.raise(d, c, event, actor))
        .catch((e: Error) => d.ctx.log(`deployment ${d.name}: raising ${c.service} to ${c.to}: ${e.message}`))
        .finally(() => {
          if (this.pending.get(key) === c.to) this.pending.delete(key);
        });
    }
    this.o.ctx.audit({ tenant, actor, kind: 'event', subject: event.kind, detail: { event: { ...event }, changes: plan.changes, unchanged: plan.unchanged } });
    return { event, ...plan };
  }

  /** The deployment and service of the tenant's instance `ref`; another tenant's is NOT_FOUND, as if absent. */
  private ownerOf(tenant: string, ref: string, deployments: Deployment[]): { deployment: string; service: string } {
    const { store, deployments: rows } = this.o.ctx;
    const owned = store.findInstances(tenant, ref).flatMap((r) => {
      const o = rows.owner(r.id);
      const d = o && deployments.find((x) => x.row.id === o.deploymentId);
      return d && o ? [{ deployment: d.name, service: o.service }] : [];
    });
    if (owned.length === 0) throw new FleetError('NOT_FOUND', `no instance ${JSON.stringify(ref)} in tenant ${tenant}'s deployments: see \`unikit status\``, 'instance');
    if (owned.length > 1) throw new FleetError('AMBIGUOUS', `${JSON.stringify(ref)} matches ${owned.length} instances: give more of the id, or the name`, 'instance');
    return owned[0] as { deployment: string; service: string };
  }

  /** Rolls the service's instances (and its standby) over to the new level; records the change. */
  private async raise(d: Deployment, c: LevelChange, event: SecurityEvent, actor: string): Promise<void> {
    if (!d.services.has(c.service) || this.o.deploymentsOf(d.tenant).indexOf(d) < 0) return; // undeployed meanwhile
    const s = d.service(c.service);
    if (rank(s.level) >= rank(c.to)) return;
    const fromImage = s.image;
    const built = new Map<string, ImageRow>();
    const audit = (kind: string, detail: Record<string, unknown>): void =>
      d.ctx.audit({ tenant: d.tenant, actor, kind, subject: `${d.name}/${c.service}`, detail: { ...detail, event: { ...event } } });
    const result = await rollOut({
      instances: this.scaling.serving(d, c.service),
      fromImage: fromImage.id,
      to: c.to,
      audit,
      steps: {
        build: async (level) => {
          const got = await d.image(s.spec, level);
          built.set(got.image.id, got.image);
          return got.image.id;
        },
        start: (imageId) => bootInstance(d, c.service, built.get(imageId) ?? fromImage),
        retire: (id) => d.removeInstance(c.service, id),
      },
    });
    // The new level and image become the service's record (a cache hit: nothing is built again),
    // audited as level.changed with the event.
    await d.switchImage(c.service, c.to, {
      actor, detail: { policy: c.policy, trigger: c.trigger, reason: c.reason, replaced: result.replaced, event: { ...event } },
    });
    await this.scaling.replaceStandby(d, c.service).catch((e: Error) => d.ctx.log(`deployment ${d.name}: replacing the standby of ${c.service}: ${e.message}`));
  }
}

/** POST /v1/events. */
export function eventHandlers(events: SecurityEvents): Record<string, ApiHandler> {
  return {
    postEvent: async (req, reply) => {
      const b = req.body;
      const event: SecurityEvent = { kind: b.kind as string };
      for (const k of ['syscall', 'instance', 'deployment', 'service', 'note'] as const) {
        if (typeof b[k] === 'string') event[k] = b[k] as string;
      }
      const t = tenantOf(req);
      return reply.code(202).send(await events.post(t.tenant, t.actor, event));
    },
  };
}
