/**
 * The lifecycle of instances: admission (memory, ports), the boot queue, spawning QEMU detached,
 * noticing "@entering-program", noticing the end of QEMU (its 'exit' as our child; for processes
 * adopted after a daemon restart, the QMP socket closing and a 1 s sweep of their pids), recording
 * status and reason, restart policies with back-off, graceful stop then kill, and reconciliation
 * when unikitd starts.
 *
 * Per boot the work is constant: one row read and a few one-row writes, one spawn, one inotify
 * watch on the instance's kernel log until its marker arrives. No lock is held across a boot; the
 * only shared thing is the slot counter that bounds parallel boots.
 */
import type { ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { EventEmitter } from 'node:events';
import { type FSWatcher, mkdirSync, renameSync, rmSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { UNIKIT_ABI, withListenPorts } from '../abi/index.js';
import { ImageError, bootFlags, loadVerifiedImage } from '../image/index.js';
import { type Accel, type NetworkPolicy, QmpClient, TAP_STATE_DIR, type TapLease, acquireTap, launchDetached } from '../vmm/index.js';
import { appendAudit } from './audit.js';
import { FleetError, InsufficientMemoryError, NotFoundError } from './errors.js';
import { unsignedRefusal } from './images.js';
import { findAttacks } from './attacks.js';
import { capFile, fileSize, findExitMarker, readRange } from './logs.js';
import { type FleetPaths, instanceFiles } from './paths.js';
import { findProcesses, hostMemory, isSameProcess, procStat, signalProcess } from './procfs.js';
import { Slots } from './slots.js';
import { trustedKeysFor } from './trust.js';
import type { ImageRow, InstanceRow, InstanceState, Store } from './store.js';
import { MAX_NET_INDEX, tapNetworkOf, tenantNetwork } from './tenant-net.js';
import { checkQuota } from './tenants.js';

export interface SupervisorOptions {
  paths: FleetPaths;
  store: Store;
  accel: Accel;
  tscKhz?: number;
  /** Parallel boots (spawn to "@entering-program"). */
  bootConcurrency: number;
  /** Bytes all instances together may claim (guest RAM plus vmOverhead each). */
  memoryBudget: number;
  /** Bytes charged per instance for QEMU itself, besides its guest RAM. */
  vmOverhead: number;
  /** Bytes of the host's MemAvailable that a start must leave. */
  hostReserve: number;
  /** A boot that shows no marker by then gives its slot back (it keeps running). */
  bootTimeoutMs: number;
  /** Bytes a console or kernel log may reach before it is rotated. */
  logCap: number;
  tbSizeMiB: number;
  qemuBinary?: string;
  /** The host policy "signed images only": an unsigned image does not boot. */
  requireSigned?: boolean;
  log: (line: string) => void;
}

interface Live {
  id: string;
  pid: number;
  pidStart: number | null;
  child?: ChildProcess;
  adopted: boolean;
  qmp?: QmpClient;
  spawnedAtMs: number;
  booted: boolean;
  watcher?: FSWatcher;
  bootTimer?: NodeJS.Timeout;
  releaseSlot?: () => void;
  charge: number;
  ports: string[];
  stopRequested: boolean;
  killed: boolean;
  ended: boolean;
  exited: Promise<void>;
  markExited: () => void;
  stopping?: Promise<void>;
  /** The reason of QMP's SHUTDOWN event, when one came ("host-signal", "guest-shutdown", ...). */
  shutdownReason?: string;
  /** How far the kernel log was scanned for blocked attacks. */
  auditPos: number;
  /** The tap lease of a `network: tap` instance (given back when it ends). */
  tap?: TapLease;
}

interface Ticket {
  cancelled: boolean;
  charge: number;
  ports: string[];
}

interface ExitHow {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Not our child: its exit code is unknown. */
  adopted?: boolean;
  /** Noticed at daemon start: it ended while unikitd was not running. */
  whileAway?: boolean;
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** A run this long resets the back-off. */
const BACKOFF_RESET_MS = 10_000;

export class Supervisor {
  readonly events = new EventEmitter();
  /**
   * The network policy an instance boots with, if any: set by the orchestrator (src/orchestrate),
   * which derives it from the instance's deployment (its ports, its connections, its Network policy).
   */
  networkPolicyOf?: (row: InstanceRow) => NetworkPolicy | undefined;
  private readonly lives = new Map<string, Live>();
  private readonly queued = new Map<string, Ticket>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();
  private readonly waiters = new Map<string, Set<(row: InstanceRow) => void>>();
  private readonly hostPorts = new Map<string, string>();
  private readonly slots: Slots;
  private committed = 0;
  private sweepTimer?: NodeJS.Timeout;
  private sweepCount = 0;
  private closed = false;

  constructor(private readonly o: SupervisorOptions) {
    this.slots = new Slots(o.bootConcurrency);
    this.events.setMaxListeners(0);
  }

  get committedBytes(): number {
    return this.committed;
  }

  get liveCount(): number {
    return this.lives.size;
  }

  get bootSlots(): { limit: number; inUse: number; queued: number } {
    return { limit: this.slots.limit, inUse: this.slots.inUse, queued: this.slots.queued };
  }

  /** Starts the 1 s sweep (adopted pids, log caps). */
  run(): void {
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  /** Stops watching; VMs keep running (the next unikitd adopts them). */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const t of this.restartTimers.values()) clearTimeout(t);
    for (const live of this.lives.values()) {
      live.watcher?.close();
      if (live.bootTimer) clearTimeout(live.bootTimer);
      live.qmp?.close();
      live.child?.removeAllListeners('exit');
    }
  }

  isActive(id: string): boolean {
    return this.lives.has(id) || this.queued.has(id) || this.restartTimers.has(id);
  }

  pidOf(id: string): number | undefined {
    return this.lives.get(id)?.pid;
  }

  // ---- start ----

  /** Admits and queues a boot; with `wait`, resolves once the instance runs or has ended. */
  async start(id: string, opts: { wait?: boolean; waitMs?: number; actor?: string } = {}): Promise<InstanceRow> {
    const row = this.mustGet(id);
    if (this.lives.has(id) || this.queued.has(id)) return row;
    const image = this.o.store.getImage(row.imageId);
    if (!image) throw new FleetError('BAD_IMAGE', `the image ${row.imageId} of ${row.name} is gone`);
    const actor = opts.actor ?? 'unikitd';
    if (this.o.requireSigned && !image.signed) {
      appendAudit(this.o.store, { tenant: row.tenant, actor, kind: 'instance.refused', subject: row.name, detail: { reason: 'policy', policy: 'require-signed', image: image.name } });
      throw unsignedRefusal(`cannot start ${row.name}: its image ${image.name}`);
    }
    // The tenant's quota, then the host's memory and ports: each refusal leaves the row as it was.
    checkQuota(this.o.store, row, { active: true, actor });
    const timer = this.restartTimers.get(id);
    if (timer) {
      clearTimeout(timer);
      this.restartTimers.delete(id);
    }
    const ticket = this.admit(row);
    this.queued.set(id, ticket);
    const waiting = opts.wait ? this.waitFor(id, (r) => r.state !== 'starting', opts.waitMs ?? 120_000) : undefined;
    this.update(id, {
      state: 'starting', stopRequested: false, pid: null, pidStart: null, startedAt: null, bootedAt: null, bootMs: null,
      finishedAt: null, exitStatus: null, exitReason: null, exitDetail: null,
    });
    void this.boot(id, ticket, image).catch((e: unknown) => this.o.log(`boot of ${id} failed: ${String(e)}`));
    if (waiting) return waiting;
    return this.mustGet(id);
  }

  /** Memory and host ports, claimed before queueing; released when the instance ends. */
  private admit(row: InstanceRow): Ticket {
    const charge = row.memory + this.o.vmOverhead;
    const left = this.o.memoryBudget - this.committed;
    const holders = this.lives.size + this.queued.size;
    if (charge > left) {
      throw new InsufficientMemoryError(
        `cannot start ${row.name}: it needs ${formatBytes(charge)} (${formatBytes(row.memory)} guest RAM + ${formatBytes(this.o.vmOverhead)} for QEMU) ` +
        `but only ${formatBytes(Math.max(0, left))} of unikitd's ${formatBytes(this.o.memoryBudget)} memory budget is left ` +
        `(${holders} running instance${holders === 1 ? ' holds' : 's hold'} ${formatBytes(this.committed)}): stop some instances, give less --mem, ` +
        'or start unikitd with a larger --memory-budget');
    }
    const avail = hostMemory().availableBytes;
    if (avail - charge < this.o.hostReserve) {
      throw new InsufficientMemoryError(
        `cannot start ${row.name}: it needs ${formatBytes(charge)} and the host has only ${formatBytes(avail)} available ` +
        `(unikitd keeps ${formatBytes(this.o.hostReserve)} free): stop some instances or give less --mem`);
    }
    const ports = row.ports.map((p) => `${p.proto}:${p.hostIp}:${p.hostPort}`);
    for (const key of ports) {
      const holder = this.hostPorts.get(key);
      if (holder !== undefined && holder !== row.id) {
        const other = this.o.store.getInstance(holder);
        throw new FleetError('PORT_IN_USE', `cannot start ${row.name}: host port ${key} is already forwarded to ${other?.name ?? holder}`);
      }
    }
    for (const key of ports) this.hostPorts.set(key, row.id);
    this.committed += charge;
    return { cancelled: false, charge, ports };
  }

  private unadmit(t: { charge: number; ports: string[] }, id: string): void {
    this.committed -= t.charge;
    t.charge = 0;
    for (const key of t.ports) if (this.hostPorts.get(key) === id) this.hostPorts.delete(key);
    t.ports = [];
  }

  private async boot(id: string, ticket: Ticket, image: ImageRow): Promise<void> {
    const release = await this.slots.acquire();
    if (this.queued.get(id) === ticket) this.queued.delete(id);
    const row = this.o.store.getInstance(id);
    if (ticket.cancelled || this.closed || !row) {
      release();
      if (!ticket.cancelled) this.unadmit(ticket, id);
      return;
    }
    const f = instanceFiles(this.o.paths, id);
    let launched;
    let tap: TapLease | undefined;
    try {
      mkdirSync(f.dir, { recursive: true });
      // A fresh kernel log per run, so that its "@exit" is this run's; the last run's is kept.
      try {
        renameSync(f.klog, f.klogPrev);
      } catch {
        // first run
      }
      writeFileSync(f.klog, '');
      try {
        unlinkSync(f.qmp);
      } catch {
        // no stale socket
      }
      // Verified again at each boot: the stored copy is what boots, and a signature covers the
      // kernel flags of the image's level.
      const { image: verified, signature } = await loadVerifiedImage(image.dir, await trustedKeysFor(this.o.paths, row.tenant));
      if (this.o.requireSigned && !signature) throw unsignedRefusal(`the image ${image.name}`);
      // A deployment's policy, else the one the image records (build --listen/--egress, covered
      // by its signature), with the ports forwarded to it declared as `unikit run` does.
      const networkPolicy = this.networkPolicyOf?.(row) ?? recordedPolicy(verified.manifest.network?.policy, row);
      // On a tap the host fences the policy too (src/vmm/fence.ts), from before QEMU starts.
      if (row.network === 'tap') tap = await this.leaseTap(row, networkPolicy);
      launched = launchDetached({
        flags: bootFlags(verified.manifest),
        kernel: `${image.dir}/kernel.elf`,
        initrd: `${image.dir}/initrd.cpio`,
        prog: image.prog,
        argv: row.args === null ? image.argv : [image.argv[0] ?? image.prog, ...row.args],
        env: mergeEnv(image.env, row.env),
        cwd: image.cwd,
        memory: row.memory,
        accel: this.o.accel,
        tscKhz: this.o.tscKhz,
        consoleFile: f.console,
        klogFile: f.klog,
        qemuLogFile: f.qemuLog,
        qmpSocket: f.qmp,
        controlSocket: f.control,
        name: row.name,
        tbSizeMiB: this.o.tbSizeMiB,
        network: tap ? { mode: 'tap', netdev: tap.netdev, mac: tap.mac, ip: tap.ip, prefix: tap.prefix, gateway: tap.gateway }
          : row.network === 'user' ? { mode: 'user', ports: row.ports } : { mode: 'none' },
        networkPolicy,
        qemuBinary: this.o.qemuBinary,
      });
    } catch (e) {
      release();
      this.unadmit(ticket, id);
      tap?.release();
      if ((e instanceof ImageError && (e.code === 'IMAGE_BAD_SIGNATURE' || e.code === 'IMAGE_UNSIGNED')) || (e instanceof FleetError && e.code === 'UNSIGNED_IMAGE')) {
        appendAudit(this.o.store, {
          tenant: row.tenant, actor: 'unikitd', kind: 'image.refused', subject: image.name,
          detail: { instance: row.name, at: 'boot', reason: e instanceof FleetError || (e as ImageError).code === 'IMAGE_UNSIGNED' ? 'unsigned' : 'bad-signature', message: (e as Error).message },
        });
      }
      this.recordEnd(id, { state: 'exited', exitStatus: 125, exitReason: 'start-failed', exitDetail: (e as Error).message }, false);
      return;
    }
    const { child, pid, spawnedAtMs } = launched;
    if (pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      release();
      this.unadmit(ticket, id);
      tap?.release();
      const detail = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${this.o.qemuBinary ?? 'qemu-system-x86_64'} was not found` : err.message;
      this.recordEnd(id, { state: 'exited', exitStatus: 125, exitReason: 'start-failed', exitDetail: detail }, false);
      return;
    }
    child.unref();
    const live = this.newLive(id, pid, procStat(pid)?.startTicks ?? null, spawnedAtMs, ticket, false);
    live.child = child;
    live.releaseSlot = release;
    if (tap) {
      tap.setQemuPid(pid);
      live.tap = tap;
    }
    child.once('exit', (code, signal) => this.onExit(live, { code, signal }));
    this.update(id, { pid, pidStart: live.pidStart, startedAt: spawnedAtMs, accel: this.o.accel, ip: tap ? tap.ip : null });
    this.watchBoot(live, f.klog);
  }

  /** An address on the instance's tenant's own bridge (made when missing). */
  private async leaseTap(row: InstanceRow, policy: NetworkPolicy | undefined): Promise<TapLease> {
    const tenant = this.o.store.getTenant(row.tenant);
    if (!tenant) throw new FleetError('NOT_FOUND', `the tenant ${row.tenant} of ${row.name} is gone`);
    if (tenant.netIndex > MAX_NET_INDEX) {
      throw new FleetError('BAD_REQUEST', `tenant ${tenant.name} has network number ${tenant.netIndex}: tap networks exist for the first ${MAX_NET_INDEX + 1} tenants only; use network "user"`);
    }
    return acquireTap(TAP_STATE_DIR, tapNetworkOf(tenantNetwork(tenant.name, tenant.netIndex)), { policy });
  }

  private newLive(id: string, pid: number, pidStart: number | null, spawnedAtMs: number, t: Ticket, adopted: boolean): Live {
    let markExited: () => void = () => undefined;
    const exited = new Promise<void>((resolve) => {
      markExited = resolve;
    });
    const live: Live = {
      id, pid, pidStart, adopted, spawnedAtMs, booted: false, charge: t.charge, ports: t.ports,
      stopRequested: false, killed: false, ended: false, exited, markExited, auditPos: 0,
    };
    this.lives.set(id, live);
    return live;
  }

  /** Watches the kernel log (inotify) until "@entering-program"; frees the boot slot then. */
  private watchBoot(live: Live, klog: string): void {
    let pos = 0;
    let partial = '';
    let scheduled = false;
    const check = (): void => {
      scheduled = false;
      if (live.booted || live.ended) return;
      const chunk = readRange(klog, pos, 65536);
      if (chunk.length === 0) return;
      pos += chunk.length;
      const lines = (partial + chunk.toString('latin1')).split('\n');
      partial = lines.pop() ?? '';
      if (lines.some((l) => l.replace(/\r$/, '') === '@entering-program')) this.onBooted(live, performance.timeOrigin + performance.now());
    };
    try {
      live.watcher = watch(klog, () => {
        if (!scheduled) {
          scheduled = true;
          setImmediate(check);
        }
      });
      live.watcher.on('error', () => undefined);
    } catch {
      // no inotify: the boot timeout frees the slot, the sweep still reads the marker
    }
    live.bootTimer = setTimeout(() => {
      check();
      if (!live.booted) live.releaseSlot?.();
    }, this.o.bootTimeoutMs);
    check();
  }

  private onBooted(live: Live, atMs: number): void {
    if (live.booted) return;
    live.booted = true;
    live.watcher?.close();
    live.watcher = undefined;
    if (live.bootTimer) clearTimeout(live.bootTimer);
    live.releaseSlot?.();
    const bootMs = live.adopted ? null : atMs - live.spawnedAtMs;
    const row = this.o.store.getInstance(live.id);
    if (!row) return;
    this.update(live.id, row.state === 'starting' ? { state: 'running', bootedAt: atMs, bootMs } : { bootedAt: atMs, bootMs });
  }

  // ---- the end of a VM ----

  private onExit(live: Live, how: ExitHow): void {
    if (live.ended) return;
    live.ended = true;
    live.watcher?.close();
    if (live.bootTimer) clearTimeout(live.bootTimer);
    live.releaseSlot?.();
    live.qmp?.close();
    this.lives.delete(live.id);
    this.unadmit(live, live.id);
    live.tap?.release();
    const row = this.o.store.getInstance(live.id);
    if (row) {
      const f = instanceFiles(this.o.paths, live.id);
      const end = describeEnd(live, how, findExitMarker(f.klog), readRange(f.qemuLog, Math.max(0, fileSize(f.qemuLog) - 2048), 2048).toString('utf8'));
      const stopRequested = live.stopRequested || row.stopRequested;
      const restart = !stopRequested && !this.closed && wantsRestart(row, end.exitStatus);
      const ranMs = performance.timeOrigin + performance.now() - live.spawnedAtMs;
      this.auditAttacks(row, end.exitReason === 'signal' ? end.exitStatus : undefined, live);
      this.recordEnd(live.id, { ...end, state: restart ? 'restarting' : end.state }, restart, ranMs);
    }
    live.markExited();
  }

  /**
   * Writes an `attack.blocked` audit row for each attack the kernel stopped in this instance's
   * run (a fault or syscall that ended it: `signalStatus`; network-policy refusals while it runs).
   */
  private auditAttacks(rowOrId: InstanceRow | string, signalStatus: number | null | undefined, live?: Live): void {
    const id = typeof rowOrId === 'string' ? rowOrId : rowOrId.id;
    const { attacks, next } = findAttacks(instanceFiles(this.o.paths, id).klog, signalStatus ?? null, live?.auditPos ?? 0);
    if (live) live.auditPos = next;
    if (!attacks.length) return;
    // The row is read only when there is something to write (the sweep calls this for every VM).
    const row = typeof rowOrId === 'string' ? this.o.store.getInstance(id) : rowOrId;
    if (!row) return;
    for (const a of attacks) {
      appendAudit(this.o.store, {
        tenant: row.tenant, actor: 'unikitd', kind: 'attack.blocked', subject: row.name,
        detail: { instance: row.id, image: row.imageId, ...a },
      });
    }
  }

  private recordEnd(id: string, end: { state: InstanceState; exitStatus: number; exitReason: string; exitDetail: string | null }, restart: boolean, ranMs = 0): void {
    const row = this.update(id, { ...end, pid: null, ip: null, finishedAt: Date.now() });
    if (!row) return;
    if (restart) this.scheduleRestart(row, ranMs);
  }

  private scheduleRestart(row: InstanceRow, ranMs: number): void {
    const step = ranMs >= BACKOFF_RESET_MS ? 0 : (this.backoff.get(row.id) ?? 0);
    this.backoff.set(row.id, step + 1);
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** step, BACKOFF_MAX_MS);
    const timer = setTimeout(() => {
      this.restartTimers.delete(row.id);
      const now = this.o.store.getInstance(row.id);
      if (!now || now.state !== 'restarting') return;
      this.o.store.updateInstance(row.id, { restartCount: now.restartCount + 1 });
      this.start(row.id).catch((e: unknown) => {
        this.update(row.id, { state: 'exited', exitDetail: `restart failed: ${(e as Error).message}` });
      });
    }, delay);
    this.restartTimers.set(row.id, timer);
  }

  // ---- stop and remove ----

  /** Asks the guest to power down, waits `graceSec`, then quits QEMU over QMP, then SIGKILL. */
  async stop(id: string, graceSec: number): Promise<InstanceRow> {
    const row = this.mustGet(id);
    const timer = this.restartTimers.get(id);
    if (timer) {
      clearTimeout(timer);
      this.restartTimers.delete(id);
      return this.update(id, { state: 'exited', stopRequested: true }) ?? row;
    }
    const ticket = this.queued.get(id);
    if (ticket) {
      ticket.cancelled = true;
      this.queued.delete(id);
      this.unadmit(ticket, id);
      return this.update(id, { state: 'exited', stopRequested: true, exitStatus: 143, exitReason: 'stopped', exitDetail: 'stopped before it booted', finishedAt: Date.now() }) ?? row;
    }
    const live = this.lives.get(id);
    if (!live) {
      if (row.state === 'starting' || row.state === 'running' || row.state === 'stopping') {
        return this.update(id, { state: 'exited', stopRequested: true, pid: null }) ?? row;
      }
      return row;
    }
    if (!live.stopping) {
      live.stopRequested = true;
      this.update(id, { state: 'stopping', stopRequested: true });
      live.stopping = this.stopLive(live, graceSec);
    }
    await live.stopping;
    return this.mustGet(id);
  }

  private async stopLive(live: Live, graceSec: number): Promise<void> {
    if (graceSec > 0) {
      // The guest hears stop requests on its control UART; an instance started before it had
      // one, or a QEMU that no longer answers, falls through to quit and kill after the grace.
      await requestTerminate(instanceFiles(this.o.paths, live.id).control);
      await Promise.race([live.exited, sleep(graceSec * 1000)]);
    }
    if (!live.ended) {
      await this.qmpCommand(live, 'quit');
      await Promise.race([live.exited, sleep(1000)]);
    }
    if (!live.ended) {
      live.killed = true;
      signalProcess(live.pid, 'SIGKILL');
      await Promise.race([live.exited, sleep(2000)]);
    }
    if (!live.ended && !isSameProcess(live.pid, live.pidStart)) this.onExit(live, { code: null, signal: 'SIGKILL', adopted: live.adopted });
  }

  private async qmpCommand(live: Live, command: string): Promise<void> {
    try {
      if (!live.qmp || live.qmp.isClosed) live.qmp = await QmpClient.connect(instanceFiles(this.o.paths, live.id).qmp, 1000);
      await Promise.race([live.qmp.execute(command), sleep(1000)]);
    } catch {
      // QEMU may be on its way out already; the next step of stop() follows anyway
    }
  }

  /** Deletes the record and its files; a live instance needs `force` (it is killed at once). */
  async remove(id: string, force: boolean): Promise<void> {
    const row = this.mustGet(id);
    if (this.isActive(id) || row.state === 'running' || row.state === 'starting' || row.state === 'stopping') {
      if (!force) throw new FleetError('CONFLICT', `${row.name} is ${row.state}: stop it first, or use \`unikit rm -f\``);
      await this.stop(id, 0);
    }
    this.backoff.delete(id);
    this.o.store.deleteInstance(id);
    rmSync(instanceFiles(this.o.paths, id).dir, { recursive: true, force: true });
    this.events.emit('removed', id, row.tenant);
  }

  // ---- reconciliation at daemon start ----

  /**
   * Finds every QEMU process of this home (one /proc scan), adopts those whose record says they
   * should run, kills those nobody owns, records the ends that happened while unikitd was away,
   * and applies restart policies.
   */
  async reconcile(): Promise<{ adopted: number; ended: number; orphansKilled: number; restarted: number }> {
    const marker = this.o.paths.instances + '/';
    const byId = new Map<string, number>();
    for (const [pid, argv] of findProcesses(marker)) {
      if (!(argv[0] ?? '').includes('qemu')) continue;
      const qmpArg = argv.find((a) => a.startsWith(`unix:${marker}`));
      const id = qmpArg?.slice(`unix:${marker}`.length).split('/')[0];
      if (id) byId.set(id, pid);
    }
    let adopted = 0;
    let ended = 0;
    let restarted = 0;
    for (const row of this.o.store.activeInstances()) {
      const pid = byId.get(row.id);
      byId.delete(row.id);
      if (row.state === 'restarting' || (row.state === 'starting' && pid === undefined && row.pid === null)) {
        // It was waiting for a (re)start when unikitd went away: start it now.
        if (pid !== undefined) signalProcess(pid, 'SIGKILL');
        this.update(row.id, { state: 'exited' });
        try {
          await this.start(row.id);
          restarted++;
        } catch (e) {
          this.update(row.id, { exitDetail: `restart after a daemon restart failed: ${(e as Error).message}` });
        }
        continue;
      }
      if (pid !== undefined && (await this.adopt(row, pid))) {
        adopted++;
        continue;
      }
      ended++;
      this.endedWhileAway(row);
    }
    let orphansKilled = 0;
    for (const [id, pid] of byId) {
      this.o.log(`killing QEMU pid ${pid} of instance ${id}: no record wants it running`);
      if (signalProcess(pid, 'SIGKILL')) orphansKilled++;
    }
    return { adopted, ended, orphansKilled, restarted };
  }

  private async adopt(row: InstanceRow, pid: number): Promise<boolean> {
    const st = procStat(pid);
    if (!st || (row.pidStart !== null && row.pid === pid && st.startTicks !== row.pidStart)) return false;
    let ticket: Ticket;
    try {
      ticket = this.admit({ ...row, ports: row.ports });
    } catch {
      ticket = { cancelled: false, charge: 0, ports: [] };
    }
    const live = this.newLive(row.id, pid, st.startTicks, row.startedAt ?? Date.now(), ticket, true);
    live.booted = row.bootedAt !== null;
    const f = instanceFiles(this.o.paths, row.id);
    try {
      live.qmp = await QmpClient.connect(f.qmp, 2000);
      await live.qmp.execute('query-status');
    } catch (e) {
      // Running but not controllable: kill it rather than leave an orphan; the record says lost.
      this.o.log(`QEMU pid ${pid} of ${row.name} does not answer on QMP (${(e as Error).message}): killing it`);
      signalProcess(pid, 'SIGKILL');
      this.lives.delete(row.id);
      this.unadmit(ticket, row.id);
      return false;
    }
    live.qmp.on('event', (ev: { event: string; data?: Record<string, unknown> }) => {
      if (ev.event === 'SHUTDOWN' && typeof ev.data?.reason === 'string') live.shutdownReason = ev.data.reason;
    });
    live.qmp.on('close', () => setTimeout(() => {
      if (!live.ended && !isSameProcess(live.pid, live.pidStart)) this.onExit(live, { code: null, signal: null, adopted: true });
    }, 20));
    this.update(row.id, { pid, pidStart: st.startTicks, state: row.state === 'stopping' ? 'stopping' : live.booted ? 'running' : 'starting' });
    if (!live.booted) this.watchBoot(live, f.klog);
    if (row.state === 'stopping' || row.stopRequested) {
      live.stopRequested = true;
      live.stopping = this.stopLive(live, 0);
    }
    return true;
  }

  private endedWhileAway(row: InstanceRow): void {
    const f = instanceFiles(this.o.paths, row.id);
    const marker = findExitMarker(f.klog);
    const stopRequested = row.stopRequested || row.state === 'stopping';
    let end: { state: InstanceState; exitStatus: number; exitReason: string; exitDetail: string | null };
    if (marker) end = { state: 'exited', exitStatus: marker.status, exitReason: marker.reason, exitDetail: 'ended while unikitd was not running' };
    else if (stopRequested) end = { state: 'exited', exitStatus: 143, exitReason: 'stopped', exitDetail: 'ended while unikitd was not running' };
    else end = { state: 'lost', exitStatus: 125, exitReason: 'lost', exitDetail: 'QEMU ended while unikitd was not running, without an @exit line' };
    const restart = !stopRequested && wantsRestart(row, end.exitStatus);
    if (marker) this.auditAttacks(row, marker.reason === 'signal' ? marker.status : undefined);
    this.recordEnd(row.id, { ...end, state: restart ? 'restarting' : end.state }, restart);
  }

  // ---- the sweep: adopted pids (not our children) and log caps ----

  private sweep(): void {
    this.sweepCount++;
    const capLogs = this.sweepCount % 2 === 0;
    for (const live of this.lives.values()) {
      if (live.adopted && !live.ended && !isSameProcess(live.pid, live.pidStart)) {
        this.onExit(live, { code: null, signal: null, adopted: true });
        continue;
      }
      if (capLogs) {
        const f = instanceFiles(this.o.paths, live.id);
        // Network-policy refusals do not end the instance: they are audited as they come.
        if (live.booted) this.auditAttacks(live.id, null, live);
        capFile(f.console, f.consoleOld, this.o.logCap);
        capFile(f.qemuLog, f.qemuLog + '.1', this.o.logCap);
        if (live.booted) capFile(f.klog, f.klogPrev, this.o.logCap);
      }
    }
  }

  // ---- state changes and waiting ----

  private update(id: string, patch: Partial<InstanceRow>): InstanceRow | undefined {
    const row = this.o.store.updateInstance(id, patch);
    if (!row) return undefined;
    this.events.emit('instance', row);
    const ws = this.waiters.get(id);
    if (ws) for (const w of [...ws]) w(row);
    return row;
  }

  /** Resolves with the row once `done(row)` holds (checked now and on each change of this id). */
  waitFor(id: string, done: (row: InstanceRow) => boolean, timeoutMs: number): Promise<InstanceRow> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const s = set;
      const finish = (row: InstanceRow): void => {
        clearTimeout(timer);
        s.delete(check);
        if (s.size === 0) this.waiters.delete(id);
        resolve(row);
      };
      const check = (row: InstanceRow): void => {
        if (done(row)) finish(row);
      };
      const timer = setTimeout(() => {
        const row = this.o.store.getInstance(id);
        if (row) finish(row);
      }, timeoutMs);
      s.add(check);
    });
  }

  private mustGet(id: string): InstanceRow {
    const row = this.o.store.getInstance(id);
    if (!row) throw new NotFoundError('instance', id);
    return row;
  }
}

