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
