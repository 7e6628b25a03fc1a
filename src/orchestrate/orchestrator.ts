/**
 * Deploy, undeploy and status, inside unikitd. A deploy is all or nothing: the template is
 * checked first (every problem with file:line:col and key path), then each service's image is
 * built or taken from the cache, its front opened, its instances booted and waited for; any
 * failure on the way stops what was started, removes the images this deploy built and the
 * deployment's rows, and reports one error naming the service and what went wrong.
 */
import { randomBytes } from 'node:crypto';
import { basename, extname, isAbsolute, join } from 'node:path';
import { FleetError, type InstanceRow, removeImage } from '../fleet/index.js';
import { ImageError } from '../image/index.js';
import { type ServiceTemplate, ToscaError, formatProblem, loadServiceTemplate, unikernelServices } from '../tosca/index.js';
import type { NetworkPolicy } from '../security/index.js';
import { Deployment, FRONT_HOST, type RuntimeContext } from './deployment.js';
import type { DeploymentRow, InstanceRole, ServiceSpec } from './store.js';

export interface DeployRequest {
  tenant: string;
  /** Who asks, for the audit log ("admin", "tenant:NAME"). */
  actor: string;
  /** The template's text. */
  template: string;
  /** The directory relative paths in the template (binary, imports, files) resolve against. */
  dir: string;
  /** The template's file name, for messages (service.yaml by default). */
  file?: string;
  inputs?: Record<string, unknown>;
  name?: string;
}

export interface InstanceStatus {
  id: string;
  name: string;
  /** Behind the fronts, or the Scaling policy's standby (booted, out of the fronts). */
  role: InstanceRole;
  state: string;
  address: string | null;
  bootMs: number | null;
  exit: { status: number; reason: string; detail: string | null } | null;
}

export interface ServiceStatus {
  name: string;
  level: string;
  image: { id: string; name: string };
  /** host:port of the front, null for a service without ports. */
  front: string | null;
  port: number | null;
  scaling: { min: number; max: number; default: number; standby: boolean };
  connectsTo: string[];
  networkPolicy: NetworkPolicy | null;
  /** With ingress rules: the source nodes' own fronts, and whom the external front admits. */
  ingress: IngressStatus | null;
  instances: InstanceStatus[];
}

export interface IngressStatus {
  /** Each allowed source node that connects to the service, and its front (HOST:PORT). */
  nodes: { source: string; front: string }[];
  /** The addresses and CIDR blocks the external front admits ("any": all); none: nobody. */
  admits: string[];
  /** Where the external front listens (HOST:PORT). */
  listen: string;
  /** Whether the nodes' fronts check that a client is one of the node's instances (a guest could get past its egress check). */
  peersChecked: boolean;
}

