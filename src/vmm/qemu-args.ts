/**
 * The QEMU command line of docs/guest-abi.md. The program's stdout, its stderr and the kernel log
 * reach the host on inherited fds 3, 4 and 5: COM1, COM2 and the debugcon.
 */
import type { Accel } from './accel.js';

export type Machine = 'microvm' | 'q35';

/** The fds QEMU inherits for the three byte streams (docs/guest-abi.md). */
export const STREAM_FDS = { stdout: 3, stderr: 4, klog: 5 } as const;

/** No firmware ROMs, no RTC, no PIT, no PIC, no default serial port: only what unikit uses. */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off,rtc=off,isa-serial=off,pit=off,pic=off';

export interface QemuArgsOptions {
  machine: Machine;
  accel: Accel;
  /** Guest RAM in bytes. */
  memory: number;
  kernel: string;
  initrd: string;
  cmdline: string;
}

export function qemuArgs(o: QemuArgsOptions): string[] {
  return [
    '-M', o.machine === 'microvm' ? MICROVM_MACHINE : 'q35',
    '-accel', o.accel,
    '-cpu', o.accel === 'kvm' ? 'host' : 'max',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-m', memoryArg(o.memory),
    '-chardev', `file,id=out,path=/dev/fd/${STREAM_FDS.stdout}`,
    '-device', 'isa-serial,chardev=out,iobase=0x3f8,irq=4',
    '-chardev', `file,id=err,path=/dev/fd/${STREAM_FDS.stderr}`,
    '-device', 'isa-serial,chardev=err,iobase=0x2f8,irq=3',
    '-chardev', `file,id=klog,path=/dev/fd/${STREAM_FDS.klog}`,
    '-device', 'isa-debugcon,chardev=klog,iobase=0xe9',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-kernel', o.kernel,
    '-initrd', o.initrd,
    '-append', o.cmdline,
  ];
}

/** QEMU reads a bare -m number as MiB; a K suffix keeps sizes like 1280K exact. */
export function memoryArg(bytes: number): string {
  const kib = Math.ceil(bytes / 1024);
  return kib % 1024 === 0 ? `${kib / 1024}M` : `${kib}K`;
}
