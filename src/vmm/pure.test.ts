/** The VMM's pure parts: command-line encoding, QEMU arguments, accelerator choice, log lines. */
import { describe, expect, it } from 'vitest';
import {
  CMDLINE_MAX, VmmError, buildCmdline, chooseAccel, classifyKlogLine, decodeValue, encodeValue, memoryArg, qemuArgs,
} from './index.js';

describe('kernel command line', () => {
  it('percent-encodes every byte outside [A-Za-z0-9._/:,+=-]', () => {
    expect(encodeValue('/bin/busybox')).toBe('/bin/busybox');
    expect(encodeValue('a b')).toBe('a%20b');
    expect(encodeValue('x=3; echo $((x*7))')).toBe('x=3%3B%20echo%20%24%28%28x%2A7%29%29');
    expect(encodeValue('100%')).toBe('100%25');
    expect(encodeValue('é')).toBe('%C3%A9');
    expect(encodeValue('')).toBe('');
    expect(encodeValue('tab\tnl\n')).toBe('tab%09nl%0A');
  });

  it('decodes what it encodes', () => {
    for (const s of ['', 'plain', 'a b  c', 'é ü 日本', '%%41', "quote'\"\\", '\u0000x']) expect(decodeValue(encodeValue(s))).toBe(s);
  });

  it('lays the tokens out in the documented order', () => {
    const line = buildCmdline({
      prog: '/hello', argv: ['/hello', 'a b'], env: ['K=v w'], tscKhz: 2599998.4,
      realtimeNs: 1700000000123456789n, seed: Buffer.alloc(32, 0xab), verbose: true,
    });
    expect(line).toBe(`prog=/hello arg=/hello arg=a%20b env=K=v%20w cwd=/ tsc_khz=2599998 realtime_ns=1700000000123456789 seed=${'ab'.repeat(32)} verbose`);
    expect(line).not.toMatch(/\s{2}/);
  });

  it('passes kernel flags as bare tokens, once each', () => {
    const line = buildCmdline({ prog: '/p', argv: ['/p'], env: [], realtimeNs: 1n, seed: Buffer.alloc(32), flags: ['aslr', 'wx', 'aslr'] });
    expect(line.endsWith(' aslr wx')).toBe(true);
  });

  it('refuses a command line longer than QEMU can pass', () => {
    const long = 'x'.repeat(CMDLINE_MAX);
    try {
      buildCmdline({ prog: '/p', argv: ['/p', long], env: [], realtimeNs: 0n, seed: Buffer.alloc(32) });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VmmError);
      expect((e as VmmError).code).toBe('VMM_CMDLINE_TOO_LONG');
      expect((e as VmmError).message).toMatch(/^the kernel command line is \d+ bytes, more than the 131071 QEMU can pass/);
    }
  });
});

describe('QEMU arguments', () => {
  const args = qemuArgs({ machine: 'microvm', accel: 'tcg', memory: 16 << 20, kernel: 'k.elf', initrd: 'i.cpio', cmdline: 'prog=/x' });

  it('follow docs/guest-abi.md', () => {
    expect(args.join(' ')).toBe([
      '-M microvm,x-option-roms=off,rtc=off,isa-serial=off,pit=off,pic=off -accel tcg -cpu max',
      '-nodefaults -no-user-config -display none -no-reboot -m 16M',
      '-chardev file,id=out,path=/dev/fd/3 -device isa-serial,chardev=out,iobase=0x3f8,irq=4',
      '-chardev file,id=err,path=/dev/fd/4 -device isa-serial,chardev=err,iobase=0x2f8,irq=3',
      '-chardev file,id=klog,path=/dev/fd/5 -device isa-debugcon,chardev=klog,iobase=0xe9',
      '-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel k.elf -initrd i.cpio -append prog=/x',
    ].join(' '));
  });

  it('use -cpu host under KVM and q35 when asked', () => {
    const kvm = qemuArgs({ machine: 'q35', accel: 'kvm', memory: 1 << 20, kernel: 'k', initrd: 'i', cmdline: '' });
    expect(kvm.slice(0, 6)).toEqual(['-M', 'q35', '-accel', 'kvm', '-cpu', 'host']);
  });

  it('write memory in exact units', () => {
    expect(memoryArg(16 << 20)).toBe('16M');
    expect(memoryArg(1280 << 10)).toBe('1280K');
    expect(memoryArg(1000)).toBe('1K');
  });
});

describe('accelerator choice', () => {
  it('uses TCG without /dev/kvm, silently', () => {
    expect(chooseAccel('auto', { kvmDevice: false, kvmModules: [] })).toEqual({ accel: 'tcg' });
  });
  it('uses TCG on paravirtual KVM and says why', () => {
    expect(chooseAccel('auto', { kvmDevice: true, kvmModules: ['kvm', 'kvm_pvm'] })).toEqual({
      accel: 'tcg', notice: 'unikit: KVM here is paravirtual (kvm_pvm) and slow; using TCG',
    });
  });
  it('uses KVM on hardware KVM', () => {
    expect(chooseAccel('auto', { kvmDevice: true, kvmModules: ['kvm', 'kvm_intel'] })).toEqual({ accel: 'kvm' });
    expect(chooseAccel('auto', { kvmDevice: true, kvmModules: ['kvm', 'kvm_amd'] })).toEqual({ accel: 'kvm' });
  });
  it('obeys an explicit choice, refusing KVM where there is none', () => {
    expect(chooseAccel('tcg', { kvmDevice: true, kvmModules: ['kvm_intel'] })).toEqual({ accel: 'tcg' });
    expect(chooseAccel('kvm', { kvmDevice: true, kvmModules: ['kvm_pvm'] }).accel).toBe('kvm');
    expect(() => chooseAccel('kvm', { kvmDevice: false, kvmModules: [] })).toThrow(/--accel kvm: \/dev\/kvm is missing/);
  });
});

describe('kernel log lines', () => {
  it('are classified as markers, user messages or chatter', () => {
    expect(classifyKlogLine('@entering-program')).toEqual({ kind: 'entering' });
    expect(classifyKlogLine('@exit 0 exit')).toEqual({ kind: 'exit', status: 0, reason: 'exit' });
    expect(classifyKlogLine('@exit 139 signal')).toEqual({ kind: 'exit', status: 139, reason: 'signal' });
    expect(classifyKlogLine('@exit nonsense')).toEqual({ kind: 'marker', text: '@exit nonsense' });
    expect(classifyKlogLine('@netpolicy connect tcp 10.0.2.2:5433')).toEqual({ kind: 'netpolicy', op: 'connect', proto: 'tcp', host: '10.0.2.2', port: 5433 });
    expect(classifyKlogLine('unikit: syscall 57 (fork) is not implemented')).toEqual({ kind: 'user', text: 'unikit: syscall 57 (fork) is not implemented' });
    expect(classifyKlogLine('mm: 4096 pages')).toEqual({ kind: 'log', text: 'mm: 4096 pages' });
  });
});

describe('nameSyscalls', () => {
  it('names the numbers a per-program kernel leaves bare', async () => {
    const { nameSyscalls } = await import('./klog.js');
    expect(nameSyscalls("unikit: syscall 41 (?) is outside this image's syscall set: stopping (strict)"))
      .toBe("unikit: syscall 41 (socket) is outside this image's syscall set: stopping (strict)");
    expect(nameSyscalls('unikit: program fault: ...; last syscall: 1 (?)')).toBe('unikit: program fault: ...; last syscall: 1 (write)');
    expect(nameSyscalls('unikit: syscall 57 (fork) is not implemented')).toBe('unikit: syscall 57 (fork) is not implemented');
  });
});