export interface DeploymentStatus {
  name: string;
  tenant: string;
  state: string;
  file: string;
  dir: string;
  createdAt: string;
  services: ServiceStatus[];
  outputs: Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export class Orchestrator {
  private readonly live = new Map<string, Deployment>();

  constructor(readonly ctx: RuntimeContext) {
    // Instances of a deployment boot (and reboot, after a crash or a unikitd restart) with the
    // network policy their service has now.
    ctx.supervisor.networkPolicyOf = (row) => {
      const owner = ctx.deployments.owner(row.id);
      const d = owner && [...this.live.values()].find((x) => x.row.id === owner.deploymentId);
      const s = owner && d?.services.get(owner.service);
      return s?.policy;
    };
  }

  /** The running deployment `name` of `tenant` (for events, rollout and scaling). */
  deployment(tenant: string, name: string): Deployment {
    const d = this.live.get(key(tenant, name));
    if (!d) throw notFound(name);
    return d;
  }

  deploymentsOf(tenant?: string): Deployment[] {
    return [...this.live.values()].filter((d) => tenant === undefined || d.tenant === tenant);
  }

  async deploy(req: DeployRequest): Promise<DeploymentStatus> {
    const file = req.file ?? 'service.yaml';
    if (!isAbsolute(req.dir)) throw new FleetError('BAD_REQUEST', `dir: ${JSON.stringify(req.dir)} is not an absolute path (the template's directory on unikitd's host)`, 'dir');
    const path = isAbsolute(file) ? file : join(req.dir, file);
    const loaded = await loadServiceTemplate(path, { text: req.template, inputs: req.inputs ?? {} });
    if (!loaded.template) throw templateError(new ToscaError(loaded.problems));
    const t = loaded.template;
    const name = req.name ?? defaultName(t, file);
    if (!NAME.test(name)) throw new FleetError('BAD_REQUEST', `name: ${JSON.stringify(name)} must start with a letter or digit and hold only letters, digits, "_", "." and "-" (at most 63)`, 'name');
    const row: DeploymentRow = {
      id: randomBytes(6).toString('hex'), tenant: req.tenant, name, file, dir: req.dir, template: req.template,
      inputs: req.inputs ?? {}, state: 'deploying', createdAt: Date.now(),
    };
    if (!this.ctx.deployments.insertDeployment(row)) {
      throw new FleetError('CONFLICT', `tenant ${req.tenant} already has a deployment named ${name}: undeploy it first, or deploy with --name`);
    }
    const d = new Deployment(this.ctx, row);
    d.template = t;
    this.live.set(key(row.tenant, name), d);
    try {
      const specs = servicesOf(t);
      const ordered = t.order.map((n) => specs.find((s) => s.name === n)).filter((s): s is ServiceSpec => s !== undefined);
      // Images first: a build error must come before any VM is started.
      const images = new Map<string, Awaited<ReturnType<Deployment['image']>>>();
      for (const spec of ordered) images.set(spec.name, await this.step(spec.name, 'building its image', () => d.image(spec, spec.security.level)));
      // Fronts next, so every service knows its targets' addresses before any instance boots.
      for (const spec of ordered) {
        const img = images.get(spec.name) as Awaited<ReturnType<Deployment['image']>>;
        await this.step(spec.name, 'opening its front', () => d.addService(spec, img.plan.level, img.image, specs));
      }
      // Every front is open: each service's network policy can name its targets' addresses.
      for (const s of d.services.values()) await this.step(s.spec.name, 'making its network policy', () => d.makeNetworkPolicy(s));
      // Targets before the services that connect to them (t.order); a service's instances boot
      // together (unikitd bounds parallel boots), and all of them have settled before a failure
      // is reported, so that the clean-up sees every one.
      for (const spec of ordered) {
        const n = Math.max(1, spec.scaling.default);
        const boots = await Promise.allSettled(Array.from({ length: n }, () => this.step(spec.name, 'starting an instance', () => d.addInstance(spec.name))));
        const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
        if (failed) throw failed.reason;
      }
      this.ctx.deployments.setState(row.id, 'running');
      row.state = 'running';
      this.ctx.audit({
        tenant: row.tenant, actor: req.actor, kind: 'deployment.created', subject: name,
        detail: { file, dir: req.dir, services: [...d.services.values()].map((s) => ({ name: s.spec.name, level: s.level, image: s.image.id, instances: s.instances.length })) },
      });
      return this.status(d);
    } catch (e) {
      await this.discard(d);
      this.ctx.audit({ tenant: row.tenant, actor: req.actor, kind: 'deployment.failed', subject: name, detail: { error: (e as Error).message } });
      throw e;
    }
  }

  async undeploy(tenant: string, name: string, actor: string): Promise<void> {
    const d = this.live.get(key(tenant, name));
    const row = d?.row ?? this.ctx.deployments.deployment(tenant, name);
    if (!row) throw notFound(name);
    if (!d) throw new FleetError('CONFLICT', `deployment ${name} is ${row.state}: wait for it to finish`);
    if (row.state === 'deploying') throw new FleetError('CONFLICT', `deployment ${name} is still deploying: wait for it to finish`);
    this.ctx.deployments.setState(row.id, 'removing');
    await d.stopAll();
    this.ctx.deployments.deleteDeployment(row.id);
    this.live.delete(key(tenant, name));
    this.ctx.audit({ tenant, actor, kind: 'deployment.removed', subject: name, detail: { services: [...d.services.keys()] } });
  }

  list(tenant: string): DeploymentStatus[] {
    return this.deploymentsOf(tenant).map((d) => this.status(d));
  }

  get(tenant: string, name: string): DeploymentStatus {
    return this.status(this.deployment(tenant, name));
  }

  status(d: Deployment): DeploymentStatus {
    const { store } = this.ctx;
    const services: ServiceStatus[] = [...d.services.values()].map((s) => ({
      name: s.spec.name,
      level: s.level,
      image: { id: s.image.id, name: s.image.name },
      front: s.frontPort === null ? null : `${FRONT_HOST}:${s.frontPort}`,
      port: s.port,
      scaling: s.spec.scaling,
      connectsTo: s.spec.connectsTo.map((c) => c.node),
      networkPolicy: s.policy ?? null,
      ingress: s.ingress?.restricted
        ? {
          nodes: [...s.sourceFronts].map(([source, f]) => ({ source, front: `${FRONT_HOST}:${f.port}` })),
          admits: s.ingress.blocks.map((b) => b.text),
          listen: `${s.ingress.host}:${s.frontPort}`,
          peersChecked: d.peerChecks && s.sourceFronts.size > 0,
        }
        : null,
      instances: s.instances.map((id) => store.getInstance(id)).filter((r): r is InstanceRow => r !== undefined)
        .map(instanceStatus(s.port, s.standby)),
    }));
    const row = d.row;
    return {
      name: row.name, tenant: row.tenant, state: row.state, file: row.file, dir: row.dir,
      createdAt: new Date(row.createdAt).toISOString(), services, outputs: this.outputs(d),
    };
  }

  /**
   * After unikitd starts: running deployments get their fronts back on the same ports with the
   * instances that still run; one caught half-way by a daemon that went away is discarded.
   */
  async restore(): Promise<void> {
    for (const row of this.ctx.deployments.deployments()) {
      const d = new Deployment(this.ctx, row);
      if (row.state !== 'running') {
        this.ctx.log(`deployment ${row.tenant}/${row.name} was ${row.state} when unikitd stopped: removing what it started`);
        await this.discard(d);
        continue;
      }
      const again = await loadServiceTemplate(isAbsolute(row.file) ? row.file : join(row.dir, row.file), { text: row.template, inputs: row.inputs }).catch(() => undefined);
      if (again?.template) d.template = again.template;
      const stored = this.ctx.deployments.services(row.id);
      for (const s of stored) {
        const image = s.imageId === null ? undefined : this.ctx.store.getImage(s.imageId);
        if (!image) {
          this.ctx.log(`deployment ${row.tenant}/${row.name}: the image of service ${s.name} is gone`);
          continue;
        }
        const rt = await d.addService(s.spec, s.level, image, stored.map((x) => x.spec), s.frontPort);
        for (const id of this.ctx.deployments.instances(row.id, s.name)) {
          const inst = this.ctx.store.getInstance(id);
          if (!inst) {
            this.ctx.deployments.unlinkInstance(id);
            continue;
          }
          rt.instances.push(id);
          // The standby stays out of the fronts, and stays the standby.
          if (this.ctx.deployments.role(id) === 'standby' && rt.standby === null) {
            rt.standby = id;
            continue;
          }
          // One that ended while unikitd was away stays listed (status shows how it ended), out of the front.
          const backend = d.backendOf(rt, id);
          const serving = inst.state === 'running' || inst.state === 'starting' || inst.state === 'restarting';
          if (backend && serving) d.rotate(rt, backend);
        }
      }
      for (const s of d.services.values()) {
        await d.makeNetworkPolicy(s).catch((e: Error) => this.ctx.log(`deployment ${row.tenant}/${row.name}: the network policy of ${s.spec.name}: ${e.message}`));
      }
      this.live.set(key(row.tenant, row.name), d);
    }
  }

  /** unikitd stopping: fronts close, instances keep running. */
  async close(): Promise<void> {
    await Promise.all([...this.live.values()].map((d) => d.detach()));
  }

  /** Runs one deploy step; its error names the service and the step. */
  private async step<T>(service: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof FleetError && e.message.startsWith(`service ${service}:`)) throw e;
      const code = e instanceof ImageError ? 'BAD_REQUEST' : e instanceof FleetError ? e.code : 'START_FAILED';
      throw new FleetError(code, `service ${service}: ${what}: ${(e as Error).message}`);
    }
  }

  /** Stops what a deployment started, removes the images it built (unless in use) and its rows. */
  private async discard(d: Deployment): Promise<void> {
    await d.stopAll();
    for (const id of d.built) {
      await removeImage(this.ctx.store, d.tenant, id).catch((e: Error) => this.ctx.log(`keeping image ${id}: ${e.message}`));
    }
    this.ctx.deployments.deleteDeployment(d.row.id);
    this.live.delete(key(d.tenant, d.name));
  }

  /** The template's outputs, get_attribute resolved against the fronts. */
  private outputs(d: Deployment): Record<string, unknown> {
    const t = d.template;
    const out: Record<string, unknown> = {};
    for (const o of t?.outputs ?? []) out[o.name] = resolveValue(d, o.value, t as OutputsSource);
    return out;
  }
}

