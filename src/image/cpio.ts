/**
 * The cpio "newc" format (magic 070701), as docs/guest-abi.md describes the initrd: relative
 * paths, directories as their own entries, regular files, symlinks with the target as data, and
 * the TRAILER!!! entry. A reader is here too, for `inspect` and for the tests' round trips.
 */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface CpioEntry {
  /** Relative path, no leading slash ("hello", "etc/passwd"). */
  name: string;
  /** File type and permission bits, as st_mode. */
  mode: number;
  /** File contents, or a symlink's target; empty for directories. */
  data: Buffer;
  mtime: number;
}

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

/** Writes the entries in the order given (parents must come before their children). */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const pad = (): void => {
    const n = (4 - (offset % 4)) % 4;
    if (n) push(Buffer.alloc(n));
  };
  const record = (ino: number, e: CpioEntry): void => {
    const name = Buffer.from(e.name + '\0', 'utf8');
    const isDir = (e.mode & S_IFMT) === S_IFDIR;
    const fields = [ino, e.mode, 0, 0, isDir ? 2 : 1, e.mtime, e.data.length, 0, 0, 0, 0, name.length, 0];
    push(Buffer.from(MAGIC + fields.map(hex8).join(''), 'latin1'));
    push(name);
    pad();
    if (e.data.length) {
      push(e.data);
      pad();
    }
  };
  entries.forEach((e, i) => {
    checkName(e.name);
    record(i + 1, e);
  });
  record(0, { name: TRAILER, mode: 0, data: Buffer.alloc(0), mtime: 0 });
  return Buffer.concat(parts);
}

/** Reads a newc archive up to its trailer. Throws on a malformed archive. */
export function readCpio(buf: Buffer): CpioEntry[] {
  const entries: CpioEntry[] = [];
  let at = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    if (at + HEADER_SIZE > buf.length) throw new Error(`cpio: header at byte ${at} runs past the end (${buf.length} bytes)`);
    const magic = buf.toString('latin1', at, at + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at byte ${at}`);
    const field = (i: number): number => parseInt(buf.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const mtime = field(5);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = at + HEADER_SIZE;
    const name = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = align(nameStart + nameSize);
    if (dataStart + size > buf.length) throw new Error(`cpio: ${name} runs past the end of the archive`);
    if (name === TRAILER) return entries;
    entries.push({ name, mode, mtime, data: Buffer.from(buf.subarray(dataStart, dataStart + size)) });
    at = align(dataStart + size);
  }
}

function checkName(name: string): void {
  if (name === '' || name.startsWith('/') || name.split('/').some((c) => c === '' || c === '.' || c === '..')) {
    throw new Error(`cpio: bad entry name ${JSON.stringify(name)}: it must be a relative path without "." or ".."`);
  }
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
