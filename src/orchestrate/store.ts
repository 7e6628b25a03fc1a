/**
 * The orchestrator's state, in unikitd's SQLite database (its own connection, its own tables):
 * deployments, their services, which instances belong to which service, and the image factory's
 * cache (content hash -> registered image). Instances and images themselves stay in src/fleet's
 * tables; these tables only point at them.
 */
import type Database from 'better-sqlite3';
import type { Level } from '../security/index.js';
import type { UnikernelService } from '../tosca/index.js';

/** A service as deployed: src/tosca's resolved service and the port its endpoint capability names. */
export type ServiceSpec = UnikernelService & { endpointPort?: number };

export type DeploymentState = 'deploying' | 'running' | 'failed' | 'removing';

export interface DeploymentRow {
  id: string;
  tenant: string;
  name: string;
  /** The template file's name, shown in problems; relative paths resolve against `dir`. */
  file: string;
  dir: string;
  template: string;
  inputs: Record<string, unknown>;
  state: DeploymentState;
  createdAt: number;
}

export interface ServiceRow {
  deploymentId: string;
  name: string;
  level: Level;
  imageId: string | null;
  /** The host port of the service's front (its one stable address), null for a service without ports. */
  frontPort: number | null;
  /** The guest port the front forwards to. */
  port: number | null;
  /** The service as resolved at deploy time: what its instances are made from after a unikitd restart. */
  spec: ServiceSpec;
}

/** What an instance of a deployment is for: behind the front, or booted and kept out of it. */
export type InstanceRole = 'serving' | 'standby';

