/**
 * unikitd's state in SQLite (WAL): tenants, images and instances, one row each, and the
 * append-only audit log. Every operation on the boot path reads or writes one row by its primary
 * key, so its cost does not grow with the number of instances. Only listings and the start-up
 * reconciliation read whole tables.
 *
 * Every image and instance belongs to one tenant; the lookups API requests use take the tenant
 * and see nothing of another's (names are unique per tenant). A database from before tenants is
 * migrated at open: its rows go to the tenant `default`.
 */
import type Database from 'better-sqlite3';
import { FleetError } from './errors.js';

export type InstanceState = 'created' | 'starting' | 'running' | 'stopping' | 'exited' | 'restarting' | 'lost';
export const INSTANCE_STATES: readonly InstanceState[] = ['created', 'starting', 'running', 'stopping', 'exited', 'restarting', 'lost'];
/** States in which a QEMU process may exist or is about to. */
export const ACTIVE_STATES: readonly InstanceState[] = ['starting', 'running', 'stopping', 'restarting'];

export type RestartPolicy = 'no' | 'on-failure' | 'always';

export interface PortSpec {
  proto: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  guestPort: number;
}

/** The tenant every request acts as when it names none (and the owner of pre-tenant rows). */
export const DEFAULT_TENANT = 'default';

export interface TenantRow {
  name: string;
  /** SHA-256 (hex) of the tenant's API token; null: no token (reachable only by the admin). */
  tokenHash: string | null;
  /** Instances not exited at once; null: no limit. */
  maxInstances: number | null;
  /** Bytes of guest memory of its active instances together; null: no limit. */
  maxMemory: number | null;
  /** Its tap network's number: bridge and subnet (src/fleet/tenant-net.ts). */
  netIndex: number;
  createdAt: number;
}

export interface ImageRow {
  id: string;
  tenant: string;
  name: string;
  dir: string;
  app: string;
  prog: string;
  argv: string[];
  env: string[];
  cwd: string;
  memory: number;
  kernelSize: number;
  initrdSize: number;
  /** The security level it was built for (manifest), null without one. */
  level: string | null;
  /** It carries a signature that verified when it was registered. */
  signed: boolean;
  createdAt: number;
}

export type InstanceNetwork = 'none' | 'user' | 'tap';