/** Status, reason and detail of a QEMU that ended; "@exit" is the authority when present. */
function describeEnd(live: Live, how: ExitHow, marker: { status: number; reason: string } | undefined, qemuLog: string):
  { state: InstanceState; exitStatus: number; exitReason: string; exitDetail: string | null } {
  // A program that ended on the stop request (SIGTERM through the control UART) was stopped.
  if (marker && live.stopRequested && marker.status === 143) {
    return { state: 'exited', exitStatus: 143, exitReason: 'stopped', exitDetail: 'the program took SIGTERM' };
  }
  if (marker) return { state: 'exited', exitStatus: marker.status, exitReason: marker.reason, exitDetail: null };
  if (live.stopRequested) {
    return live.killed
      ? { state: 'exited', exitStatus: 137, exitReason: 'stopped', exitDetail: 'QEMU did not quit and was killed' }
      : { state: 'exited', exitStatus: 143, exitReason: 'stopped', exitDetail: null };
  }
  if (how.signal) {
    return { state: 'exited', exitStatus: 125, exitReason: 'killed', exitDetail: `QEMU was killed by ${how.signal}, not by unikitd` };
  }
  if (live.shutdownReason === 'host-signal') {
    return { state: 'exited', exitStatus: 125, exitReason: 'killed', exitDetail: 'QEMU was stopped by a signal, not by unikitd' };
  }
  if (how.adopted) {
    return { state: 'exited', exitStatus: 125, exitReason: 'crashed', exitDetail: 'QEMU ended without an @exit line (adopted after a daemon restart: its exit code is unknown)' };
  }
  const said = qemuLog.trim().split('\n').filter((l) => l.trim() !== '').slice(-2).join(' / ');
  if (!live.booted && how.code === 1 && said !== '') {
    return { state: 'exited', exitStatus: 125, exitReason: 'qemu-failed', exitDetail: `QEMU failed to start: ${said}` };
  }
  return {
    state: 'exited', exitStatus: 125, exitReason: 'crashed',
    exitDetail: `QEMU exited with code ${String(how.code)} without an @exit line${said ? `; QEMU said: ${said}` : ''}`,
  };
}

function wantsRestart(row: InstanceRow, status: number): boolean {
  if (row.maxRetries > 0 && row.restartCount >= row.maxRetries) return false;
  return row.restartPolicy === 'always' || (row.restartPolicy === 'on-failure' && status !== 0);
}

/** The image's environment with the instance's entries replacing same-named ones. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const key = (e: string): string => e.slice(0, e.indexOf('='));
  const replaced = new Set(extra.map(key));
  return [...base.filter((e) => !replaced.has(key(e))), ...extra];
}

/** "1.5 GiB", "40 MiB", "300 KiB": for people. */
export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${+(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Writes the terminate request to a guest's control socket; false when nobody listens. */
function requestTerminate(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(socketPath);
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.end(Buffer.from([UNIKIT_ABI.CONTROL_TERMINATE]), () => done(true)));
  });
}

/** An image's recorded network policy for one instance: its forwarded guest ports count as declared. */
function recordedPolicy(policy: NetworkPolicy | undefined, row: InstanceRow): NetworkPolicy | undefined {
  return policy && (row.network === 'user' ? withListenPorts(policy, row.ports.map((p) => p.guestPort)) : policy);
}