export interface FactoryRow {
  hash: string;
  tenant: string;
  imageId: string;
  level: Level;
  createdAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deployments (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, dir TEXT NOT NULL,
  template TEXT NOT NULL, inputs TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
  UNIQUE (tenant, name)
);
CREATE TABLE IF NOT EXISTS deployment_services (
  deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE, name TEXT NOT NULL,
  level TEXT NOT NULL, image_id TEXT, front_port INTEGER, port INTEGER, spec TEXT NOT NULL,
  PRIMARY KEY (deployment_id, name)
);
CREATE TABLE IF NOT EXISTS deployment_instances (
  instance_id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  service TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'serving'
);
CREATE TABLE IF NOT EXISTS deployment_fronts (
  deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE, service TEXT NOT NULL,
  source TEXT NOT NULL, port INTEGER NOT NULL,
  PRIMARY KEY (deployment_id, service, source)
);
CREATE INDEX IF NOT EXISTS deployment_instances_deployment ON deployment_instances(deployment_id);
CREATE TABLE IF NOT EXISTS factory_images (
  hash TEXT PRIMARY KEY, tenant TEXT NOT NULL, image_id TEXT NOT NULL, level TEXT NOT NULL, created_at REAL NOT NULL
);
`;

type Raw = Record<string, unknown>;

const toDeployment = (r: Raw): DeploymentRow => ({
  id: r.id as string, tenant: r.tenant as string, name: r.name as string, file: r.file as string, dir: r.dir as string,
  template: r.template as string, inputs: JSON.parse(r.inputs as string) as Record<string, unknown>,
  state: r.state as DeploymentState, createdAt: r.created_at as number,
});

const toService = (r: Raw): ServiceRow => ({
  deploymentId: r.deployment_id as string, name: r.name as string, level: r.level as Level,
  imageId: r.image_id as string | null, frontPort: r.front_port as number | null, port: r.port as number | null,
  spec: JSON.parse(r.spec as string) as ServiceSpec,
});

export class DeploymentStore {
  private readonly db: Database.Database;

  /** `Db` is better-sqlite3's default export; `path` is unikitd's state database. */
  constructor(Db: typeof Database, path: string) {
    this.db = new Db(path, { timeout: 5000 });
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    // Databases made before instances had a role: every instance there served.
    const columns = this.db.prepare('PRAGMA table_info(deployment_instances)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'role')) this.db.exec("ALTER TABLE deployment_instances ADD COLUMN role TEXT NOT NULL DEFAULT 'serving'");
  }

  close(): void {
    this.db.close();
  }

  /** Claims the name for the tenant; false when the tenant has a deployment of that name already. */
  insertDeployment(d: DeploymentRow): boolean {
    try {
      this.db.prepare(`INSERT INTO deployments (id, tenant, name, file, dir, template, inputs, state, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.id, d.tenant, d.name, d.file, d.dir, d.template, JSON.stringify(d.inputs), d.state, d.createdAt);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw e;
    }
  }

  deployment(tenant: string, name: string): DeploymentRow | undefined {
    const r = this.db.prepare('SELECT * FROM deployments WHERE tenant = ? AND name = ?').get(tenant, name) as Raw | undefined;
    return r && toDeployment(r);
  }

  /** The tenant's deployments, or every tenant's when `tenant` is undefined (unikitd's own restart). */
  deployments(tenant?: string): DeploymentRow[] {
    const rows = tenant === undefined
      ? this.db.prepare('SELECT * FROM deployments ORDER BY created_at').all()
      : this.db.prepare('SELECT * FROM deployments WHERE tenant = ? ORDER BY created_at').all(tenant);
    return (rows as Raw[]).map(toDeployment);
  }

  setState(id: string, state: DeploymentState): void {
    this.db.prepare('UPDATE deployments SET state = ? WHERE id = ?').run(state, id);
  }

  /** Removes the deployment with its services and instance links. */
  deleteDeployment(id: string): void {
    this.db.prepare('DELETE FROM deployments WHERE id = ?').run(id);
  }

  putService(s: ServiceRow): void {
    this.db.prepare(`INSERT INTO deployment_services (deployment_id, name, level, image_id, front_port, port, spec) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (deployment_id, name) DO UPDATE SET level = excluded.level, image_id = excluded.image_id,
      front_port = excluded.front_port, port = excluded.port, spec = excluded.spec`)
      .run(s.deploymentId, s.name, s.level, s.imageId, s.frontPort, s.port, JSON.stringify(s.spec));
  }

  services(deploymentId: string): ServiceRow[] {
    return (this.db.prepare('SELECT * FROM deployment_services WHERE deployment_id = ? ORDER BY rowid').all(deploymentId) as Raw[]).map(toService);
  }

  linkInstance(instanceId: string, deploymentId: string, service: string, role: InstanceRole = 'serving'): void {
    this.db.prepare('INSERT INTO deployment_instances (instance_id, deployment_id, service, role) VALUES (?, ?, ?, ?)').run(instanceId, deploymentId, service, role);
  }

  setRole(instanceId: string, role: InstanceRole): void {
    this.db.prepare('UPDATE deployment_instances SET role = ? WHERE instance_id = ?').run(role, instanceId);
  }

  /** The instance's role; 'serving' for one the table does not know. */
  role(instanceId: string): InstanceRole {
    const r = this.db.prepare('SELECT role FROM deployment_instances WHERE instance_id = ?').get(instanceId) as { role: InstanceRole } | undefined;
    return r?.role ?? 'serving';
  }

  /** The ports of a service's per-source fronts (source node -> host port). */
  sourceFronts(deploymentId: string, service: string): Map<string, number> {
    const rows = this.db.prepare('SELECT source, port FROM deployment_fronts WHERE deployment_id = ? AND service = ?').all(deploymentId, service) as { source: string; port: number }[];
    return new Map(rows.map((r) => [r.source, r.port]));
  }

  putSourceFront(deploymentId: string, service: string, source: string, port: number): void {
    this.db.prepare('INSERT OR REPLACE INTO deployment_fronts (deployment_id, service, source, port) VALUES (?, ?, ?, ?)').run(deploymentId, service, source, port);
  }

  unlinkInstance(instanceId: string): void {
    this.db.prepare('DELETE FROM deployment_instances WHERE instance_id = ?').run(instanceId);
  }

  /** Instance ids of a deployment (of one service when given), oldest first. */
  instances(deploymentId: string, service?: string): string[] {
    const rows = service === undefined
      ? this.db.prepare('SELECT instance_id FROM deployment_instances WHERE deployment_id = ? ORDER BY rowid').all(deploymentId)
      : this.db.prepare('SELECT instance_id FROM deployment_instances WHERE deployment_id = ? AND service = ? ORDER BY rowid').all(deploymentId, service);
    return (rows as { instance_id: string }[]).map((r) => r.instance_id);
  }

  /** The deployment an instance belongs to, if any. */
  owner(instanceId: string): { deploymentId: string; service: string } | undefined {
    const r = this.db.prepare('SELECT deployment_id, service FROM deployment_instances WHERE instance_id = ?').get(instanceId) as Raw | undefined;
    return r && { deploymentId: r.deployment_id as string, service: r.service as string };
  }

  cached(hash: string): FactoryRow | undefined {
    const r = this.db.prepare('SELECT * FROM factory_images WHERE hash = ?').get(hash) as Raw | undefined;
    return r && { hash: r.hash as string, tenant: r.tenant as string, imageId: r.image_id as string, level: r.level as Level, createdAt: r.created_at as number };
  }

  putCached(f: FactoryRow): void {
    this.db.prepare('INSERT OR REPLACE INTO factory_images (hash, tenant, image_id, level, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(f.hash, f.tenant, f.imageId, f.level, f.createdAt);
  }

  forgetCached(hash: string): void {
    this.db.prepare('DELETE FROM factory_images WHERE hash = ?').run(hash);
  }
}
