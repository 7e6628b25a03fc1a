/**
 * The front of one service: a TCP proxy on the host that spreads client connections over the
 * service's ready instances, round-robin. It is what lets instances come and go (a rolling
 * replacement, a scale-out) without a client noticing:
 *
 * - `remove(id)` takes a backend out of the rotation at once, lets its open connections finish,
 *   and closes the ones still open after the drain timeout.
 * - A connection whose backend cannot be reached is tried on the next backend. Under QEMU user
 *   networking the host side of a port forward always accepts, and closes again when the guest
 *   does not listen; so "cannot be reached" also covers a backend that closes (or resets) before
 *   sending its first byte. Until that first byte the front keeps what the client sent (up to
 *   `replayLimit` bytes) and replays it on the next backend; each backend is tried at most once
 *   per connection. After the first byte the connection belongs to its backend for good.
 *
 * - With `admits` (a Network policy's ingress rules, ingress.ts), a client it refuses is reset
 *   before any backend is tried.
 *
 * The proxy moves bytes and half-closes both ways; it never parses them.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { FleetError } from '../fleet/index.js';

/** Where one instance of the service listens, as the host reaches it. */
export interface Backend {
  id: string;
  host: string;
  port: number;
}

/** A backend as the front sees it now. */
export interface BackendState extends Backend {
  /** Taken out of the rotation, waiting for its connections to end. */
  draining: boolean;
  connections: number;
}

export interface FrontOptions {
  /** The address the front listens on; 127.0.0.1 unless told. */
  host?: string;
  /** How long `remove` waits for a backend's open connections before closing them. */
  drainTimeoutMs?: number;
  /** A backend that has not accepted by then counts as unreachable. */
  connectTimeoutMs?: number;
  /** Client bytes kept for a replay on another backend, until the backend's first byte. */
  replayLimit?: number;
  /**
   * Who may connect (a Network policy's ingress rules), by the client's address and port: a
   * client it refuses is reset at once, before any backend sees it, and reported to `onRefused`.
   */
  admits?: (peer: Peer) => boolean | Promise<boolean>;
  onRefused?: (peer: Peer) => void;
}

/** The client end of an accepted connection, and the front's port it came to. */
export interface Peer {
  address: string;
  port: number;
  localPort: number;
}

interface Pool {
  backend: Backend;
  draining: boolean;
  links: Set<Link>;
  /** Called when `links` becomes empty while draining. */
  onIdle?: () => void;
}

/** One client connection and its current upstream. */
interface Link {
  client: Socket;
  upstream: Socket | null;
  pool: Pool | null;
  connected: boolean;
  /** Client bytes so far, while the connection can still move to another backend. */
  log: Buffer[];
  logBytes: number;
  /** No byte has come from a backend yet and the log holds everything the client sent. */
  replayable: boolean;
  clientEnded: boolean;
  tried: Set<string>;
  done: boolean;
}

export class Front {
  private readonly host: string;
  private readonly drainTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly replayLimit: number;
  private readonly admits?: (peer: Peer) => boolean | Promise<boolean>;
  private readonly onRefused?: (peer: Peer) => void;
  private readonly pools = new Map<string, Pool>();
  private readonly links = new Set<Link>();
  private server: Server | null = null;
  private nextIndex = 0;
  private closed = false;

  constructor(options: FrontOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.replayLimit = options.replayLimit ?? 64 * 1024;
    this.admits = options.admits;
    this.onRefused = options.onRefused;
  }

