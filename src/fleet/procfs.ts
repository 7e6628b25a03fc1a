/**
 * What /proc tells about a process, each read O(1) in the number of VMs: whether a pid is still
 * the process we started (its start time), its memory (smaps_rollup), its CPU time; and the
 * host's memory (meminfo). One function scans all processes: used once at daemon start only.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ: 100 on every Linux we run on). */
const TICKS = 100;

export interface ProcStat {
  /** Start time since boot, in clock ticks: with the pid it names one process for good. */
  startTicks: number;
  /** User plus system CPU time, seconds. */
  cpuSeconds: number;
  /** One-letter state (R, S, Z, ...). */
  state: string;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  return { state: rest[0] ?? '?', cpuSeconds: (field(14) + field(15)) / TICKS, startTicks: field(22) };
}

/** The process `pid` is alive (not a zombie) and is the one that started at `startTicks`. */
export function isSameProcess(pid: number, startTicks: number | null | undefined): boolean {
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTicks === null || startTicks === undefined || st.startTicks === startTicks;
}

export interface MemoryUse {
  rssBytes: number;
  pssBytes: number;
  pssAnonBytes?: number;
}

export function processMemory(pid: number): MemoryUse | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  return { rssBytes: kb('Rss') ?? 0, pssBytes: kb('Pss') ?? 0, pssAnonBytes: kb('Pss_Anon') };
}

export interface HostMemory {
  totalBytes: number;
  availableBytes: number;
}

export function hostMemory(): HostMemory {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kb('MemTotal'), availableBytes: kb('MemAvailable') };
}

/** pid -> argv of every process whose command line contains `needle` (a full /proc scan). */
export function findProcesses(needle: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(needle)) out.set(Number(name), cmdline.split('\0').filter((s) => s !== ''));
  }
  return out;
}

/** Sends `signal`; false when there is no such process. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