type OutputsSource = Pick<ServiceTemplate, 'inputs' | 'outputs'>;

/**
 * An output's value: get_attribute [node, address | port | ip_address | instances | addresses]
 * (also through the endpoint capability: [node, endpoint, port]), get_input, concat; literals as written.
 */
function resolveValue(d: Deployment, v: unknown, t: OutputsSource): unknown {
  if (Array.isArray(v)) return v.map((x) => resolveValue(d, x, t));
  if (typeof v !== 'object' || v === null) return v;
  const entries = Object.entries(v);
  if (entries.length !== 1) return v;
  const [fn, arg] = entries[0] as [string, unknown];
  if (fn === 'get_input') return t.inputs[String(Array.isArray(arg) ? arg[0] : arg)]?.value ?? null;
  if (fn === 'concat' && Array.isArray(arg)) return arg.map((x) => String(resolveValue(d, x, t) ?? '')).join('');
  if (fn !== 'get_attribute' || !Array.isArray(arg)) return v;
  const node = String(arg[0]);
  const attr = String(arg[arg.length - 1]);
  const s = d.services.get(node);
  if (!s) return null;
  const addresses = s.instances.map((id) => d.ctx.store.getInstance(id)?.ports.find((p) => p.guestPort === s.port))
    .filter((p) => p !== undefined).map((p) => `${FRONT_HOST}:${p.hostPort}`);
  switch (attr) {
    case 'address': return s.frontPort === null ? null : `${FRONT_HOST}:${s.frontPort}`;
    case 'ip_address': case 'private_address': case 'public_address': return FRONT_HOST;
    case 'port': return s.frontPort;
    case 'instances': return s.instances.length;
    case 'addresses': return addresses;
    case 'level': return s.level;
    default: return null;
  }
}

