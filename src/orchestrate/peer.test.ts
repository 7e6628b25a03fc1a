// peer.ts against the real /proc: a loopback connection from a child process is found as that
// child's, and not as another process's.
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { findSocketInode, peerIsOneOf, procTcpAddress } from './peer.js';

const children: { kill: () => void }[] = [];
afterAll(() => {
  for (const c of children) c.kill();
});

describe('peer', () => {
  it('writes addresses as /proc/net/tcp does and finds the row with the ends as given', () => {
    expect(procTcpAddress('127.0.0.1', 8080)).toBe('0100007F:1F90');
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0 20 4 30 10 -1',
      '   1: 0100007F:C000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1',
    ].join('\n');
    expect(findSocketInode(table, { address: '127.0.0.1', port: 0xc000 }, { address: '127.0.0.1', port: 8080 })).toBe('222');
    expect(findSocketInode(table, { address: '127.0.0.1', port: 0xc001 }, { address: '127.0.0.1', port: 8080 })).toBeNull();
  });

  it('tells the process at the other end of a loopback connection', async () => {
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setTimeout(() => {}, 60000)`], { stdio: 'ignore' });
    children.push(child);
    const sock = await accepted;
    const peer = { address: sock.remoteAddress as string, port: sock.remotePort as number, localPort: port };
    expect(await peerIsOneOf(peer, [child.pid as number])).toBe(true);
    expect(await peerIsOneOf(peer, [process.pid])).toBe(false);
    expect(await peerIsOneOf(peer, [])).toBe(false);
    expect(await peerIsOneOf({ ...peer, address: '10.0.0.1' }, [child.pid as number])).toBe(false);
    sock.destroy();
    child.kill();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
