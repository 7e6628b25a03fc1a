/**
 * Talking to unikitd: HTTP over its Unix socket (or TCP with a bearer token when UNIKIT_HOST is
 * tcp://...), as a tenant when asked (X-Unikit-Tenant), JSON in and out, errors turned back into
 * FleetError, streams for logs and events, and starting the daemon on demand when nobody serves
 * this home yet.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { artifacts } from '../project/index.js';
import { FleetError, type FleetErrorCode } from './errors.js';
import { type FleetPaths, fleetPaths } from './paths.js';

export interface ClientOptions {
  home?: string;
  /** "tcp://HOST:PORT" for a daemon on TCP; the home's Unix socket otherwise. */
  host?: string;
  token?: string;
  /** The tenant to act as (X-Unikit-Tenant): the admin's choice; a tenant token's own name or nothing. */
  tenant?: string;
  /** Start a daemon for the home when none answers (default true; never for TCP). */
  autoStart?: boolean;
  /** Extra arguments for an auto-started daemon. */
  daemonArgs?: string[];
}

export class FleetClient {
  readonly paths: FleetPaths;
  private readonly target: { socketPath: string } | { host: string; port: number };

  constructor(private readonly o: ClientOptions = {}) {
    this.paths = fleetPaths(o.home);
    const m = o.host ? /^tcp:\/\/([^:]+):(\d+)$/.exec(o.host) : null;
    if (o.host && !m) throw new FleetError('BAD_REQUEST', `UNIKIT_HOST ${JSON.stringify(o.host)} is not tcp://HOST:PORT`);
    this.target = m ? { host: m[1] as string, port: Number(m[2]) } : { socketPath: this.paths.socket };
  }

  get where(): string {
    return 'socketPath' in this.target ? this.target.socketPath : `tcp://${this.target.host}:${this.target.port}`;
  }

  /** Sends a request; resolves with the response (not read yet). */
  raw(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    if (this.o.tenant) headers['x-unikit-tenant'] = this.o.tenant;
    return new Promise((resolve, reject) => {
      // A connection per request: a kept-alive one the daemon closed while this process was busy
      // would fail the next request with EPIPE (a Unix socket connects in microseconds).
      const req = httpRequest({ ...this.target, method, path, headers, agent: false }, resolve);
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** JSON request; a non-2xx answer throws FleetError with the daemon's code, message and field. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body).catch((e: NodeJS.ErrnoException) => {
      throw unreachable(this.where, e);
    });
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return (text.length ? JSON.parse(text.toString('utf8')) : undefined) as T;
    throw toError(status, text);
  }

  /** Streams a response body to `onChunk` until the daemon ends it. */
  async stream(path: string, onChunk: (b: Buffer) => void): Promise<void> {
    const res = await this.raw('GET', path).catch((e: NodeJS.ErrnoException) => {
      throw unreachable(this.where, e);
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw toError(status, await readAll(res));
    await new Promise<void>((resolve, reject) => {
      res.on('data', onChunk);
      res.on('end', resolve);
      res.on('close', resolve);
      res.on('error', reject);
    });
  }

  /** True when a daemon answers. */
  async ping(): Promise<boolean> {
    try {
      await this.json('GET', '/v1/info');
      return true;
    } catch (e) {
      if (e instanceof FleetError && e.code === 'DAEMON_UNREACHABLE') return false;
      throw e;
    }
  }

  /** Makes sure a daemon serves this home, starting one in the background if needed. */
  async ensureDaemon(timeoutMs = 15_000): Promise<void> {
    if (await this.ping()) return;
    if (this.o.autoStart === false || !('socketPath' in this.target)) {
      throw new FleetError('DAEMON_UNREACHABLE', `unikitd is not running at ${this.where}: start it with \`unikit daemon\``);
    }
    mkdirSync(this.paths.root, { recursive: true, mode: 0o700 });
    const logFd = openSync(this.paths.daemonLog, 'a');
    try {
      const child = spawn(process.execPath, [artifacts.cli(), 'daemon', ...(this.o.daemonArgs ?? [])], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, UNIKIT_HOME: this.paths.home },
      });
      child.unref();
    } finally {
      closeSync(logFd);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (await this.ping()) return;
    }
    throw new FleetError('DAEMON_UNREACHABLE', `unikitd did not come up within ${timeoutMs / 1000} s: see ${this.paths.daemonLog}`);
  }
}

function unreachable(where: string, e: NodeJS.ErrnoException): FleetError {
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
    return new FleetError('DAEMON_UNREACHABLE', `unikitd is not running at ${where}`);
  }
  return new FleetError('DAEMON_UNREACHABLE', `cannot reach unikitd at ${where}: ${e.message}`);
}

function toError(status: number, text: Buffer): FleetError {
  let body: { error?: { code?: string; message?: string; field?: string } } = {};
  try {
    body = JSON.parse(text.toString('utf8')) as typeof body;
  } catch {
    // not JSON
  }
  const code = (body.error?.code ?? (status === 404 ? 'NOT_FOUND' : 'INTERNAL')) as FleetErrorCode;
  const err = new FleetError(code, body.error?.message ?? `unikitd answered ${status}`, body.error?.field);
  Object.defineProperty(err, 'httpStatus', { value: status });
  return err;
}

function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
  });
}
