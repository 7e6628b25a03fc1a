/**
 * A minimal stand-in for src/orchestrate/front.ts (the 'rollout' work: one stable TCP address per
 * service, round-robin over its instances, draining removal), with the agreed API, so that the
 * deployment runtime works before front.ts lands. Dropped when it does.
 */
import { type Server, type Socket, createConnection, createServer } from 'node:net';

export interface Backend {
  id: string;
  host: string;
  port: number;
}

export class Front {
  private readonly backends: Backend[] = [];
  private readonly open = new Map<string, Set<Socket>>();
  private next = 0;
  private server?: Server;

  constructor(private readonly o: { host: string }) {}

  /** Starts listening (on `port`, else a free one); resolves with the port. */
  listen(port = 0): Promise<number> {
    const server = createServer((client) => this.connect(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.o.host, () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  add(b: Backend): void {
    if (!this.backends.some((x) => x.id === b.id)) this.backends.push(b);
  }

  /** Takes the backend out of rotation and waits for its open connections to end. */
  async remove(id: string): Promise<void> {
    const i = this.backends.findIndex((b) => b.id === id);
    if (i >= 0) this.backends.splice(i, 1);
    const conns = this.open.get(id);
    if (!conns || conns.size === 0) return;
    await Promise.all([...conns].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) resolve();
      else s.once('close', () => resolve());
    })));
  }

  close(): void {
    this.server?.close();
    for (const set of this.open.values()) for (const s of set) s.destroy();
  }

  private connect(client: Socket): void {
    const b = this.backends.length ? this.backends[this.next++ % this.backends.length] : undefined;
    if (!b) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: b.host, port: b.port });
    let set = this.open.get(b.id);
    if (!set) this.open.set(b.id, (set = new Set()));
    const s = set;
    s.add(upstream);
    const done = (): void => {
      s.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
