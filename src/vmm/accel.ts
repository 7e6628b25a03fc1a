/**
 * Choosing the accelerator. KVM only where it runs guests at hardware speed: the paravirtual
 * KVM of some cloud hosts (module kvm_pvm) opens /dev/kvm fine but runs an ordinary 64-bit guest
 * thousands of times slower than TCG, so it is treated as no KVM at all.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { NoKvmError } from './errors.js';

export type AccelRequest = 'auto' | 'kvm' | 'tcg';
export type Accel = 'kvm' | 'tcg';

/** What the host offers, as far as choosing an accelerator goes. */
export interface HostVirt {
  /** /dev/kvm exists and this process may open it read-write. */
  kvmDevice: boolean;
  /** Loaded KVM modules: kvm_intel, kvm_amd, kvm_pvm, ... */
  kvmModules: string[];
}

export function probeHost(): HostVirt {
  let kvmDevice = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    kvmDevice = true;
  } catch {
    kvmDevice = false;
  }
  const modules = new Set<string>();
  try {
    for (const name of readdirSync('/sys/module')) if (name.startsWith('kvm')) modules.add(name);
  } catch {
    // no sysfs: fall through to /proc/modules
  }
  if (existsSync('/proc/modules')) {
    for (const line of readFileSync('/proc/modules', 'utf8').split('\n')) {
      const name = line.split(' ')[0];
      if (name?.startsWith('kvm')) modules.add(name);
    }
  }
  return { kvmDevice, kvmModules: [...modules].sort() };
}

export interface AccelChoice {
  accel: Accel;
  /** A line for the user ("unikit: ..."), when the choice deserves one. */
  notice?: string;
}

const PVM_NOTICE = 'unikit: KVM here is paravirtual (kvm_pvm) and slow; using TCG';

export function chooseAccel(request: AccelRequest, host: HostVirt): AccelChoice {
  const pvm = host.kvmModules.includes('kvm_pvm');
  const hardware = host.kvmModules.includes('kvm_intel') || host.kvmModules.includes('kvm_amd');
  switch (request) {
    case 'tcg':
      return { accel: 'tcg' };
    case 'kvm':
      if (!host.kvmDevice) throw new NoKvmError('/dev/kvm is missing or not accessible');
      return pvm && !hardware
        ? { accel: 'kvm', notice: 'unikit: KVM here is paravirtual (kvm_pvm): expect guests to run very slowly' }
        : { accel: 'kvm' };
    case 'auto':
      if (!host.kvmDevice) return { accel: 'tcg' };
      if (pvm && !hardware) return { accel: 'tcg', notice: PVM_NOTICE };
      return hardware ? { accel: 'kvm' } : { accel: 'tcg' };
  }
}

let noticeShown = false;

/** chooseAccel on this host, passing its notice to `say` once per process. */
export function resolveAccel(request: AccelRequest, say: (line: string) => void): Accel {
  const choice = chooseAccel(request, probeHost());
  if (choice.notice && !noticeShown) {
    noticeShown = true;
    say(choice.notice);
  }
  return choice.accel;
}
