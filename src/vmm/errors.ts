/**
 * Why a VM could not run to its end. Each carries the status `unikit run` exits with: 125, the
 * status docs/guest-abi.md reserves for unikit's and QEMU's own failures.
 */
import { UNIKIT_ABI } from '../abi/index.js';

export type VmmErrorCode =
  | 'VMM_QEMU_MISSING'
  | 'VMM_QEMU_FAILED'
  | 'VMM_CRASHED'
  | 'VMM_TIMEOUT'
  | 'VMM_CMDLINE_TOO_LONG'
  | 'VMM_NO_KVM'
  | 'VMM_BAD_OPTION'
  | 'VMM_PORT_IN_USE'
  | 'VMM_NETWORK'
  | 'VMM_INTERRUPTED';

export class VmmError extends Error {
  readonly status: number = UNIKIT_ABI.STATUS_HOST_ERROR;
  constructor(readonly code: VmmErrorCode, message: string) {
    super(message);
    this.name = 'VmmError';
  }
}

export class QemuMissingError extends VmmError {
  constructor(binary: string) {
    super('VMM_QEMU_MISSING', `${binary} was not found: install Debian's qemu-system-x86 (bash scripts/setup.sh does)`);
  }
}

/** QEMU exited before the guest said anything: its own stderr tells why. */
export class QemuStartError extends VmmError {
  constructor(readonly qemuStderr: string, exitDescription: string) {
    const first = qemuStderr.trim().split('\n').filter((l) => l.trim() !== '');
    super('VMM_QEMU_FAILED', `QEMU failed to start (${exitDescription})${first.length ? ': ' + first.slice(0, 3).join(' / ') : ''}`);
  }
}

/**
 * QEMU ended without the kernel's "@exit" line (or the line a guest of its own names:
 * `expected`); `why` is the guest kernel's own account when it gave one (a Linux panic).
 */
export class VmCrashedError extends VmmError {
  constructor(readonly lastKlog: string[], exitDescription: string, qemuStderr: string, expected = 'an @exit line', why?: string) {
    const tail = lastKlog.slice(-5).join(' | ');
    const qemu = qemuStderr.trim().split('\n').filter((l) => l !== '').slice(-2).join(' / ');
    const said = why ? `; the kernel said: ${why}` : tail ? `; last kernel log: ${tail}` : '; the kernel logged nothing';
    super('VMM_CRASHED', `the VM crashed: QEMU ${exitDescription} without ${expected}${said}` + (qemu ? `; QEMU said: ${qemu}` : ''));
  }
}

export class VmTimeoutError extends VmmError {
  constructor(readonly timeoutMs: number, readonly lastKlog: string[]) {
    super('VMM_TIMEOUT', `the VM ran longer than ${timeoutMs} ms and was stopped`);
  }
}

export class VmInterruptedError extends VmmError {
  constructor(signal: string) {
    super('VMM_INTERRUPTED', `the VM was stopped by ${signal}`);
  }
}

export class CmdlineTooLongError extends VmmError {
  constructor(length: number, max: number) {
    super('VMM_CMDLINE_TOO_LONG', `the kernel command line is ${length} bytes, more than the ${max} QEMU can pass: shorten the arguments or the environment, or pack them into a file`);
  }
}

export class NoKvmError extends VmmError {
  constructor(why: string) {
    super('VMM_NO_KVM', `--accel kvm: ${why}; use --accel tcg or auto`);
  }
}
