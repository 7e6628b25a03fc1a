/**
 * unikitd itself: one per $UNIKIT_HOME (an exclusive SQLite lock on fleet/daemon.lock, which the
 * kernel releases when the process dies, even by SIGKILL), the state database, reconciliation of
 * the QEMU processes left by an earlier daemon, and the API on the Unix socket (and TCP).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import { projectRoot } from '../project/index.js';
import { type Accel, type AccelRequest, hostTscKhz, reapStaleFences, resolveAccel } from '../vmm/index.js';
import { type ApiHandler, buildApi } from './api.js';
import { FleetError } from './errors.js';
import { type FleetPaths, SOCKET_PATH_MAX, fleetPaths } from './paths.js';
import { hostMemory } from './procfs.js';
import { Store } from './store.js';
import { Supervisor } from './supervisor.js';
import { tenantIsolationNote } from './tenant-net.js';

/** What a module running inside unikitd (the orchestrator) gets: the daemon's state and lifecycle. */
export interface ExtensionContext {
  store: Store;
  supervisor: Supervisor;
  paths: FleetPaths;
  log: (line: string) => void;
}

/** Such a module's API operations (by operationId in api/openapi.yaml) and its shutdown. */
export interface DaemonExtension {
  handlers: Record<string, ApiHandler>;
  close?: () => Promise<void>;
}

export interface DaemonOptions {
  home?: string;
  /** Also listen on TCP (bearer token required). */
  tcp?: { host: string; port: number };
  /** The TCP token; generated into fleet/token when absent. */
  token?: string;
  bootConcurrency?: number;
  memoryBudget?: number;
  vmOverhead?: number;
  hostReserve?: number;
  logCap?: number;
  tbSizeMiB?: number;
  bootTimeoutMs?: number;
  accel?: AccelRequest;
  qemuBinary?: string;
  /** The host policy "signed images only": unsigned images are refused at registration and boot. */
  requireSigned?: boolean;
  log?: (line: string) => void;
  /** Modules that run inside unikitd and serve some of the API's operations; started after reconciliation. */
  extensions?: ((ctx: ExtensionContext) => Promise<DaemonExtension>)[];
}

export interface RunningDaemon {
  paths: FleetPaths;
  tcpAddress?: string;
  tokenFile?: string;
  accel: Accel;
  /** Stops serving and watching; instances keep running. */
  close(): Promise<void>;
  /** Resolves when close() has run (by a call, a signal or POST /v1/shutdown). */
  closed: Promise<void>;
}

/** Charged per instance besides guest RAM: an idle TCG QEMU's own anonymous memory (tb-size 4). */
export const DEFAULT_VM_OVERHEAD = 24 << 20;
export const DEFAULT_LOG_CAP = 1 << 20;

/** One boot per core but one: TCG boots are CPU-bound, and unikitd itself needs a core to stay quick. */
export function defaultBootConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function defaultMemoryBudget(): number {
  const total = hostMemory().totalBytes;
  return total - Math.max(1 << 30, Math.floor(total / 10));
}

