/**
 * Syscall profiles: the set of system calls a workload really made, as the guest kernel reports
 * it with the `trace` flag (one "@trace <n1>,<n2>,..." kernel log line before "@exit"), and as
 * `unikit trace --json` writes it for `unikit build --profile FILE` to read back.
 */
import { UNIKIT_ABI, syscallTable } from '../abi/index.js';

export const PROFILE_FORMAT = 1;

/** One syscall of a profile. */
export interface ProfiledSyscall {
  number: number;
  /** The Linux name, or `nr_<n>` for a number Linux does not define. */
  name: string;
}

/** What `unikit trace --json` prints. */
export interface SyscallProfile {
  format: typeof PROFILE_FORMAT;
  /** The program's name (its basename in the image). */
  program: string;
  argv: string[];
  /** The status the traced run ended with. */
  status: number;
  /** Every syscall the run made, once each, by number. */
  syscalls: ProfiledSyscall[];
  /** Traced calls the static analysis did not find (null when no analysis was available). */
  missedByAnalysis: ProfiledSyscall[] | null;
}

export type TraceErrorCode = 'TRACE_BAD_LINE' | 'TRACE_BAD_PROFILE' | 'TRACE_NO_LINE';

/** A trace line or a profile file that cannot be read. */
export class TraceError extends Error {
  constructor(readonly code: TraceErrorCode, message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

/** The numbers of an "@trace ..." kernel log line; undefined for any other line. Throws on a malformed one. */
export function parseTraceLine(line: string): number[] | undefined {
  const mark = UNIKIT_ABI.MARK_TRACE;
  if (line !== mark && !line.startsWith(mark + ' ')) return undefined;
  const body = line.slice(mark.length).trim();
  if (body === '') return [];
  if (!/^\d+(,\d+)*$/.test(body)) throw new TraceError('TRACE_BAD_LINE', `the kernel's trace line is malformed: ${JSON.stringify(line)}`);
  return [...new Set(body.split(',').map(Number))].sort((a, b) => a - b);
}

/** Names the numbers (ascending, once each). */
export function nameSyscalls(numbers: Iterable<number>): ProfiledSyscall[] {
  const table = syscallTable();
  return [...new Set(numbers)].sort((a, b) => a - b).map((number) => ({ number, name: table.name(number) ?? `nr_${number}` }));
}

/**
 * The syscall numbers of a profile file: the JSON `unikit trace --json` wrote, or plain text with
 * names or numbers separated by spaces, commas or newlines (`#` starts a comment). `file` names
 * the file in errors.
 */
export function readProfile(text: string, file: string): number[] {
  const table = syscallTable();
  const bad = (what: string): never => {
    throw new TraceError('TRACE_BAD_PROFILE', `${file} is not a syscall profile: ${what} (give what \`unikit trace --json\` wrote, or names or numbers, one a line)`);
  };
  const toNumber = (item: unknown): number => {
    if (typeof item === 'number' && Number.isInteger(item) && item >= 0) return item;
    if (typeof item === 'string') {
      if (/^\d+$/.test(item)) return Number(item);
      const nr = table.number(item) ?? (/^nr_(\d+)$/.exec(item) ? Number(item.slice(3)) : undefined);
      if (nr === undefined) return bad(`${JSON.stringify(item)} is not a Linux x86-64 syscall name`);
      return nr;
    }
    if (typeof item === 'object' && item !== null && 'number' in item) return toNumber((item as { number: unknown }).number);
    if (typeof item === 'object' && item !== null && 'name' in item) return toNumber((item as { name: unknown }).name);
    return bad(`${JSON.stringify(item)} is neither a syscall name nor a number`);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (e) {
      return bad(`invalid JSON (${(e as Error).message})`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { syscalls?: unknown }).syscalls;
    if (!Array.isArray(list)) return bad('its JSON has no "syscalls" list');
    return [...new Set(list.map(toNumber))].sort((a, b) => a - b);
  }
  const words = text.split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/[\s,]+/).filter((w) => w !== '');
  return [...new Set(words.map(toNumber))].sort((a, b) => a - b);
}

/** The text `unikit trace` prints: one line per syscall, then what the analysis missed. */
export function formatProfile(p: SyscallProfile): string {
  const out = [`${p.program}: ${p.syscalls.length} syscalls made (status ${p.status})`];
  for (const s of p.syscalls) out.push(`  ${String(s.number).padStart(4)}  ${s.name}`);
  if (p.missedByAnalysis !== null) {
    out.push(p.missedByAnalysis.length === 0
      ? 'static analysis found every one of them'
      : `not found by static analysis: ${p.missedByAnalysis.map((s) => s.name).join(', ')} (build with --profile to include them)`);
  }
  return out.join('\n') + '\n';
}

export function formatProfileJson(p: SyscallProfile): string {
  return JSON.stringify(p, null, 2) + '\n';
}