function instanceStatus(port: number | null, standby: string | null): (r: InstanceRow) => InstanceStatus {
  return (r) => {
    const fwd = r.ports.find((p) => p.guestPort === port);
    return {
      id: r.id, name: r.name, role: r.id === standby ? 'standby' : 'serving', state: r.state, address: fwd ? `${fwd.hostIp}:${fwd.hostPort}` : null, bootMs: r.bootMs,
      exit: r.exitStatus === null ? null : { status: r.exitStatus, reason: r.exitReason ?? '', detail: r.exitDetail },
    };
  };
}

/** src/tosca's services with the port each one's endpoint capability names. */
function servicesOf(t: ServiceTemplate): ServiceSpec[] {
  return unikernelServices(t).map((s) => {
    const port = t.nodes.find((n) => n.name === s.name)?.capabilities.endpoint?.properties.port;
    return typeof port === 'number' ? { ...s, endpointPort: port } : s;
  });
}

function defaultName(t: ServiceTemplate, file: string): string {
  const fromMeta = t.metadata.template_name;
  return typeof fromMeta === 'string' && NAME.test(fromMeta) ? fromMeta : basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '-');
}

function templateError(e: ToscaError): FleetError {
  const lines = e.problems.map(formatProblem);
  return new FleetError('BAD_REQUEST', lines.length === 1 ? `invalid template: ${lines[0] as string}` : `invalid template, ${lines.length} problems:\n${lines.join('\n')}`);
}

function notFound(name: string): FleetError {
  return new FleetError('NOT_FOUND', `no deployment ${JSON.stringify(name)}: see \`unikit status\``);
}

const key = (tenant: string, name: string): string => `${tenant}\0${name}`;
