/**
 * Network helpers for the end-to-end tests: a guest server started through the real CLI and
 * left running, free host ports, and small HTTP/TCP/UDP clients that return raw bytes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Socket as DgramSocket, createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Socket, connect } from 'node:net';
import { artifacts } from '../../src/project/index.js';
import { TEST_HOME } from './run.js';

/** A port nobody listens on right now (for -p HOST:GUEST). */
export { freeTcpPort as freePort } from '../../src/vmm/index.js';

/** A UDP port that is free right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** A document root with files of several sizes (one larger than httpd's inline limit). */
export function makeDocroot(): { dir: string; files: Record<string, Buffer> } {
  const dir = mkdtempSync(join(tmpdir(), 'unikit-www-'));
  mkdirSync(join(dir, 'sub'));
  const files: Record<string, Buffer> = {
    '/index.html': Buffer.from('<!doctype html><title>unikit</title><p>hello from the unikernel\n'),
    '/1k.bin': randomBytes(1024),
    '/sub/17k.bin': randomBytes(17 * 1024 + 3),
    '/300k.bin': randomBytes(300_000),
    '/empty.txt': Buffer.alloc(0),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return { dir, files };
}

export interface Guest {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The CLI's exit status once it ended. */
  exited: Promise<number | null>;
  /** SIGTERM (then SIGKILL after 5 s); resolves with the CLI's exit status. */
  stop(): Promise<number | null>;
}

/** Starts `unikit run ARGS` and waits until its stdout matches `ready`. */
export async function startGuest(args: readonly string[], o: { ready: RegExp; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<Guest> {
  const cli = artifacts.cli();
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` before the end-to-end tests`);
  const child = spawn(process.execPath, [cli, 'run', ...args], {
    env: { ...process.env, UNIKIT_HOME: TEST_HOME, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
  const guest: Guest = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (!o.ready.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await guest.stop();
      throw new Error(`the guest did not get ready (${o.ready}): stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return guest;
}

/** Sends `request` on a new connection (then ends its side with halfClose) and collects
 * everything until the server closes. */
export function exchange(host: string, port: number, request: Buffer | string, timeoutMs = 20_000, halfClose = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    s.setNoDelay(true);
    const chunks: Buffer[] = [];
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`no end from ${host}:${port} within ${timeoutMs} ms`)));
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    if (halfClose) s.end(request);
    else s.write(request);
  });
}

/** Sends one datagram and waits for the answer; UDP may drop, so up to five tries of a second each. */
export async function udpRoundTrip(socket: DgramSocket, data: Buffer | string, port: number, host: string): Promise<Buffer | undefined> {
  let back: Buffer | undefined;
  for (let attempt = 0; attempt < 5 && !back; attempt++) {
    back = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 1000);
      socket.once('message', (m: Buffer) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(data, port, host);
    });
  }
  return back;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Splits one raw HTTP/1.1 response with a Content-Length. */
export function parseResponse(raw: Buffer): HttpResponse & { rest: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`not an HTTP response: ${JSON.stringify(raw.subarray(0, 200).toString())}`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = raw.subarray(end + 4, end + 4 + length);
  return { status: Number((statusLine ?? '').split(' ')[1]), headers, body, rest: raw.subarray(end + 4 + length) };
}

/** GET on a fresh connection (Connection: close): the status and the body's bytes. */
export async function httpGet(host: string, port: number, path: string): Promise<HttpResponse> {
  const raw = await exchange(host, port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  return parseResponse(raw);
}

/** A keep-alive connection: requests one after another, each response read by Content-Length. */
export class KeepAlive {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, b]);
      this.waiter?.();
    });
    const fail = (e: Error): void => {
      this.failure = e;
      this.waiter?.();
    };
    socket.on('error', fail);
    socket.on('end', () => fail(new Error('the server closed the keep-alive connection')));
  }

  static open(host: string, port: number): Promise<KeepAlive> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new KeepAlive(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  async get(path: string, timeoutMs = 20_000): Promise<HttpResponse> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const r = parseResponse(this.buffered);
        if (r.body.length === Number(r.headers['content-length'] ?? 0)) {
          this.buffered = Buffer.from(r.rest);
          return { status: r.status, headers: r.headers, body: r.body };
        }
      }
      if (this.failure) throw this.failure;
      if (Date.now() > deadline) throw new Error(`no response to ${path} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 200);
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface GuestStats {
  connections: number;
  requests: number;
  active: number;
  freeram: number;
  totalram: number;
}

/** httpd's /stats line as numbers. */
export async function guestStats(host: string, port: number): Promise<GuestStats> {
  const r = await httpGet(host, port, '/stats');
  const fields = Object.fromEntries(r.body.toString().trim().split(' ').map((kv) => kv.split('=')));
  const num = (k: keyof GuestStats): number => {
    const v = Number(fields[k]);
    if (!Number.isFinite(v)) throw new Error(`/stats has no ${k}: ${r.body.toString()}`);
    return v;
  };
  return { connections: num('connections'), requests: num('requests'), active: num('active'), freeram: num('freeram'), totalram: num('totalram') };
}
