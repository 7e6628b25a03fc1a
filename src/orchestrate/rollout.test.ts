// The rollout's order and failure handling, with plain node servers as the instances (the real
// VMs are in test/e2e/rolling.test.ts).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Level } from '../security/index.js';
import { type Backend, Front } from './front.js';
import { RolloutError, type RolloutSteps, ServiceQueue, frontSteps, rollOut, waitReady } from './rollout.js';

/** Instances as node servers answering with their image id. */
class FakeService {
  readonly servers = new Map<string, { server: Server; sockets: Set<Socket>; image: string }>();
  readonly log: string[] = [];
  failBuild = false;
  /** Boots of these images fail. */
  readonly badImages = new Set<string>();
  private n = 0;

  async build(level: Level): Promise<string> {
    this.log.push(`build ${level}`);
    if (this.failBuild) throw new Error('the analysis found no syscall set');
    return `img-${level}`;
  }

  async boot(image: string): Promise<Backend> {
    const id = `i${++this.n}`;
    this.log.push(`boot ${id} ${image}`);
    if (this.badImages.has(image)) throw new Error(`${id} exited during boot`);
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.on('data', () => s.end(image));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.servers.set(id, { server, sockets, image });
    return { id, host: '127.0.0.1', port: (server.address() as { port: number }).port };
  }

  async stop(id: string): Promise<void> {
    this.log.push(`stop ${id}`);
    const s = this.servers.get(id);
    if (!s) return;
    this.servers.delete(id);
    for (const c of s.sockets) c.destroy();
    await new Promise<void>((r) => s.server.close(() => r()));
  }

  images(): string[] {
    return [...this.servers.values()].map((s) => s.image);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(count: number): Promise<{ svc: FakeService; front: Front; port: number; instances: string[]; steps: RolloutSteps }> {
  const svc = new FakeService();
  const front = new Front({ drainTimeoutMs: 1_000 });
  const port = await front.listen();
  const instances: string[] = [];
  for (let i = 0; i < count; i++) {
    const b = await svc.boot('img-medium');
    front.add(b);
    instances.push(b.id);
  }
  const steps: RolloutSteps = {
    build: (level) => svc.build(level),
    ...frontSteps({ front, boot: (image) => svc.boot(image), stop: (id) => svc.stop(id), drainTimeoutMs: 1_000 }),
  };
  cleanups.push(async () => {
    await front.close();
    for (const id of [...svc.servers.keys()]) await svc.stop(id);
  });
  return { svc, front, port, instances, steps };
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => resolve(Buffer.concat(got).toString()));
    s.on('error', reject);
    s.write('GET');
  });
}

describe('rollOut', () => {
  it('replaces instances one at a time while every request of a client loop succeeds', async () => {
    const { svc, front, port, instances, steps } = await setup(3);
    const audit: string[] = [];
    let stop = false;
    let failures = 0;
    const seen = new Set<string>();
    const loop = (async () => {
      while (!stop) {
        try {
          seen.add(await ask(port));
        } catch {
          failures++;
        }
      }
    })();
    const result = await rollOut({ instances, fromImage: 'img-medium', to: 'high', steps, audit: (k) => audit.push(k) });
    stop = true;
    await loop;
    expect(failures).toBe(0);
    expect(seen).toEqual(new Set(['img-medium', 'img-high']));
    expect(result.imageId).toBe('img-high');
    expect(result.replaced).toEqual([{ old: 'i1', new: 'i4' }, { old: 'i2', new: 'i5' }, { old: 'i3', new: 'i6' }]);
    // Never fewer instances than before, one more at most.
    expect(svc.log.slice(3)).toEqual(['build high', 'boot i4 img-high', 'stop i1', 'boot i5 img-high', 'stop i2', 'boot i6 img-high', 'stop i3']);
    expect(front.backends().map((b) => b.id)).toEqual(['i4', 'i5', 'i6']);
    expect(svc.images()).toEqual(['img-high', 'img-high', 'img-high']);
    expect(audit).toEqual([]);
  });

  it('keeps the old instances when the image fails to build, and records it', async () => {
    const { svc, front, instances, steps } = await setup(2);
    svc.failBuild = true;
    const audit: [string, Record<string, unknown>][] = [];
    const err = await rollOut({ instances, fromImage: 'img-medium', to: 'strict', steps, audit: (k, d) => audit.push([k, d]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RolloutError);
    expect((err as RolloutError).message).toMatch(/stopped at the build of its image: the analysis found no syscall set; the old instances keep running/);
    expect(audit).toEqual([['rollout.failed', { level: 'strict', stage: 'build', error: 'the analysis found no syscall set' }]]);
    expect(front.backends().map((b) => b.id)).toEqual(['i1', 'i2']);
  });

  it('puts the old image back when a later boot fails', async () => {
    const { svc, front, instances, steps } = await setup(2);
    // The first new instance boots, the second does not: img-high boots once only.
    const boot = svc.boot.bind(svc);
    let highBoots = 0;
    svc.boot = async (image: string): Promise<Backend> => {
      if (image === 'img-high' && ++highBoots > 1) svc.badImages.add('img-high');
      return boot(image);
    };
    const audit: [string, Record<string, unknown>][] = [];
    await expect(rollOut({ instances, fromImage: 'img-medium', to: 'high', steps, audit: (k, d) => audit.push([k, d]) }))
      .rejects.toThrow(/stopped at the start of a new instance: i4 exited during boot/);
    expect(svc.images()).toEqual(['img-medium', 'img-medium']);
    expect(front.backends().map((b) => b.id)).toEqual(['i2', 'i5']);
    expect(audit[0]?.[1]).toMatchObject({ stage: 'start', replacedBack: 1 });
  });

  it('waitReady tells a port that closes at once from one that listens', async () => {
    const closing = createServer((s) => s.destroy());
    await new Promise<void>((r) => closing.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => closing.close(() => r())));
    const port = (closing.address() as { port: number }).port;
    await expect(waitReady({ id: 'x', host: '127.0.0.1', port }, 300, 50)).rejects.toThrow(/did not accept a connection/);
    const { front } = await setup(1);
    await waitReady(front.backends()[0] as Backend, 1_000, 50);
  });
});

describe('ServiceQueue', () => {
  it("runs one key's work one after the other, even after a failure, and other keys alongside", async () => {
    const q = new ServiceQueue();
    const log: string[] = [];
    const step = (name: string, fail = false) => async (): Promise<void> => {
      log.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`${name} end`);
      if (fail) throw new Error(name);
    };
    await Promise.allSettled([q.run('web', step('a', true)), q.run('web', step('b')), q.run('db', step('c'))]);
    expect(log.indexOf('a end')).toBeLessThan(log.indexOf('b start'));
    expect(log.indexOf('c start')).toBeLessThan(log.indexOf('a end'));
  });
});
