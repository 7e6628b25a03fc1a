import { describe, expect, it } from 'vitest';
import { VmCrashedError } from '../vmm/index.js';
import { LINUX_CMDLINE_MAX, LINUX_GUEST_EXIT, LINUX_NET_MODULES, encodeRunConfig, ldSoConfDirs, linuxAppend, linuxExitFromKlog, linuxInitScript, linuxQemuArgs, moduleDepends, orderModules, programLibraries } from './index.js';

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
    const s = linuxInitScript(LINUX_NET_MODULES, { argv: ['/httpd', '80'], env: [] });
    expect(s.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(s).toContain('insmod /lib/modules/virtio_net.ko');
    expect(s).toContain('ip addr add 10.0.2.15/24 dev eth0');
    const lines = s.trimEnd().split('\n');
    expect(lines.slice(-2)).toEqual(['echo @entering-program >$K', 'exec $B env -i "$@" </dev/null >/dev/ttyS0 2>/dev/ttyS1']);
    expect(s).not.toContain('@exit');
  });

  it('reads the program\'s status from the kernel\'s panic when PID 1 exits', () => {
    const panic = (code: string): string => `[    1.756690] Kernel panic - not syncing: Attempted to kill init! exitcode=0x${code}`;
    expect(linuxExitFromKlog(panic('00000300'))).toEqual({ status: 3, reason: 'exit' });
    expect(linuxExitFromKlog(panic('00000000'))).toEqual({ status: 0, reason: 'exit' });
    expect(linuxExitFromKlog(panic('0000ff00'))).toEqual({ status: 255, reason: 'exit' });
    expect(linuxExitFromKlog(panic('0000000b'))).toEqual({ status: 128 + 11, reason: 'signal' });
    expect(linuxExitFromKlog(panic('00000086'))).toEqual({ status: 128 + 6, reason: 'signal' }); // SIGABRT, core dumped
    expect(linuxExitFromKlog('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)')).toBeUndefined();
    expect(linuxExitFromKlog('@exit 3 exit')).toBeUndefined();
  });

  it('quotes any other panic when the VM ends without the program\'s', () => {
    const line = '[    1.31] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)';
    expect(LINUX_GUEST_EXIT.failure(line)).toBe('Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
    expect(LINUX_GUEST_EXIT.failure('[    1.32]  dump_stack_lvl+0x44/0x5c')).toBeUndefined();
    const e = new VmCrashedError(['</TASK>'], 'exited with code 0', '', LINUX_GUEST_EXIT.expected, LINUX_GUEST_EXIT.failure(line));
    expect(e.message).toBe('the VM crashed: QEMU exited with code 0 without the kernel\'s "Attempted to kill init!" panic, which ends a Linux image\'s run; the kernel said: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)');
  });

  it('carries argv and environment as one base64 word after -- on the kernel command line', () => {
    const run = { argv: ['/httpd', '80', "/w w'"], env: ['A=1 2'] };
    const append = linuxAppend(run);
    expect(append).toMatch(/^console=ttyS2 quiet panic=-1 -- [A-Za-z0-9+/=]+$/);
    expect(Buffer.from(encodeRunConfig(run), 'base64').toString()).toBe(`set -- 'A=1 2' '/httpd' '80' '/w w'\\'''\n`);
    expect(() => linuxAppend({ argv: ['/x', 'y'.repeat(LINUX_CMDLINE_MAX)], env: [] })).toThrow(/kernel command line, which holds 2047/);
    expect(() => encodeRunConfig({ argv: ['x'], env: [] })).toThrow(/absolute path/);
  });

  it('boots on q35 with the three streams on three UARTs', () => {
    const a = linuxQemuArgs({ image: { vmlinuz: '/i/vmlinuz', initrd: '/i/initramfs.cpio' }, accel: 'tcg', memory: 128 << 20, append: 'console=ttyS2', streams: { stdout: 3, stderr: 4, klog: 5 } }).join(' ');
    expect(a).toContain('-M q35 -accel tcg');
    // The program's exit panics the kernel, which (panic=-1) reboots at once: -no-reboot makes that QEMU's end.
    expect(a).toContain('-no-reboot');
    expect(a).toContain('-chardev file,id=out,path=/dev/fd/3 -device isa-serial,chardev=out,iobase=0x3f8,irq=4');
    expect(a).toContain('-chardev file,id=klog,path=/dev/fd/5 -device isa-serial,chardev=klog,iobase=0x3e8,irq=5');
    expect(a).toContain('-m 128M');
    expect(a).not.toContain('-netdev');
  });
});

describe('libraries of dynamically linked programs (read from this host)', () => {
  it('packs the interpreter and every library /bin/true needs, transitively', () => {
    const libs = programLibraries('/bin/true');
    expect(libs[0]).toEqual({ host: '/lib64/ld-linux-x86-64.so.2', guest: '/lib64/ld-linux-x86-64.so.2', name: 'interpreter' });
    expect(libs.some((l) => l.name === 'libc.so.6' && l.guest.endsWith('/libc.so.6'))).toBe(true);
    expect(new Set(libs.map((l) => l.guest)).size).toBe(libs.length);
  });

  it('finds nothing to pack for a static program', () => {
    expect(programLibraries('/bin/busybox')).toEqual([]);
  });

  it('names the library it cannot find and who needs it', () => {
    expect(() => programLibraries('/bin/true', { confDirs: [], defaultDirs: ['/nonexistent'] })).toThrow(/\/bin\/true needs the library libc\.so\.6, found in none of \/nonexistent/);
  });

  it('reads /etc/ld.so.conf with its includes', () => {
    expect(ldSoConfDirs()).toContain('/usr/lib/x86_64-linux-gnu');
  });
});
