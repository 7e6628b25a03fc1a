/** Errors in how unikit was called, and the help text. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const HELP = `unikit: run an unmodified static Linux x86-64 program as a unikernel under QEMU

usage:
  unikit build <elf> [--file HOST[:GUEST]]... [--env K=V]... [--mem SIZE] [-o DIR] [-- ARGS...]
      make an image directory (kernel.elf, initrd.cpio, manifest.json)
  unikit run <image-dir|elf> [--mem SIZE] [--accel auto|kvm|tcg] [--machine microvm|q35]
             [--env K=V]... [--file HOST[:GUEST]]... [--verbose] [--time] [--timeout SECONDS] [-- ARGS...]
      boot it, stream its output, exit with its status (an ELF is packed on the fly)
  unikit inspect <image-dir> [--json]
      show what an image holds

SIZE: bytes, or with a K, M or G suffix (4M, 16MiB, 512K). Exit statuses of run: the program's
own 0..255; 125 unikit or QEMU failed or the kernel panicked; 126 the program could not be
loaded; 128+N the program died of signal N.
`;
