/**
 * unikitd's state in SQLite (WAL): images and instances, one row each. Every operation on the
 * boot path reads or writes one row by its primary key, so its cost does not grow with the
 * number of instances. Only listings and the start-up reconciliation read whole tables.
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

export interface ImageRow {
  id: string;
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
  createdAt: number;
}

export interface InstanceRow {
  id: string;
  name: string;
  imageId: string;
  memory: number;
  /** argv[1..] replacing the image's; null keeps the image's. */
  args: string[] | null;
  env: string[];
  network: 'none' | 'user';
  ports: PortSpec[];
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
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, dir TEXT NOT NULL, app TEXT NOT NULL, prog TEXT NOT NULL,
  argv TEXT NOT NULL, env TEXT NOT NULL, cwd TEXT NOT NULL, memory INTEGER NOT NULL,
  kernel_size INTEGER NOT NULL, initrd_size INTEGER NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image_id TEXT NOT NULL REFERENCES images(id),
  memory INTEGER NOT NULL, args TEXT, env TEXT NOT NULL, network TEXT NOT NULL, ports TEXT NOT NULL,
  restart_policy TEXT NOT NULL, max_retries INTEGER NOT NULL,
  state TEXT NOT NULL, pid INTEGER, pid_start INTEGER, accel TEXT,
  created_at REAL NOT NULL, started_at REAL, booted_at REAL, boot_ms REAL, finished_at REAL,
  exit_status INTEGER, exit_reason TEXT, exit_detail TEXT,
  restart_count INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS instances_image ON instances(image_id);
CREATE INDEX IF NOT EXISTS instances_state ON instances(state);
`;

type Raw = Record<string, unknown>;

const INSTANCE_COLUMNS: Record<keyof InstanceRow, string> = {
  id: 'id', name: 'name', imageId: 'image_id', memory: 'memory', args: 'args', env: 'env', network: 'network',
  ports: 'ports', restartPolicy: 'restart_policy', maxRetries: 'max_retries', state: 'state', pid: 'pid',
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
    id: r.id as string, name: r.name as string, dir: r.dir as string, app: r.app as string, prog: r.prog as string,
    argv: JSON.parse(r.argv as string) as string[], env: JSON.parse(r.env as string) as string[], cwd: r.cwd as string,
    memory: r.memory as number, kernelSize: r.kernel_size as number, initrdSize: r.initrd_size as number,
    createdAt: r.created_at as number,
  };
}

export class Store {
  private readonly db: Database.Database;
  private readonly updates = new Map<string, Database.Statement>();
  private readonly q: Record<string, Database.Statement>;

  /** `Db` is better-sqlite3's default export, loaded by the caller (only the daemon needs it). */
  constructor(Db: typeof Database, path: string) {
    this.db = new Db(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.q = {
      getImage: this.db.prepare('SELECT * FROM images WHERE id = ?'),
      imageByName: this.db.prepare('SELECT * FROM images WHERE name = ?'),
      imagesByPrefix: this.db.prepare("SELECT * FROM images WHERE id >= ? AND id < ? || '~' LIMIT 2"),
      listImages: this.db.prepare('SELECT * FROM images ORDER BY created_at'),
      deleteImage: this.db.prepare('DELETE FROM images WHERE id = ?'),
      imageUsers: this.db.prepare('SELECT name FROM instances WHERE image_id = ? LIMIT 6'),
      insertImage: this.db.prepare(`INSERT INTO images (id, name, dir, app, prog, argv, env, cwd, memory, kernel_size, initrd_size, created_at)
        VALUES (@id, @name, @dir, @app, @prog, @argv, @env, @cwd, @memory, @kernel_size, @initrd_size, @created_at)`),
      getInstance: this.db.prepare('SELECT * FROM instances WHERE id = ?'),
      instanceByName: this.db.prepare('SELECT * FROM instances WHERE name = ?'),
      instancesByPrefix: this.db.prepare("SELECT * FROM instances WHERE id >= ? AND id < ? || '~' LIMIT 2"),
      listInstances: this.db.prepare('SELECT * FROM instances ORDER BY created_at'),
      activeInstances: this.db.prepare(`SELECT * FROM instances WHERE state IN (${ACTIVE_STATES.map(() => '?').join(', ')})`),
      deleteInstance: this.db.prepare('DELETE FROM instances WHERE id = ?'),
      countInstances: this.db.prepare('SELECT state, COUNT(*) AS n FROM instances GROUP BY state'),
    };
    const cols = Object.values(INSTANCE_COLUMNS);
    this.q.insertInstance = this.db.prepare(`INSERT INTO instances (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
  }

  close(): void {
    this.db.close();
  }

  // ---- images ----

  insertImage(img: ImageRow): void {
    this.unique(() => this.q.insertImage!.run({
      id: img.id, name: img.name, dir: img.dir, app: img.app, prog: img.prog, argv: JSON.stringify(img.argv),
      env: JSON.stringify(img.env), cwd: img.cwd, memory: img.memory, kernel_size: img.kernelSize,
      initrd_size: img.initrdSize, created_at: img.createdAt,
    }), `an image named ${JSON.stringify(img.name)} already exists: choose another name, or remove it first`);
  }

  getImage(id: string): ImageRow | undefined {
    const r = this.q.getImage!.get(id) as Raw | undefined;
    return r && toImage(r);
  }

  /** By exact name, then by exact id, then by id prefix: [] none, 2 entries ambiguous. */
  findImages(ref: string): ImageRow[] {
    const byName = this.q.imageByName!.get(ref) as Raw | undefined;
    if (byName) return [toImage(byName)];
    return (this.q.imagesByPrefix!.all(ref, ref) as Raw[]).map(toImage);
  }

  listImages(): ImageRow[] {
    return (this.q.listImages!.all() as Raw[]).map(toImage);
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

  getInstance(id: string): InstanceRow | undefined {
    const r = this.q.getInstance!.get(id) as Raw | undefined;
    return r && toInstance(r);
  }

  /** By exact name, then by id prefix (which includes the exact id). */
  findInstances(ref: string): InstanceRow[] {
    const byName = this.q.instanceByName!.get(ref) as Raw | undefined;
    if (byName) return [toInstance(byName)];
    return (this.q.instancesByPrefix!.all(ref, ref) as Raw[]).map(toInstance);
  }

  listInstances(): InstanceRow[] {
    return (this.q.listInstances!.all() as Raw[]).map(toInstance);
  }

  activeInstances(): InstanceRow[] {
    return (this.q.activeInstances!.all(...ACTIVE_STATES) as Raw[]).map(toInstance);
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

  private unique(fn: () => unknown, message: string): void {
    try {
      fn();
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new FleetError('CONFLICT', message);
      throw e;
    }
  }
}
