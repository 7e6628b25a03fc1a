/** Memory of what the bench starts: PSS of host processes (/proc/PID/smaps_rollup) and cgroup v1 memory of containers. */
import { readFileSync, readdirSync } from 'node:fs';

/** Proportional set size of one process in bytes; undefined when it is gone. */
export function pssBytes(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the one process whose command line contains `needle`, else undefined. */
export function findPid(needle: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

export const CGROUP_V1_MEMORY = '/sys/fs/cgroup/memory';

/** memory.usage_in_bytes of a cgroup v1 path (relative to the memory hierarchy). */
export function cgroupMemoryBytes(cgroupPath: string): number | undefined {
  try {
    return Number(readFileSync(`${CGROUP_V1_MEMORY}/${cgroupPath.replace(/^\/+/, '')}/memory.usage_in_bytes`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The memory cgroup (v1) a process is in, from /proc/PID/cgroup; undefined when it is gone. */
export function memoryCgroupOf(pid: number): string | undefined {
  try {
    const m = /^\d+:memory:(\S+)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** This process's hard limit for a /proc/self/limits row ("Max open files", "Max processes"). */
export function hardLimit(row: string): number | undefined {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(row));
  const hard = line?.slice(row.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? undefined : Number(hard);
}
