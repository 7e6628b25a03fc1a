/**
 * Per-instance log files, written by QEMU itself (so they outlive unikitd): reading the tail,
 * following as they grow, capping their size (copy-then-truncate: QEMU appends, so its next
 * write lands at the start of the emptied file), and finding the kernel's "@exit" line.
 */
import {
  closeSync, copyFileSync, existsSync, type FSWatcher, fstatSync, openSync, readSync, statSync, truncateSync, watch,
} from 'node:fs';
import { classifyKlogLine } from '../vmm/index.js';

/** Reads `length` bytes at `position` (fewer at the end of the file); empty when absent. */
export function readRange(path: string, position: number, length: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, Math.min(position, size));
    const n = Math.max(0, Math.min(length, size - start));
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, start + got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last "@exit <status> <reason>" of a kernel log (looked for in its last 64 KiB). */
export function findExitMarker(klogPath: string): { status: number; reason: string } | undefined {
  const size = fileSize(klogPath);
  const text = readRange(klogPath, Math.max(0, size - 65536), 65536).toString('utf8');
  let found: { status: number; reason: string } | undefined;
  for (const line of text.split('\n')) {
    const ev = classifyKlogLine(line.replace(/\r$/, ''));
    if (ev.kind === 'exit') found = { status: ev.status, reason: ev.reason };
  }
  return found;
}

/** The console: the rotated part then the current file, limited to the last `tail` lines. */
export function readConsole(current: string, old: string, tail?: number): Buffer {
  const parts = [existsSync(old) ? readRange(old, 0, Number.MAX_SAFE_INTEGER) : Buffer.alloc(0), readRange(current, 0, Number.MAX_SAFE_INTEGER)];
  const all = Buffer.concat(parts);
  return tail === undefined ? all : lastLines(all, tail);
}

export function lastLines(buf: Buffer, n: number): Buffer {
  if (n <= 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--; // a final newline ends the last line, it does not start one
  let i = end;
  let count = 0;
  while (i > 0) {
    if (buf[i - 1] === 0x0a) {
      count++;
      if (count === n) break;
    }
    i--;
  }
  return buf.subarray(i);
}

/** When `path` is over `cap` bytes, keeps its content in `old` and empties it. */
export function capFile(path: string, old: string, cap: number): boolean {
  if (fileSize(path) <= cap) return false;
  try {
    copyFileSync(path, old);
    truncateSync(path, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls `onData` with what is appended to `path` from `offset` on, until stop() is called.
 * A file that shrinks was capped: reading starts again from its beginning.
 */
export function followFile(path: string, offset: number, onData: (b: Buffer) => void): { stop: () => void; flush: () => void } {
  let pos = offset;
  let stopped = false;
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    if (stopped) return;
    const size = fileSize(path);
    if (size < pos) pos = 0;
    while (pos < size) {
      const chunk = readRange(path, pos, Math.min(size - pos, 1 << 20));
      if (chunk.length === 0) break;
      pos += chunk.length;
      onData(chunk);
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, () => {
      if (!scheduled) {
        scheduled = true;
        setImmediate(pump);
      }
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  // inotify sees writes; a slow poll covers what it cannot (a file replaced underneath).
  const timer = setInterval(pump, 1000);
  timer.unref();
  pump();
  return {
    flush: pump,
    stop: () => {
      if (stopped) return;
      pump();
      stopped = true;
      watcher?.close();
      clearInterval(timer);
    },
  };
}
