import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildCmdline } from './cmdline.js';
import {
  BadPortForwardError, PortInUseError, checkForwardsDistinct, checkHostPortsFree, nicArgs, parsePortForward, userNetdev,
  userNetworkFor,
} from './net.js';
import { tapName } from './tap.js';

describe('host networking, pure parts', () => {
  it('parses -p HOST:GUEST and HOST:GUEST/udp onto 127.0.0.1', () => {
    expect(parsePortForward('8080:80')).toEqual({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 });
    expect(parsePortForward('5353:53/udp')).toEqual({ proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, guestPort: 53 });
    expect(parsePortForward('1:65535/tcp').guestPort).toBe(65535);
  });

  it('refuses malformed and out-of-range forwards with the value quoted', () => {
    for (const bad of ['80', '8080:', ':80', 'a:b', '8080:80/sctp', '0:80', '8080:65536', '8080-80', ' 8080:80']) {
      expect(() => parsePortForward(bad), bad).toThrow(BadPortForwardError);
    }
    expect(() => parsePortForward('99999:80')).toThrow(/bad -p "99999:80": the host port must be 1 to 65535/);
    expect(() => checkForwardsDistinct([parsePortForward('8080:80'), parsePortForward('8080:81')])).toThrow(/forwarded twice/);
    expect(() => checkForwardsDistinct([parsePortForward('8080:80'), parsePortForward('8080:80/udp')])).not.toThrow();
  });

  it('builds the NIC arguments with the modern virtio-mmio transport', () => {
    const args = nicArgs(userNetdev([parsePortForward('8080:80'), parsePortForward('5353:53/udp')]));
    expect(args).toEqual([
      '-global', 'virtio-mmio.force-legacy=false',
      '-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:127.0.0.1:5353-:53',
      '-device', 'virtio-net-device,netdev=n0',
    ]);
    expect(nicArgs('tap,id=n0', '52:54:0a:4d:00:02').at(-1)).toBe('virtio-net-device,netdev=n0,mac=52:54:0a:4d:00:02');
  });

  it('passes the address and gateway as ip= and gw= tokens', () => {
    const line = buildCmdline({ prog: '/p', argv: ['/p'], env: [], realtimeNs: 1n, seed: Buffer.alloc(32), net: { ip: '10.77.0.2/16', gw: '10.77.0.1' } });
    expect(line.split(' ')).toEqual(expect.arrayContaining(['ip=10.77.0.2/16', 'gw=10.77.0.1']));
    expect(buildCmdline({ prog: '/p', argv: ['/p'], env: [], realtimeNs: 1n, seed: Buffer.alloc(32) })).not.toMatch(/ ip=/);
  });

  it('under a network policy: forwards only declared ports, restrict=on without egress, tokens on the command line', () => {
    const ports = [parsePortForward('8080:80'), parsePortForward('9000:9000')];
    expect(userNetworkFor(ports, undefined)).toEqual({ netdev: userNetdev(ports), dropped: [] });
    const closed = userNetworkFor(ports, { listen: [80], egress: [] });
    expect(closed.netdev).toBe('user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80');
    expect(closed.dropped.map((p) => p.guestPort)).toEqual([9000]);
    expect(userNetworkFor(ports, { listen: [80, 9000], egress: [{ host: '10.0.2.2', port: 5432 }] }).netdev).not.toContain('restrict');
    // restrict=on would drop a UDP server's answers to its forwarded clients.
    expect(userNetworkFor([parsePortForward('5353:53/udp')], { listen: [53], egress: [] }).netdev).toBe('user,id=n0,hostfwd=udp:127.0.0.1:5353-:53');
    const line = buildCmdline({
      prog: '/p', argv: ['/p'], env: [], realtimeNs: 1n, seed: Buffer.alloc(32),
      networkPolicy: { listen: [80], egress: [{ host: '10.0.2.3', port: '*' }] },
    });
    expect(line.split(' ')).toEqual(expect.arrayContaining(['netpolicy', 'listen=80', 'egress=10.0.2.3:%2A']));
  });

  it('names taps after the guest address, within IFNAMSIZ', () => {
    expect(tapName(2)).toBe('unikit-0-2');
    expect(tapName(0xfffe)).toBe('unikit-255-254');
    expect(tapName(0xfffe).length).toBeLessThan(16);
  });

  it('finds a host port in use before QEMU starts', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(checkHostPortsFree([parsePortForward(`${port}:80`)])).rejects.toThrow(PortInUseError);
      await expect(checkHostPortsFree([parsePortForward(`${port}:80/udp`)])).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });
});