export interface InstanceRow {
  id: string;
  tenant: string;
  name: string;
  imageId: string;
  memory: number;
  /** argv[1..] replacing the image's; null keeps the image's. */
  args: string[] | null;
  env: string[];
  network: InstanceNetwork;
  ports: PortSpec[];
  /** With a tap: the guest's address on its tenant's bridge, while it runs. */
  ip: string | null;
  restartPolicy: RestartPolicy;
  maxRetries: number;
  state: InstanceState;
  pid: number | null;
  pidStart: number | null;
  accel: string | null;
  createdAt: number;
  startedAt: number | null;
  bootedAt: number | null;
  bootMs: number | null;
  finishedAt: number | null;
  exitStatus: number | null;
  exitReason: string | null;
  exitDetail: string | null;
  restartCount: number;
  stopRequested: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tenants (
  name TEXT PRIMARY KEY, token_hash TEXT UNIQUE, max_instances INTEGER, max_memory INTEGER,
  net_index INTEGER NOT NULL UNIQUE, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(name), name TEXT NOT NULL, dir TEXT NOT NULL,
  app TEXT NOT NULL, prog TEXT NOT NULL, argv TEXT NOT NULL, env TEXT NOT NULL, cwd TEXT NOT NULL, memory INTEGER NOT NULL,
  kernel_size INTEGER NOT NULL, initrd_size INTEGER NOT NULL, level TEXT, signed INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, UNIQUE (tenant, name)
);
CREATE TABLE IF NOT EXISTS instances (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(name), name TEXT NOT NULL,
  image_id TEXT NOT NULL REFERENCES images(id),
  memory INTEGER NOT NULL, args TEXT, env TEXT NOT NULL, network TEXT NOT NULL, ports TEXT NOT NULL, ip TEXT,
  restart_policy TEXT NOT NULL, max_retries INTEGER NOT NULL,
  state TEXT NOT NULL, pid INTEGER, pid_start INTEGER, accel TEXT,
  created_at REAL NOT NULL, started_at REAL, booted_at REAL, boot_ms REAL, finished_at REAL,
  exit_status INTEGER, exit_reason TEXT, exit_detail TEXT,
  restart_count INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0,
  UNIQUE (tenant, name)
);
CREATE INDEX IF NOT EXISTS instances_image ON instances(image_id);
CREATE INDEX IF NOT EXISTS instances_state ON instances(state);
CREATE INDEX IF NOT EXISTS instances_tenant ON instances(tenant, state);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, tenant TEXT NOT NULL, actor TEXT NOT NULL,
  kind TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_tenant ON audit(tenant, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: its rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: its rows cannot be deleted'); END;
`;

type Raw = Record<string, unknown>;

const INSTANCE_COLUMNS: Record<keyof InstanceRow, string> = {
  id: 'id', tenant: 'tenant', name: 'name', imageId: 'image_id', memory: 'memory', args: 'args', env: 'env', network: 'network',
  ports: 'ports', ip: 'ip', restartPolicy: 'restart_policy', maxRetries: 'max_retries', state: 'state', pid: 'pid',
  pidStart: 'pid_start', accel: 'accel', createdAt: 'created_at', startedAt: 'started_at', bootedAt: 'booted_at',
  bootMs: 'boot_ms', finishedAt: 'finished_at', exitStatus: 'exit_status', exitReason: 'exit_reason',
  exitDetail: 'exit_detail', restartCount: 'restart_count', stopRequested: 'stop_requested',
};
const JSON_FIELDS = new Set<keyof InstanceRow>(['args', 'env', 'ports']);

function toInstance(r: Raw): InstanceRow {
  const out: Record<string, unknown> = {};
  for (const [key, col] of Object.entries(INSTANCE_COLUMNS)) {
    const v = r[col];
    out[key] = JSON_FIELDS.has(key as keyof InstanceRow) ? (v === null ? null : JSON.parse(v as string)) : v;
  }
  out.stopRequested = r.stop_requested === 1;
  return out as unknown as InstanceRow;
}

function fromInstance(patch: Partial<InstanceRow>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const col = INSTANCE_COLUMNS[key as keyof InstanceRow];
    if (!col) continue;
    if (JSON_FIELDS.has(key as keyof InstanceRow)) out[col] = value === null ? null : JSON.stringify(value);
    else if (typeof value === 'boolean') out[col] = value ? 1 : 0;
    else out[col] = value;
  }
  return out;
}

function toImage(r: Raw): ImageRow {
  return {
    id: r.id as string, tenant: r.tenant as string, name: r.name as string, dir: r.dir as string, app: r.app as string,
    prog: r.prog as string, argv: JSON.parse(r.argv as string) as string[], env: JSON.parse(r.env as string) as string[],
    cwd: r.cwd as string, memory: r.memory as number, kernelSize: r.kernel_size as number, initrdSize: r.initrd_size as number,
    level: (r.level as string | null) ?? null, signed: r.signed === 1, createdAt: r.created_at as number,
  };
}

function toTenant(r: Raw): TenantRow {
  return {
    name: r.name as string, tokenHash: (r.token_hash as string | null) ?? null, maxInstances: (r.max_instances as number | null) ?? null,
    maxMemory: (r.max_memory as number | null) ?? null, netIndex: r.net_index as number, createdAt: r.created_at as number,
  };
}

/** One row of the audit log. */
export interface AuditRow {
  seq: number;
  /** ISO time. */
  at: string;
  tenant: string;
  /** Who decided or asked: "admin", "tenant:NAME", "unikitd", "orchestrator". */
  actor: string;
  kind: string;
  /** What it is about: an image, an instance, a tenant, a service. */
  subject: string;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  /** undefined: every tenant's. */
  tenant?: string;
  /** Rows after this sequence number. */
  since?: number;
  kind?: string;
  limit?: number;
}

/** Instances (not exited) and guest memory of the active ones, of one tenant. */
export interface TenantUsage {
  instances: number;
  memory: number;
}

/** The states that do not count against a tenant's instance quota. */
const ENDED_STATES: readonly InstanceState[] = ['exited', 'lost'];

export class Store {
  private readonly db: Database.Database;
  private readonly updates = new Map<string, Database.Statement>();
  private readonly q: Record<string, Database.Statement>;

  /** `Db` is better-sqlite3's default export, loaded by the caller (only the daemon needs it). */
  constructor(Db: typeof Database, path: string) {
    this.db = new Db(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.db.prepare(`INSERT OR IGNORE INTO tenants (name, token_hash, max_instances, max_memory, net_index, created_at)
      VALUES (?, NULL, NULL, NULL, 0, ?)`).run(DEFAULT_TENANT, Date.now());
    const active = ACTIVE_STATES.map((s) => `'${s}'`).join(', ');
    const ended = ENDED_STATES.map((s) => `'${s}'`).join(', ');
    this.q = {
      getImage: this.db.prepare('SELECT * FROM images WHERE id = ?'),
      imageByName: this.db.prepare('SELECT * FROM images WHERE tenant = ? AND name = ?'),
      imagesByPrefix: this.db.prepare("SELECT * FROM images WHERE tenant = ? AND id >= ? AND id < ? || '~' LIMIT 2"),
      listImages: this.db.prepare('SELECT * FROM images WHERE tenant = ? ORDER BY created_at'),
      listAllImages: this.db.prepare('SELECT * FROM images ORDER BY created_at'),
      deleteImage: this.db.prepare('DELETE FROM images WHERE id = ?'),
      imageUsers: this.db.prepare('SELECT name FROM instances WHERE image_id = ? LIMIT 6'),
      insertImage: this.db.prepare(`INSERT INTO images (id, tenant, name, dir, app, prog, argv, env, cwd, memory, kernel_size, initrd_size, level, signed, created_at)
        VALUES (@id, @tenant, @name, @dir, @app, @prog, @argv, @env, @cwd, @memory, @kernel_size, @initrd_size, @level, @signed, @created_at)`),
      getInstance: this.db.prepare('SELECT * FROM instances WHERE id = ?'),
      instanceByName: this.db.prepare('SELECT * FROM instances WHERE tenant = ? AND name = ?'),
      instancesByPrefix: this.db.prepare("SELECT * FROM instances WHERE tenant = ? AND id >= ? AND id < ? || '~' LIMIT 2"),
      listInstances: this.db.prepare('SELECT * FROM instances WHERE tenant = ? ORDER BY created_at'),
      listAllInstances: this.db.prepare('SELECT * FROM instances ORDER BY created_at'),
      activeInstances: this.db.prepare(`SELECT * FROM instances WHERE state IN (${active})`),
      deleteInstance: this.db.prepare('DELETE FROM instances WHERE id = ?'),
      countInstances: this.db.prepare('SELECT state, COUNT(*) AS n FROM instances GROUP BY state'),
      usage: this.db.prepare(`SELECT
          COALESCE(SUM(CASE WHEN state NOT IN (${ended}) THEN 1 ELSE 0 END), 0) AS instances,
          COALESCE(SUM(CASE WHEN state IN (${active}) THEN memory ELSE 0 END), 0) AS memory
        FROM instances WHERE tenant = ? AND id != ?`),
      owned: this.db.prepare('SELECT (SELECT COUNT(*) FROM images WHERE tenant = @t) AS images, (SELECT COUNT(*) FROM instances WHERE tenant = @t) AS instances'),
      getTenant: this.db.prepare('SELECT * FROM tenants WHERE name = ?'),
      listTenants: this.db.prepare('SELECT * FROM tenants ORDER BY created_at, name'),
      insertTenant: this.db.prepare(`INSERT INTO tenants (name, token_hash, max_instances, max_memory, net_index, created_at)
        VALUES (@name, @token_hash, @max_instances, @max_memory,
          (SELECT MIN(n) FROM (SELECT 0 AS n UNION SELECT net_index + 1 FROM tenants) WHERE n NOT IN (SELECT net_index FROM tenants)), @created_at)`),
      setTenantToken: this.db.prepare('UPDATE tenants SET token_hash = ? WHERE name = ?'),
      deleteTenant: this.db.prepare('DELETE FROM tenants WHERE name = ?'),
      insertAudit: this.db.prepare('INSERT INTO audit (at, tenant, actor, kind, subject, detail) VALUES (@at, @tenant, @actor, @kind, @subject, @detail)'),
    };
    const cols = Object.values(INSTANCE_COLUMNS);
    this.q.insertInstance = this.db.prepare(`INSERT INTO instances (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
  }

  close(): void {
    this.db.close();
  }

  /**
   * A database from before tenants: images and instances are rebuilt with a tenant column (their
   * names were unique across the host, now per tenant, which SQLite cannot alter in place); every
   * old row goes to the tenant `default`. One transaction: a crash leaves the old tables.
   */
  private migrate(): void {
    const columns = (table: string): string[] => (this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    const old = columns('images');
    if (old.length === 0 || old.includes('tenant')) return;
    this.db.pragma('foreign_keys = OFF');
    this.db.transaction(() => {
      const oldInstances = columns('instances');
      this.db.exec('ALTER TABLE images RENAME TO images_pre_tenants; ALTER TABLE instances RENAME TO instances_pre_tenants;');
      this.db.exec('DROP INDEX IF EXISTS instances_image; DROP INDEX IF EXISTS instances_state;');
      this.db.exec(SCHEMA);
      this.db.prepare(`INSERT OR IGNORE INTO tenants (name, token_hash, max_instances, max_memory, net_index, created_at)
        VALUES (?, NULL, NULL, NULL, 0, ?)`).run(DEFAULT_TENANT, Date.now());
      const copy = (from: string, to: string, have: string[]): void => {
        const shared = columns(to).filter((c) => have.includes(c));
        this.db.exec(`INSERT INTO ${to} (tenant, ${shared.join(', ')}) SELECT '${DEFAULT_TENANT}', ${shared.join(', ')} FROM ${from}`);
      };
      copy('images_pre_tenants', 'images', old);
      copy('instances_pre_tenants', 'instances', oldInstances);
      this.db.exec('DROP TABLE instances_pre_tenants; DROP TABLE images_pre_tenants;');
    })();
  }

  /** Runs `fn` in one transaction (better-sqlite3's: synchronous, so nothing interleaves). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- tenants ----

  /** Adds a tenant with the next free network number. */
  insertTenant(t: Omit<TenantRow, 'netIndex'>): TenantRow {
    this.unique(() => this.q.insertTenant!.run({
      name: t.name, token_hash: t.tokenHash, max_instances: t.maxInstances, max_memory: t.maxMemory, created_at: t.createdAt,
    }), `a tenant named ${JSON.stringify(t.name)} already exists`);
    return this.getTenant(t.name) as TenantRow;
  }

  getTenant(name: string): TenantRow | undefined {
    const r = this.q.getTenant!.get(name) as Raw | undefined;
    return r && toTenant(r);
  }

  listTenants(): TenantRow[] {
    return (this.q.listTenants!.all() as Raw[]).map(toTenant);
  }

  setTenantToken(name: string, tokenHash: string | null): void {
    this.q.setTenantToken!.run(tokenHash, name);
  }

  deleteTenant(name: string): void {
    this.q.deleteTenant!.run(name);
  }

  /** How many images and instances the tenant owns (a tenant that owns any cannot be removed). */
  owned(tenant: string): { images: number; instances: number } {
    return this.q.owned!.get({ t: tenant }) as { images: number; instances: number };
  }

  /** The tenant's instances not exited and the guest memory of its active ones, without `exceptId`. */
  usage(tenant: string, exceptId = ''): TenantUsage {
    return this.q.usage!.get(tenant, exceptId) as TenantUsage;
  }

  // ---- images ----

  insertImage(img: ImageRow): void {
    this.unique(() => this.q.insertImage!.run({
      id: img.id, tenant: img.tenant, name: img.name, dir: img.dir, app: img.app, prog: img.prog, argv: JSON.stringify(img.argv),
      env: JSON.stringify(img.env), cwd: img.cwd, memory: img.memory, kernel_size: img.kernelSize,
      initrd_size: img.initrdSize, level: img.level, signed: img.signed ? 1 : 0, created_at: img.createdAt,
    }), `an image named ${JSON.stringify(img.name)} already exists: choose another name, or remove it first`);
  }

  /** By id, whoever owns it: for the daemon's own use, never for a tenant's reference. */
  getImage(id: string): ImageRow | undefined {
    const r = this.q.getImage!.get(id) as Raw | undefined;
    return r && toImage(r);
  }

  /** The tenant's images by exact name, then by id prefix: [] none, 2 entries ambiguous. */
  findImages(tenant: string, ref: string): ImageRow[] {
    const byName = this.q.imageByName!.get(tenant, ref) as Raw | undefined;
    if (byName) return [toImage(byName)];
    return (this.q.imagesByPrefix!.all(tenant, ref, ref) as Raw[]).map(toImage);
  }

  /** The tenant's images; every tenant's when `tenant` is undefined. */
  listImages(tenant?: string): ImageRow[] {
    return ((tenant === undefined ? this.q.listAllImages!.all() : this.q.listImages!.all(tenant)) as Raw[]).map(toImage);
  }

  deleteImage(id: string): void {
    this.q.deleteImage!.run(id);
  }

  /** Names of up to 6 instances made from the image. */
  imageUsers(id: string): string[] {
    return (this.q.imageUsers!.all(id) as { name: string }[]).map((r) => r.name);
  }

  // ---- instances ----

  insertInstance(row: InstanceRow): void {
    this.unique(() => this.q.insertInstance!.run(fromInstance(row)),
      `an instance named ${JSON.stringify(row.name)} already exists: choose another name, or remove it first`);
  }

  /** By id, whoever owns it: for the daemon's own use, never for a tenant's reference. */
  getInstance(id: string): InstanceRow | undefined {
    const r = this.q.getInstance!.get(id) as Raw | undefined;
    return r && toInstance(r);
  }

  /** The tenant's instances by exact name, then by id prefix (which includes the exact id). */
  findInstances(tenant: string, ref: string): InstanceRow[] {
    const byName = this.q.instanceByName!.get(tenant, ref) as Raw | undefined;
    if (byName) return [toInstance(byName)];
    return (this.q.instancesByPrefix!.all(tenant, ref, ref) as Raw[]).map(toInstance);
  }

  /** The tenant's instances; every tenant's when `tenant` is undefined. */
  listInstances(tenant?: string): InstanceRow[] {
    return ((tenant === undefined ? this.q.listAllInstances!.all() : this.q.listInstances!.all(tenant)) as Raw[]).map(toInstance);
  }

  activeInstances(): InstanceRow[] {
    return (this.q.activeInstances!.all() as Raw[]).map(toInstance);
  }

  countByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.q.countInstances!.all() as { state: string; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /** One row, by primary key; returns the row after the change (undefined if it is gone). */
  updateInstance(id: string, patch: Partial<InstanceRow>): InstanceRow | undefined {
    const values = fromInstance(patch);
    const cols = Object.keys(values);
    if (cols.length) {
      const key = cols.join(',');
      let st = this.updates.get(key);
      if (!st) {
        st = this.db.prepare(`UPDATE instances SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @__id`);
        this.updates.set(key, st);
      }
      st.run({ ...values, __id: id });
    }
    return this.getInstance(id);
  }

  deleteInstance(id: string): void {
    this.q.deleteInstance!.run(id);
  }

  // ---- audit ----

  /** Appends one row; returns its sequence number. */
  insertAudit(row: Omit<AuditRow, 'seq'>): number {
    const r = this.q.insertAudit!.run({ ...row, detail: JSON.stringify(row.detail) });
    return Number(r.lastInsertRowid);
  }

  listAudit(f: AuditFilter = {}): AuditRow[] {
    const where: string[] = ['seq > @since'];
    if (f.tenant !== undefined) where.push('tenant = @tenant');
    if (f.kind !== undefined) where.push('kind = @kind');
    const sql = `SELECT * FROM audit WHERE ${where.join(' AND ')} ORDER BY seq LIMIT @limit`;
    let st = this.updates.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.updates.set(sql, st);
    }
    const params: Record<string, unknown> = { since: f.since ?? 0, limit: f.limit ?? 1000 };
    if (f.tenant !== undefined) params.tenant = f.tenant;
    if (f.kind !== undefined) params.kind = f.kind;
    return (st.all(params) as Raw[]).map((r) => ({
      seq: r.seq as number, at: r.at as string, tenant: r.tenant as string, actor: r.actor as string, kind: r.kind as string,
      subject: r.subject as string, detail: JSON.parse(r.detail as string) as Record<string, unknown>,
    }));
  }

  private unique(fn: () => unknown, message: string): void {
    try {
      fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new FleetError('CONFLICT', message);
      throw e;
    }
  }
}