  /** Listens on `port` (0 or absent: a free one) and resolves with the port. */
  async listen(port = 0): Promise<number> {
    if (this.server) throw new FleetError('CONFLICT', 'this front is already listening');
    if (this.closed) throw new FleetError('CONFLICT', 'this front is closed');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new FleetError('BAD_REQUEST', `front port ${port} is not 0 to 65535`, 'port');
    }
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE'
          ? new FleetError('PORT_IN_USE', `front port ${port} on ${this.host} is already in use: choose another`, 'port')
          : err);
      };
      server.once('error', fail);
      server.listen(port, this.host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    this.server = server;
    return this.port();
  }

  /** The port the front listens on. */
  port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new FleetError('CONFLICT', 'this front is not listening');
    return address.port;
  }

  /** Puts a backend into the rotation; new connections may go to it at once. */
  add(backend: Backend): void {
    if (this.closed) throw new FleetError('CONFLICT', 'this front is closed');
    if (!backend.id) throw new FleetError('BAD_REQUEST', 'a backend needs an id', 'id');
    if (!Number.isInteger(backend.port) || backend.port < 1 || backend.port > 65535) {
      throw new FleetError('BAD_REQUEST', `backend ${backend.id}: port ${backend.port} is not 1 to 65535`, 'port');
    }
    const existing = this.pools.get(backend.id);
    if (existing) {
      throw new FleetError('CONFLICT', `backend ${backend.id} is already ${existing.draining ? 'draining' : 'in the rotation'} on this front`, 'id');
    }
    this.pools.set(backend.id, { backend: { id: backend.id, host: backend.host, port: backend.port }, draining: false, links: new Set() });
  }

  /**
   * Takes a backend out of the rotation and resolves once its connections have ended, closing
   * those still open after the drain timeout. Removing a backend the front does not have is a
   * no-op, so cleanup paths may call it twice.
   */
  async remove(id: string, drainTimeoutMs = this.drainTimeoutMs): Promise<void> {
    const pool = this.pools.get(id);
    if (!pool) return;
    pool.draining = true;
    if (pool.links.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          // Closing the upstream, not the client: a link that got no byte yet moves on.
          for (const link of [...pool.links]) link.upstream?.destroy();
          resolve();
        }, drainTimeoutMs);
        pool.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.pools.get(id) === pool) this.pools.delete(id);
  }

  /** The backends, in the order they were added, with their state. */
  backends(): BackendState[] {
    return [...this.pools.values()].map((p) => ({ ...p.backend, draining: p.draining, connections: p.links.size }));
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    const server = this.server;
    this.server = null;
    for (const link of [...this.links]) this.finish(link);
    for (const pool of this.pools.values()) pool.onIdle?.();
    this.pools.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    if (this.admits) {
      const peer: Peer = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0, localPort: client.localPort ?? 0 };
      const refuse = (): void => {
        client.resetAndDestroy();
        this.onRefused?.(peer);
      };
      client.on('error', () => undefined);
      const verdict = this.admits(peer);
      if (verdict === false) return refuse();
      if (verdict !== true) {
        // Paused (pauseOnConnect) while the check runs: nothing reaches a backend before it says yes.
        void verdict.catch(() => false).then((ok) => {
          if (this.closed || client.destroyed) client.destroy();
          else if (ok) this.serve(client);
          else refuse();
        });
        return;
      }
    }
    this.serve(client);
  }

  /** Proxies an admitted client. */
  private serve(client: Socket): void {
    client.setNoDelay(true);
    const link: Link = {
      client, upstream: null, pool: null, connected: false, log: [], logBytes: 0, replayable: true,
      clientEnded: false, tried: new Set(), done: false,
    };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.replayable) {
        link.log.push(chunk);
        link.logBytes += chunk.length;
      }
      if (link.connected && link.upstream) {
        if (!link.upstream.write(chunk)) client.pause();
        if (link.replayable && link.logBytes > this.replayLimit) this.stopReplay(link);
      } else if (link.logBytes > this.replayLimit) {
        // Nothing reads these yet: stop taking more until a backend accepts.
        client.pause();
      }
    });
    client.on('end', () => {
      link.clientEnded = true;
      if (link.connected) link.upstream?.end();
    });
    client.on('error', () => this.finish(link));
    client.on('close', () => this.finish(link));
    this.connectNext(link);
  }

  /** The next backend in the rotation that this link has not tried, round-robin. */
  private pick(link: Link): Pool | null {
    const live = [...this.pools.values()].filter((p) => !p.draining);
    for (let i = 0; i < live.length; i++) {
      const pool = live[(this.nextIndex + i) % live.length];
      if (pool && !link.tried.has(pool.backend.id)) {
        this.nextIndex = (this.nextIndex + i + 1) % live.length;
        return pool;
      }
    }
    return null;
  }

  private connectNext(link: Link): void {
    if (link.done) return;
    const pool = this.pick(link);
    if (!pool) {
      // No backend left to try: the client sees its connection reset, as with no server.
      this.finish(link);
      return;
    }
    link.tried.add(pool.backend.id);
    this.attach(link, pool);
    const upstream = createConnection({ host: pool.backend.host, port: pool.backend.port, allowHalfOpen: true });
    link.upstream = upstream;
    link.connected = false;
    upstream.setNoDelay(true);
    upstream.setTimeout(this.connectTimeoutMs, () => upstream.destroy());
    upstream.once('connect', () => {
      if (link.upstream !== upstream) return;
      upstream.setTimeout(0);
      link.connected = true;
      for (const chunk of link.log) upstream.write(chunk);
      if (link.clientEnded) upstream.end();
      link.client.resume();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (link.upstream !== upstream) return;
      if (link.replayable) this.stopReplay(link);
      if (!link.client.write(chunk)) upstream.pause();
    });
    upstream.on('drain', () => link.client.resume());
    link.client.on('drain', () => {
      if (link.upstream === upstream) upstream.resume();
    });
    upstream.on('end', () => {
      if (link.upstream !== upstream) return;
      if (link.replayable) this.retry(link, upstream);
      else link.client.end();
    });
    upstream.on('error', () => {
      // 'close' follows and decides.
    });
    upstream.on('close', () => {
      if (link.upstream !== upstream) return;
      if (link.replayable) this.retry(link, upstream);
      else this.finish(link);
    });
  }

  /** The backend closed before answering: the link moves to the next one with what the client sent. */
  private retry(link: Link, upstream: Socket): void {
    link.upstream = null;
    link.connected = false;
    upstream.destroy();
    this.detach(link);
    link.client.pause();
    this.connectNext(link);
  }

  /** The first byte came back (or the client sent too much to keep): no more retries. */
  private stopReplay(link: Link): void {
    link.replayable = false;
    link.log = [];
    link.logBytes = 0;
  }

  private attach(link: Link, pool: Pool): void {
    link.pool = pool;
    pool.links.add(link);
  }

  private detach(link: Link): void {
    const pool = link.pool;
    if (!pool) return;
    link.pool = null;
    pool.links.delete(link);
    if (pool.draining && pool.links.size === 0) pool.onIdle?.();
  }

  private finish(link: Link): void {
    if (link.done) return;
    link.done = true;
    this.links.delete(link);
    link.upstream?.destroy();
    link.upstream = null;
    link.client.destroy();
    this.detach(link);
  }
}
