import { describe, expect, it } from 'vitest';
import { LINUX_NET_MODULES, linuxInitScript, linuxQemuArgs, moduleDepends, orderModules } from './index.js';

describe('Linux microVM images (pure parts)', () => {
  it('reads depends= from a module .modinfo', () => {
    const ko = Buffer.concat([Buffer.from('\x7fELF...\0license=GPL\0depends=virtio_ring,virtio,net_failover\0retpoline=Y\0', 'latin1')]);
    expect(moduleDepends(ko)).toEqual(['virtio_ring', 'virtio', 'net_failover']);
    expect(moduleDepends(Buffer.from('\0depends=\0', 'latin1'))).toEqual([]);
  });

  it('orders modules after their dependencies, and refuses unknown ones and cycles', () => {
    const order = orderModules({
      virtio_net: ['virtio_ring', 'virtio', 'net_failover'],
      virtio: ['virtio_ring'],
      virtio_ring: [],
      net_failover: ['failover'],
      failover: [],
    });
    expect(order.indexOf('virtio_ring')).toBeLessThan(order.indexOf('virtio'));
    expect(order.indexOf('failover')).toBeLessThan(order.indexOf('net_failover'));
    expect(order[order.length - 1]).toBe('virtio_net');
    expect(() => orderModules({ a: ['b'] })).toThrow(/b \(needed by a\) is not in the kernel package/);
    expect(() => orderModules({ a: ['b'], b: ['a'] })).toThrow(/cycle/);
  });

  it('writes an /init that loads the modules, configures eth0 and execs the program as PID 1', () => {
    const s = linuxInitScript(LINUX_NET_MODULES, ['/httpd', '80', "/w w'"]);
    expect(s.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(s).toContain('insmod /lib/modules/virtio_net.ko');
    expect(s).toContain('ip addr add 10.0.2.15/24 dev eth0');
    expect(s.trimEnd().split('\n').pop()).toBe(`exec '/httpd' '80' '/w w'\\'''`);
  });

  it('boots on q35 with virtio-net-pci and user networking', () => {
    const a = linuxQemuArgs({ image: { dir: '/i', vmlinuz: '/i/vmlinuz', initrd: '/i/initramfs.cpio', argv: ['/x'], bytes: 1, kernelPackage: 'k' }, accel: 'tcg', memory: 128 << 20, hostfwd: ['tcp:127.0.0.1:8080-:80'] });
    expect(a.join(' ')).toContain('-M q35 -accel tcg');
    expect(a.join(' ')).toContain('-netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-pci,netdev=n0');
    expect(a.join(' ')).toContain('-m 128M');
  });
});
