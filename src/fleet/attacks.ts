/**
 * Blocked attacks, read from what an instance left: an end by SIGSEGV (139: the kernel stopped a
 * fault: a read of kernel memory, code run from the stack or heap, a write to read-only memory)
 * or SIGSYS (159: a syscall outside the image's set under `strict`), with the kernel's report
 * line; and the kernel's network-policy refusals ("@netpolicy OP PROTO ADDR:PORT" markers,
 * docs/guest-abi.md), which do not end the instance.
 */
import { readRange, fileSize } from './logs.js';

export const BLOCKED_SIGNALS: Readonly<Record<number, string>> = { 139: 'SIGSEGV', 159: 'SIGSYS' };

export interface AttackReport {
  /** "fault" or "syscall" (ended the instance), "network" (a refused connection or bind). */
  mechanism: 'fault' | 'syscall' | 'network';
  status?: number;
  signal?: string;
  /** The kernel's report lines (at most 8). */
  report: string[];
}

/**
 * The blocked attacks in a kernel log from byte `from` on (a run still going: exitStatus null;
 * an ended one: its "@exit" status). Returns them and where the next scan starts (only whole
 * lines are read; a log rotated under the offset is read from its start).
 */
export function findAttacks(klogPath: string, exitStatus: number | null, from = 0): { attacks: AttackReport[]; next: number } {
  const size = fileSize(klogPath);
  if (size === from && exitStatus === null) return { attacks: [], next: from };
  const tailStart = Math.max(0, size - 65536);
  const since = Math.max(from > size ? 0 : from, tailStart);
  // A running VM's log is read from where the last scan stopped; an ended one's whole tail is
  // read, since its fault report may precede that point.
  const readFrom = exitStatus === null ? since : tailStart;
  const text = readRange(klogPath, readFrom, size - readFrom).toString('latin1');
  // A running VM may be mid-line: stop at the last newline and read the rest next time.
  const end = exitStatus === null ? text.lastIndexOf('\n') + 1 : text.length;
  const split = (t: string): string[] => t.split('\n').map((l) => l.replace(/\r$/, ''));
  const out: AttackReport[] = [];
  const refusals = split(text.slice(since - readFrom, end)).filter((l) => l.startsWith('@netpolicy '));
  if (refusals.length) out.push({ mechanism: 'network', report: refusals.slice(0, 8).map((l) => l.slice('@netpolicy '.length)) });
  const signal = exitStatus === null ? undefined : BLOCKED_SIGNALS[exitStatus];
  if (signal !== undefined) {
    // The report line may have been read by an earlier scan: look in the whole tail.
    const report = split(text).filter((l) => /^unikit: .*(fault|outside this image's syscall set)/.test(l)).slice(-8);
    out.push({ mechanism: exitStatus === 159 ? 'syscall' : 'fault', status: exitStatus ?? undefined, signal, report });
  }
  return { attacks: out, next: Math.max(since, readFrom + end) };
}