export async function startDaemon(o: DaemonOptions = {}): Promise<RunningDaemon> {
  const paths = fleetPaths(o.home);
  const log = o.log ?? ((line: string): void => void process.stderr.write(`unikitd: ${line}\n`));
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  mkdirSync(paths.images, { recursive: true });
  mkdirSync(paths.instances, { recursive: true });
  const longest = `${paths.instances}/000000000000/qmp.sock`;
  if (Buffer.byteLength(longest) > SOCKET_PATH_MAX) {
    throw new FleetError('BAD_REQUEST', `UNIKIT_HOME ${paths.home} is too long: Unix socket paths under it would pass ${SOCKET_PATH_MAX} bytes; use a shorter UNIKIT_HOME`);
  }

  // Loaded here, not at the top: the CLI's other commands should not pay for it.
  const Database = ((await import('better-sqlite3')) as unknown as { default: typeof import('better-sqlite3') }).default;
  const lock = new Database(paths.lock, { timeout: 0 });
  try {
    lock.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new FleetError('DAEMON_RUNNING', `another unikitd already serves ${paths.home} (socket ${paths.socket})`);
    }
    throw e;
  }

  const store = new Store(Database, paths.db);
  const accel = resolveAccel(o.accel ?? 'auto', log);
  const tscKhz = hostTscKhz({ home: paths.home });
  const supervisor = new Supervisor({
    paths, store, accel, tscKhz,
    bootConcurrency: o.bootConcurrency ?? defaultBootConcurrency(),
    memoryBudget: o.memoryBudget ?? defaultMemoryBudget(),
    vmOverhead: o.vmOverhead ?? DEFAULT_VM_OVERHEAD,
    hostReserve: o.hostReserve ?? 256 << 20,
    bootTimeoutMs: o.bootTimeoutMs ?? 30_000,
    logCap: o.logCap ?? DEFAULT_LOG_CAP,
    tbSizeMiB: o.tbSizeMiB ?? 4,
    qemuBinary: o.qemuBinary,
    requireSigned: o.requireSigned,
    log,
  });
  const reconciled = await supervisor.reconcile();
  if (reconciled.adopted + reconciled.ended + reconciled.orphansKilled + reconciled.restarted > 0) {
    log(`reconciled: ${reconciled.adopted} adopted, ${reconciled.ended} ended while away, ${reconciled.orphansKilled} orphans killed, ${reconciled.restarted} restarted`);
  }
  supervisor.run();
  // Host fences a crash left behind go now (their VMs are gone); then say what keeps tenants apart.
  await reapStaleFences();
  const isolation = tenantIsolationNote();
  if (isolation) log(isolation);
  const extensions: DaemonExtension[] = [];
  for (const start of o.extensions ?? []) extensions.push(await start({ store, supervisor, paths, log }));

  let token = o.token;
  let tokenFile: string | undefined;
  if (o.tcp && token === undefined) {
    tokenFile = paths.token;
    if (existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
    else {
      token = randomBytes(24).toString('hex');
      writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
    }
  }

  const startedAt = new Date().toISOString();
  const version = (JSON.parse(readFileSync(`${projectRoot()}/package.json`, 'utf8')) as { version: string }).version;
  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  let tcpServer: Server | undefined;
  let tcpAddress: string | undefined;

  const api = await buildApi({
    store, supervisor, paths, token, requireSigned: o.requireSigned,
    extraHandlers: Object.assign({}, ...extensions.map((e) => e.handlers)) as Record<string, ApiHandler>,
    shutdown: () => void close(),
    info: () => ({
      version, pid: process.pid, home: paths.home, socket: paths.socket, tcp: tcpAddress ?? null, accel,
      bootConcurrency: supervisor.bootSlots.limit, bootSlots: supervisor.bootSlots,
      memoryBudget: o.memoryBudget ?? defaultMemoryBudget(), memoryCommitted: supervisor.committedBytes,
      vmOverhead: o.vmOverhead ?? DEFAULT_VM_OVERHEAD, hostMemory: hostMemory(), instances: store.countByState(),
      live: supervisor.liveCount, startedAt, reconciled,
    }),
  });

  try {
    unlinkSync(paths.socket); // stale: we hold the lock, so no daemon serves it
  } catch {
    // none
  }
  await new Promise<void>((resolve, reject) => {
    api.server.once('error', reject);
    api.server.listen(paths.socket, () => resolve());
  });
  chmodSync(paths.socket, 0o600);
  if (o.tcp) {
    tcpServer = createServer(api.handler);
    const t = o.tcp;
    await new Promise<void>((resolve, reject) => {
      tcpServer?.once('error', reject);
      tcpServer?.listen(t.port, t.host, () => resolve());
    });
    const addr = tcpServer.address();
    tcpAddress = typeof addr === 'object' && addr ? `${t.host}:${addr.port}` : `${t.host}:${t.port}`;
  }
  writeFileSync(`${paths.root}/unikitd.pid`, `${process.pid}\n`);

  async function close(): Promise<void> {
    closing ??= (async () => {
      supervisor.close();
      for (const s of [api.server, tcpServer]) {
        s?.close();
        s?.closeAllConnections();
      }
      await api.app.close().catch(() => undefined);
      for (const e of extensions) await e.close?.().catch((err: unknown) => log(`closing an extension: ${String(err)}`));
      try {
        unlinkSync(paths.socket);
      } catch {
        // gone already
      }
      store.close();
      lock.close();
      markClosed();
    })();
    return closing;
  }

  return { paths, tcpAddress, tokenFile, accel, close, closed };
}
