/**
 * The host side of the guest ABI: a mirror of abi/unikit_abi.h (kept equal by abi.test.ts) and
 * the Linux x86-64 syscall names of abi/syscalls.tsv. See docs/guest-abi.md.
 */
import { readFileSync } from 'node:fs';
import { artifacts } from '../project/index.js';

/** Every #define of abi/unikit_abi.h, named as in C without the `UNIKIT_` prefix. */
export const UNIKIT_ABI = {
  ABI_VERSION: 1,
  PORT_STDOUT: 0x3f8,
  PORT_STDERR: 0x2f8,
  PORT_KLOG: 0xe9,
  PORT_EXIT: 0xf4,
  PORT_CONTROL: 0x3e8,
  CONTROL_IRQ: 5,
  CONTROL_TERMINATE: 84,
  STATUS_HOST_ERROR: 125,
  STATUS_LOAD_ERROR: 126,
  STATUS_SIGNAL_BASE: 128,
  MARK_ENTERING: '@entering-program',
  MARK_EXIT: '@exit',
  MARK_TRACE: '@trace',
  MARK_NETPOLICY: '@netpolicy',
  EXIT_REASON_EXIT: 'exit',
  EXIT_REASON_SIGNAL: 'signal',
  EXIT_REASON_LOAD: 'load-error',
  EXIT_REASON_PANIC: 'panic',
  KLOG_USER_PREFIX: 'unikit: ',
  // 2^64 - 0xa00000 is exactly representable as a double; use BigInt() before arithmetic.
  FAST_SYSCALL_ENTRY: 0xffffffffff600000,
} as const;

export type ExitReason =
  | typeof UNIKIT_ABI.EXIT_REASON_EXIT
  | typeof UNIKIT_ABI.EXIT_REASON_SIGNAL
  | typeof UNIKIT_ABI.EXIT_REASON_LOAD
  | typeof UNIKIT_ABI.EXIT_REASON_PANIC;

export const EXIT_REASONS: readonly ExitReason[] = [
  UNIKIT_ABI.EXIT_REASON_EXIT,
  UNIKIT_ABI.EXIT_REASON_SIGNAL,
  UNIKIT_ABI.EXIT_REASON_LOAD,
  UNIKIT_ABI.EXIT_REASON_PANIC,
];

/** Linux x86-64 syscall numbers and names, both ways. */
export interface SyscallTable {
  name(nr: number): string | undefined;
  number(name: string): number | undefined;
  readonly size: number;
}

/** Parses the "number<TAB>name" lines of abi/syscalls.tsv. Throws on a malformed line. */
export function parseSyscallTable(text: string): SyscallTable {
  const byNumber = new Map<number, string>();
  const byName = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^(\d+)\t([a-z0-9_]+)$/.exec(line);
    if (!m) throw new Error(`syscalls.tsv line ${i + 1} is not "number<TAB>name": ${JSON.stringify(line)}`);
    const nr = Number(m[1]);
    const name = m[2] as string;
    byNumber.set(nr, name);
    byName.set(name, nr);
  });
  return {
    name: (nr) => byNumber.get(nr),
    number: (name) => byName.get(name),
    size: byNumber.size,
  };
}

let table: SyscallTable | undefined;

/** The table of abi/syscalls.tsv, read once. */
export function syscallTable(): SyscallTable {
  table ??= parseSyscallTable(readFileSync(artifacts.syscallTable(), 'utf8'));
  return table;
}

export {
  NETWORK_POLICY_LIMITS, NetworkPolicyError, describeNetworkPolicy, isEgressHost, networkPolicyTokens,
  parseEgressTarget, parseListenPort, validateNetworkPolicy, withListenPorts,
} from './network-policy.js';
export type { EgressTarget, NetworkPolicy } from './network-policy.js';
