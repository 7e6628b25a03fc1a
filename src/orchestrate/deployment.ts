/**
 * A deployment at run time: per service its level, its signed image, its instances (QEMUs on
 * user networking, each with a host port forwarded to the service's port) and its front, the one
 * stable address clients and other services use. The primitives the rest of the orchestrator
 * builds on (rolling replacement, scaling) are here: addInstance, removeInstance, switchImage.
 *
 * Connections (ConnectsTo): the source service's instances get `<TARGET>_HOST=10.0.2.2` (the
 * host, as QEMU user networking shows it to the guest) and `<TARGET>_PORT=<target's front port>`,
 * so that they reach every instance of the target through its front.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdirSync } from 'node:fs';
import {
  type AuditEntry, FleetError, type FleetPaths, type ImageRow, type InstanceRow, type PortSpec, type Store, type Supervisor, checkQuota, instanceFiles,
} from '../fleet/index.js';
import { type Level, type NetworkPolicy, isEgressHost, networkPolicyFromRules } from '../security/index.js';
import type { ServiceTemplate } from '../tosca/index.js';
import { freeTcpPort } from '../vmm/index.js';
import { type FactoryImage, imageFor } from './factory.js';
import { type Backend, Front, type Peer } from './front.js';
import { type IngressPlan, RefusalAudit, admitsAddress, ingressPlan } from './ingress.js';
import { ipv4Value, parseCidr } from './cidr.js';
import { peerIsOneOf } from './peer.js';
import { waitReady } from './rollout.js';
import type { DeploymentRow, DeploymentStore, InstanceRole, ServiceSpec } from './store.js';

/** The audit log's actor for what the orchestrator decides by itself. */
export const ORCHESTRATOR = 'orchestrator';
/** The host as a guest on QEMU user networking sees it. */
export const HOST_FROM_GUEST = '10.0.2.2';
/** Fronts listen here: the host's loopback (unikitd and QEMU's forwards are on the same host). */
export const FRONT_HOST = '127.0.0.1';
/** How long a new instance may take to accept connections on its port once its program runs. */
const READY_TIMEOUT_MS = 30_000;

export interface RuntimeContext {
  store: Store;
  supervisor: Supervisor;
  paths: FleetPaths;
  deployments: DeploymentStore;
  log: (line: string) => void;
  audit: (e: AuditEntry) => void;
}

export interface ServiceRuntime {
  spec: ServiceSpec;
  level: Level;
  image: ImageRow;
  /** The guest port the front forwards to (the endpoint's, else the first declared), null without ports. */
  port: number | null;
  /** The external front (the outputs' address); without ingress rules, every client's. */
  front?: Front;
  frontPort: number | null;
  /** Who may connect (ingress.ts), for a service with ports. */
  ingress?: IngressPlan;
  /** Per allowed source node, the front only its instances are given (ingress rules only). */
  sourceFronts: Map<string, { front: Front; port: number }>;
  /** Instance ids, oldest first, the standby among them. */
  instances: string[];
  /** The instance booted and kept out of the fronts (Scaling policy's standby), if any. */
  standby: string | null;
  /** The network policy its instances boot with (makeNetworkPolicy), once the fronts are open. */
  policy?: NetworkPolicy;
}

