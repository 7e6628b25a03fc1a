/**
 * A QMP client (QEMU Machine Protocol) over a Unix socket: the greeting, capabilities
 * negotiation, commands with replies matched by id, asynchronous events, and a 'close' event
 * when QEMU goes away (the socket closing is the quickest sign that a QEMU process ended).
 */
import { EventEmitter } from 'node:events';
import { type Socket, createConnection } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends Error {
  readonly code = 'VMM_QMP';
  constructor(message: string) {
    super(message);
    this.name = 'QmpError';
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

/** Emits 'event' (QmpEvent) and 'close' (once). */
export class QmpClient extends EventEmitter {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(private readonly socket: Socket, readonly path: string) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', () => undefined); // 'close' follows and says it all
    socket.on('close', () => this.onClose());
  }

  /** Connects, waits for the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 2000): Promise<QmpClient> {
    const socket = createConnection({ path });
    const client = new QmpClient(socket, path);
    const timer = setTimeout(() => socket.destroy(new QmpError(`QMP ${path}: no greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (e?: Error): void => reject(new QmpError(`QMP ${path}: ${e?.message ?? 'closed before its greeting'}`));
        socket.once('error', fail);
        socket.once('close', () => fail());
        client.once('greeting', () => {
          socket.off('error', fail);
          resolve();
        });
      });
      await client.execute('qmp_capabilities');
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs one command; rejects with QmpError on an error reply or when the socket closes. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new QmpError(`QMP ${this.path} is closed`));
    const id = String(this.nextId++);
    const message = JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id });
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(message + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if ('QMP' in msg) {
      this.emit('greeting', msg.QMP);
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const err = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(`QMP: ${err.class ?? 'Error'}: ${err.desc ?? 'unknown error'}`));
    } else {
      p.resolve(msg.return);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new QmpError(`QMP ${this.path} closed`));
    this.pending.clear();
    this.emit('close');
  }
}
