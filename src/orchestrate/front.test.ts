// The front with real sockets: plain node TCP servers stand in for the instances.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freeTcpPort } from '../vmm/index.js';
import { Front } from './front.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (s: Socket) => void): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    handler(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(() => r()));
  });
  return { port: address.port, server, sockets };
}

/** A backend that answers every connection with its name and what the client sent, then closes. */
function named(name: string): (s: Socket) => void {
  return (s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => s.end(`${name}:${Buffer.concat(got).toString()}`));
  };
}

async function front(): Promise<{ f: Front; port: number }> {
  const f = new Front({ host: '127.0.0.1', drainTimeoutMs: 2_000 });
  const port = await f.listen();
  cleanups.push(() => f.close());
  return { f, port };
}

/** Sends `text`, half-closes, and resolves with the whole answer (or the error). */
function ask(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(got).toString());
    });
    s.on('error', reject);
    s.end(text);
  });
}

describe('Front', () => {
  it('spreads connections over its backends round-robin and passes bytes both ways', async () => {
    const a = await serve(named('a'));
    const b = await serve(named('b'));
    const { f, port } = await front();
    f.add({ id: 'a', host: '127.0.0.1', port: a.port });
    f.add({ id: 'b', host: '127.0.0.1', port: b.port });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await ask(port, `req${i}`));
    expect(answers).toEqual(['a:req0', 'b:req1', 'a:req2', 'b:req3']);
    expect(f.backends().map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('tries the next backend when one refuses, or accepts and closes before answering', async () => {
    const refusing = await freeTcpPort();
    // What QEMU user networking does when the guest does not listen yet.
    const slirpLike = await serve((s) => s.destroy());
    const good = await serve(named('good'));
    const { f, port } = await front();
    f.add({ id: 'refusing', host: '127.0.0.1', port: refusing });
    f.add({ id: 'closing', host: '127.0.0.1', port: slirpLike.port });
    f.add({ id: 'good', host: '127.0.0.1', port: good.port });
    for (let i = 0; i < 6; i++) expect(await ask(port, `x${i}`)).toBe(`good:x${i}`);
  });

  it('resets the client when no backend is left to try', async () => {
    const { f, port } = await front();
    f.add({ id: 'gone', host: '127.0.0.1', port: await freeTcpPort() });
    await expect(ask(port, 'hello')).rejects.toThrow();
  });

  it('drains a removed backend: no new connections, the open one finishes', async () => {
    let release: (() => void) | undefined;
    // "slow" answers only when told, so a connection stays open across remove().
    const slow = await serve((s) => {
      s.on('data', () => {
        release = () => s.end('slow:done');
      });
    });
    const fast = await serve(named('fast'));
    const { f, port } = await front();
    f.add({ id: 'slow', host: '127.0.0.1', port: slow.port });
    const pending = ask(port, 'first');
    await until(() => release !== undefined);
    f.add({ id: 'fast', host: '127.0.0.1', port: fast.port });
    let removed = false;
    const removing = f.remove('slow').then(() => {
      removed = true;
    });
    expect(f.backends()).toMatchObject([{ id: 'slow', draining: true, connections: 1 }, { id: 'fast', draining: false }]);
    for (let i = 0; i < 3; i++) expect(await ask(port, `n${i}`)).toBe(`fast:n${i}`);
    expect(removed).toBe(false);
    release?.();
    expect(await pending).toBe('slow:done');
    await removing;
    expect(f.backends().map((x) => x.id)).toEqual(['fast']);
  });

  it('closes connections still open on a removed backend after the drain timeout', async () => {
    const silent = await serve((s) => {
      s.on('data', () => s.write('started'));
    });
    const { f, port } = await front();
    f.add({ id: 'silent', host: '127.0.0.1', port: silent.port });
    const s = createConnection({ host: '127.0.0.1', port });
    const ended = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', () => {});
    s.write('go');
    await new Promise<void>((r) => s.once('data', () => r()));
    await f.remove('silent', 100);
    await ended;
    expect(f.backends()).toEqual([]);
    await f.remove('silent');
  });

  it('resets a client its ingress check refuses before any backend sees it, and reports it', async () => {
    let connects = 0;
    const a = await serve((sock) => {
      connects++;
      named('a')(sock);
    });
    const refused: string[] = [];
    let allow = false;
    const f = new Front({ admits: (p) => allow && p.address === '127.0.0.1', onRefused: (p) => refused.push(p.address) });
    const port = await f.listen();
    cleanups.push(() => f.close());
    f.add({ id: 'a', host: '127.0.0.1', port: a.port });
    await expect(ask(port, 'x')).rejects.toThrow(/ECONNRESET|EPIPE/);
    expect(refused).toEqual(['127.0.0.1']);
    expect(connects).toBe(0);
    allow = true;
    expect(await ask(port, 'y')).toBe('a:y');
  });

  it('waits for an asynchronous check before any backend sees the client', async () => {
    const a = await serve(named('a'));
    let port = 0;
    const f = new Front({ admits: async (p): Promise<boolean> => {
      await new Promise((r) => setTimeout(r, 20));
      return p.localPort === port;
    } });
    port = await f.listen();
    cleanups.push(() => f.close());
    f.add({ id: 'a', host: '127.0.0.1', port: a.port });
    expect(await ask(port, 'slow')).toBe('a:slow');
  });

  it('refuses a duplicate backend and a port already in use', async () => {
    const { f, port } = await front();
    f.add({ id: 'a', host: '127.0.0.1', port: 1 });
    expect(() => f.add({ id: 'a', host: '127.0.0.1', port: 2 })).toThrow(/already in the rotation/);
    expect(() => f.add({ id: 'b', host: '127.0.0.1', port: 70000 })).toThrow(/port 70000/);
    await expect(new Front().listen(port)).rejects.toThrow(/already in use/);
  });
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