/** `web-api` -> `WEB_API`: a node name as an environment variable prefix. */
export function envPrefix(node: string): string {
  return node.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export class Deployment {
  readonly services = new Map<string, ServiceRuntime>();
  /** Images this deployment built (not cache hits): what a failed deploy removes. */
  readonly built: string[] = [];
  /**
   * Whether the per-source fronts check who connected (peer.ts, a /proc lookup per connection):
   * only when one of the deployment's guests could get past its kernel's egress check to them
   * (mustCheckPeers); otherwise that check alone keeps other nodes out, at no cost.
   */
  peerChecks = false;
  /** The restricted fronts' audits of refused connections (flushed when the fronts close). */
  private readonly refusals: RefusalAudit[] = [];
  /** The template's inputs and outputs, for the outputs' values. */
  template?: Pick<ServiceTemplate, 'inputs' | 'outputs'>;

  constructor(readonly ctx: RuntimeContext, readonly row: DeploymentRow) {}

  get name(): string {
    return this.row.name;
  }

  get tenant(): string {
    return this.row.tenant;
  }

  /** The service, or a NOT_FOUND error naming the deployment's services. */
  service(name: string): ServiceRuntime {
    const s = this.services.get(name);
    if (!s) throw new FleetError('NOT_FOUND', `deployment ${this.name} has no service ${JSON.stringify(name)} (it has ${[...this.services.keys()].join(', ')})`);
    return s;
  }

  /** Builds (or takes from the cache) the service's image at `level`; records what was built. */
  async image(spec: ServiceSpec, level: Level): Promise<FactoryImage> {
    const got = await imageFor({ store: this.ctx.store, deployments: this.ctx.deployments, paths: this.ctx.paths }, spec, level, this.tenant);
    if (!got.cached) {
      this.built.push(got.image.id);
      this.ctx.audit({
        tenant: this.tenant, actor: ORCHESTRATOR, kind: 'image.built', subject: `${this.name}/${spec.name}`,
        detail: { image: got.image.id, level: got.plan.level, flags: got.plan.flags, mechanisms: got.plan.mechanisms, weakened: got.plan.weakened, signedBy: got.keyId, hash: got.hash, ms: Math.round(got.buildMs) },
      });
    }
    return got;
  }

  /**
   * Registers a service with its image and opens its fronts (ingress.ts): the external one, and
   * with ingress rules one per allowed source node among `all` (the deployment's services).
   * When restoring, `frontPort` and the stored per-source ports are reused (a port taken
   * meanwhile gets a new one, logged: the sources' instances still know the old one).
   */
  async addService(spec: ServiceSpec, level: Level, image: ImageRow, all: readonly ServiceSpec[], frontPort?: number | null): Promise<ServiceRuntime> {
    const port = endpointPort(spec);
    const s: ServiceRuntime = { spec, level, image, port, frontPort: null, sourceFronts: new Map(), instances: [], standby: null };
    this.services.set(spec.name, s);
    if (port !== null) {
      const plan = ingressPlan(spec, port, all);
      s.ingress = plan;
      const refusals = (front: string, detail: Record<string, unknown> = {}): RefusalAudit => {
        const r = new RefusalAudit(this.ctx.audit, { tenant: this.tenant, actor: ORCHESTRATOR, subject: `${this.name}/${spec.name}`, detail: { front, ...detail } });
        this.refusals.push(r);
        return r;
      };
      const external = plan.restricted ? refusals('external', { admits: plan.blocks.map((b) => b.text) }) : undefined;
      s.front = new Front({ host: plan.host, ...(external && { admits: admitsAddress(plan), onRefused: (p: Peer) => external.refused(p.address) }) });
      s.frontPort = await this.listen(s.front, frontPort, `the front of ${spec.name}`);
      const stored = this.ctx.deployments.sourceFronts(this.row.id, spec.name);
      for (const source of plan.nodes) {
        // When a guest could get past its own egress check: only the QEMUs of the source's instances.
        const audit = refusals(`for ${source}`);
        const front = new Front({
          host: FRONT_HOST, admits: (p) => !this.peerChecks || peerIsOneOf(p, this.pidsOf(source)), onRefused: (p) => audit.refused(`${p.address}:${p.port}`),
        });
        const p = await this.listen(front, stored.get(source), `the front of ${spec.name} for ${source}`);
        s.sourceFronts.set(source, { front, port: p });
        this.ctx.deployments.putSourceFront(this.row.id, spec.name, source, p);
      }
    }
    this.save(s);
    return s;
  }

  /** The host processes (QEMUs) of a service's instances. */
  private pidsOf(service: string): number[] {
    const ids = this.services.get(service)?.instances ?? [];
    return ids.map((id) => this.ctx.store.getInstance(id)?.pid).filter((p): p is number => typeof p === 'number');
  }

  /** Listens on `port` if given and free, else on a new one. */
  private async listen(front: Front, port: number | null | undefined, what: string): Promise<number> {
    if (port == null) return front.listen();
    return front.listen(port).catch((e: Error) => {
      this.ctx.log(`deployment ${this.tenant}/${this.name}: reopening ${what} on port ${port}: ${e.message}; a new port`);
      return front.listen();
    });
  }

  /**
   * The host port at which `source`'s instances reach `target`: its own front when the target
   * restricts ingress and allows it, else the external front (which a source the rules do not
   * allow only reaches if its own egress rules open the host, and then as an external client).
   */
  portFor(target: ServiceRuntime, source: string): number | null {
    return target.sourceFronts.get(source)?.port ?? target.frontPort;
  }

  /** The environment that wires `spec` to the services it connects to. */
  connectionEnv(spec: ServiceSpec): string[] {
    const env: string[] = [];
    for (const c of spec.connectsTo) {
      const target = this.services.get(c.node);
      env.push(`${envPrefix(c.node)}_HOST=${HOST_FROM_GUEST}`);
      const port = target && this.portFor(target, spec.name);
      if (port != null) env.push(`${envPrefix(c.node)}_PORT=${port}`);
    }
    return env;
  }

  /** Puts a ready instance into every front of the service. */
  rotate(s: ServiceRuntime, backend: Backend): void {
    s.front?.add(backend);
    for (const f of s.sourceFronts.values()) f.front.add(backend);
  }

  /** Takes an instance out of every front of the service, draining its connections. */
  async unrotate(s: ServiceRuntime, id: string): Promise<void> {
    await Promise.all([s.front?.remove(id), ...[...s.sourceFronts.values()].map((f) => f.front.remove(id))]);
  }

  /** Where the instance's endpoint port is forwarded on the host, if it has one. */
  backendOf(s: ServiceRuntime, id: string): Backend | undefined {
    const fwd = this.ctx.store.getInstance(id)?.ports.find((p) => p.guestPort === s.port);
    return fwd && { id, host: FRONT_HOST, port: fwd.hostPort };
  }

  /** Makes the standby serve: it enters the fronts and its role is recorded. */
  promote(s: ServiceRuntime, id: string): void {
    const b = this.backendOf(s, id);
    if (b) this.rotate(s, b);
    if (s.standby === id) s.standby = null;
    this.ctx.deployments.setRole(id, 'serving');
  }

  /**
   * What the guest kernel enforces for the service's instances (the `network` mechanism, every
   * level), made by src/security's networkPolicyFromRules: the ports that accept (its declared
   * ports, narrowed to those its Network policy's ingress rules name), and where it may connect:
   * its ConnectsTo targets and its Network policy's egress rules. A node template resolves to
   * that service's front as the guest reaches it (10.0.2.2:<front port>); a host name to the
   * IPv4 addresses DNS gives for it. Kept in `policy`, which instances boot with.
   */
  async makeNetworkPolicy(s: ServiceRuntime): Promise<NetworkPolicy> {
    const spec = s.spec;
    const egress = [...spec.egress, ...spec.connectsTo.filter((c) => !spec.egress.some((r) => r.to === c.node)).map((c) => ({ to: c.node }))];
    const names = new Map<string, string[]>();
    for (const r of egress) {
      if (this.services.has(r.to) || r.to === 'any' || isEgressHost(r.to) || names.has(r.to)) continue;
      const found = await lookup(r.to, { all: true, family: 4 }).catch(() => []);
      names.set(r.to, found.map((a) => a.address));
    }
    s.policy = networkPolicyFromRules({ ports: spec.ports, ingress: spec.ingress, egress }, (name, port) => {
      const target = this.services.get(name);
      if (target?.ingress?.restricted) {
        // Only its own front, and nothing when the target's rules do not allow it.
        const own = target.sourceFronts.get(spec.name);
        return own ? [{ host: HOST_FROM_GUEST, port: own.port }] : [];
      }
      if (target) return target.frontPort === null ? undefined : [{ host: HOST_FROM_GUEST, port: target.frontPort }];
      const addrs = names.get(name);
      return addrs && addrs.length ? addrs.map((host) => ({ host, port: port ?? '*' })) : undefined;
    });
    this.peerChecks = mustCheckPeers([...this.services.values()]);
    return s.policy;
  }

  /**
   * Creates, boots and waits for one more instance of the service (from its current image, or
   * `image` during a rolling replacement), then puts it behind the front (unless `serve` is
   * false: a standby, ready but out of the rotation, recorded as the service's standby). One
   * that fails to start is removed again.
   */
  async addInstance(service: string, image?: ImageRow, opts: { serve?: boolean } = {}): Promise<InstanceRow> {
    const s = this.service(service);
    const { store, supervisor, paths } = this.ctx;
    const id = randomBytes(6).toString('hex');
    const ports: PortSpec[] = [];
    for (const guestPort of s.spec.ports) ports.push({ proto: 'tcp', hostIp: FRONT_HOST, hostPort: await freeTcpPort(FRONT_HOST), guestPort });
    const wantsNet = ports.length > 0 || s.spec.connectsTo.length > 0 || s.spec.egress.length > 0;
    const now = Date.now();
    const row: InstanceRow = {
      id, tenant: this.tenant, name: `${this.name}-${service}-${id.slice(0, 6)}`.slice(0, 63), imageId: (image ?? s.image).id, memory: s.spec.memory, args: null,
      env: this.connectionEnv(s.spec), network: wantsNet ? 'user' : 'none', ports, ip: null, restartPolicy: 'on-failure', maxRetries: 5,
      state: 'created', pid: null, pidStart: null, accel: null, createdAt: now, startedAt: null, bootedAt: null, bootMs: null,
      finishedAt: null, exitStatus: null, exitReason: null, exitDetail: null, restartCount: 0, stopRequested: false,
    };
    // The tenant's quota first, with no await before the insert: two deploys cannot both take the last place.
    checkQuota(store, row, { active: true, actor: ORCHESTRATOR });
    store.insertInstance(row);
    const role: InstanceRole = opts.serve === false ? 'standby' : 'serving';
    this.ctx.deployments.linkInstance(id, this.row.id, service, role);
    s.instances.push(id);
    try {
      return await this.boot(s, row, opts.serve !== false);
    } catch (e) {
      await this.removeInstance(service, id).catch((err: Error) => this.ctx.log(`removing instance ${row.name}: ${err.message}`));
      throw e;
    }
  }

  private async boot(s: ServiceRuntime, row: InstanceRow, serve: boolean): Promise<InstanceRow> {
    const { store, supervisor, paths } = this.ctx;
    const { id, ports } = row;
    const where = `service ${s.spec.name}: instance ${row.name}${s.port !== null ? ` (port ${s.port})` : ''}`;
    mkdirSync(instanceFiles(paths, id).dir, { recursive: true });
    const ran = await supervisor.start(id, { wait: true, waitMs: 120_000, actor: ORCHESTRATOR });
    if (ran.state !== 'running') {
      // A program that ran and ended at once, and one that never ran, are told apart.
      if (ran.bootedAt === null) throw new FleetError('START_FAILED', `${where}: did not start (${howEnded(ran)})`);
      throw new FleetError('START_FAILED', `${where}: it ended ${s.port !== null ? 'before it accepted connections' : 'at once'} (${howEnded(ran)})`);
    }
    const endpoint = ports.find((p) => p.guestPort === s.port);
    if (endpoint && s.front) {
      const backend = { id, host: FRONT_HOST, port: endpoint.hostPort };
      await this.untilServing(backend).catch((e: Error) => {
        throw new FleetError('START_FAILED', `${where}: ${e.message}`);
      });
      if (serve) this.rotate(s, backend);
    }
    if (!serve) s.standby = id;
    return store.getInstance(id) ?? ran;
  }

  /**
   * Resolves once the instance's program accepts on its port (rollout's waitReady), fails at
   * once when the instance ends before that.
   */
  private async untilServing(b: Backend): Promise<void> {
    const { store, supervisor } = this.ctx;
    const live = (r: InstanceRow | undefined): boolean => r !== undefined && (r.state === 'running' || r.state === 'starting');
    const ended = (r: InstanceRow | undefined): Error => new Error(`it ended before it accepted connections${r ? ` (${howEnded(r)})` : ''}`);
    const now = store.getInstance(b.id);
    if (!live(now)) throw ended(now);
    let settled = false;
    // No await between the check above and this: an end cannot slip in between.
    const end = supervisor.waitFor(b.id, (r) => settled || !live(r), READY_TIMEOUT_MS).then((r) => {
      if (!settled && !live(r)) throw ended(r);
    });
    try {
      await Promise.race([waitReady(b, READY_TIMEOUT_MS), end]);
    } finally {
      settled = true;
      end.catch(() => undefined);
    }
  }

  /** Takes the instance out of the front (draining its connections), stops and removes it. */
  async removeInstance(service: string, id: string): Promise<void> {
    const s = this.service(service);
    await this.unrotate(s, id);
    s.instances = s.instances.filter((x) => x !== id);
    if (s.standby === id) s.standby = null;
    if (this.ctx.store.getInstance(id)) await this.ctx.supervisor.remove(id, true);
    this.ctx.deployments.unlinkInstance(id);
  }

  /**
   * Makes `level` the service's level: its image at that level is built (or taken from the
   * cache) and becomes the one new instances boot. Running instances are left alone: replacing
   * them one at a time is the caller's (rolling replacement). `why` goes into the audit record
   * (the event that raised it, and who sent it).
   */
  async switchImage(service: string, level: Level, why: { actor?: string; detail?: Record<string, unknown> } = {}): Promise<FactoryImage> {
    const s = this.service(service);
    const got = await this.image(s.spec, level);
    const from = s.level;
    s.level = got.plan.level;
    s.image = got.image;
    this.save(s);
    if (from !== s.level) {
      this.ctx.audit({ tenant: this.tenant, actor: why.actor ?? ORCHESTRATOR, kind: 'level.changed', subject: `${this.name}/${service}`, detail: { from, to: s.level, image: got.image.id, ...why.detail } });
    }
    return got;
  }

  /** Stops every instance and closes every front. Rows and images are the caller's. */
  async stopAll(): Promise<void> {
    await this.closeFronts();
    const ids = this.ctx.deployments.instances(this.row.id);
    await Promise.all(ids.map(async (id) => {
      if (this.ctx.store.getInstance(id)) await this.ctx.supervisor.remove(id, true).catch((e: Error) => this.ctx.log(`removing instance ${id}: ${e.message}`));
      this.ctx.deployments.unlinkInstance(id);
    }));
    for (const s of this.services.values()) {
      s.instances = [];
      s.standby = null;
    }
  }

  /** Closes the fronts only (unikitd stopping: instances keep running, the next unikitd reopens the fronts). */
  async detach(): Promise<void> {
    await this.closeFronts();
  }

  private async closeFronts(): Promise<void> {
    for (const r of this.refusals) r.flush();
    await Promise.all([...this.services.values()].flatMap((s) => [s.front?.close(), ...[...s.sourceFronts.values()].map((f) => f.front.close())]));
  }

  private save(s: ServiceRuntime): void {
    this.ctx.deployments.putService({
      deploymentId: this.row.id, name: s.spec.name, level: s.level, imageId: s.image.id, frontPort: s.frontPort, port: s.port, spec: s.spec,
    });
  }
}

/**
 * Whether a per-source front has to check who connected: some service's guests could reach a
 * per-source front that is not theirs despite the kernel's egress check, because they run at
 * `low` (ring 0: the program can switch the check off; levels are never lowered, so the services
 * as deployed tell) or their egress policy reaches the host (10.0.2.2) on any port or on such a
 * front's port.
 */
export function mustCheckPeers(services: readonly ServiceRuntime[]): boolean {
  const host = ipv4Value(HOST_FROM_GUEST) as number;
  const fronts = services.flatMap((t) => [...t.sourceFronts].map(([source, f]) => ({ source, port: f.port })));
  if (fronts.length === 0) return false;
  return services.some((s) => s.level === 'low' || (s.policy?.egress ?? []).some((e) => {
    const block = parseCidr(e.host);
    if (!block || ((host & block.mask) >>> 0) !== block.net) return false;
    return e.port === '*' || fronts.some((f) => f.port === e.port && f.source !== s.spec.name);
  }));
}

/** "exited, status 0: exit": how an instance that stopped running ended. */
function howEnded(r: InstanceRow): string {
  return `${r.state}${r.exitStatus !== null ? `, status ${r.exitStatus}` : ''}: ${r.exitDetail ?? r.exitReason ?? 'no reason recorded'}`;
}

/** The port clients of a service reach: its endpoint capability's, else the first it declares. */
export function endpointPort(spec: ServiceSpec): number | null {
  return spec.endpointPort ?? spec.ports[0] ?? null;
}

