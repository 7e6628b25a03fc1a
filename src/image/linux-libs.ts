/**
 * The shared libraries a dynamically linked program needs, found on the host the way glibc's
 * dynamic linker would find them, for packing into a Linux microVM's initramfs.
 *
 * Read with src/elf (PT_INTERP, DT_NEEDED, DT_RPATH, DT_RUNPATH), not with ldd: ldd runs the
 * program's own interpreter, which a hostile ELF can choose. The search per object follows
 * ld.so(8): DT_RPATH (only without DT_RUNPATH), DT_RUNPATH, the directories of /etc/ld.so.conf
 * (what ld.so.cache holds), then the default directories; $ORIGIN is the object's directory.
 * A library found outside the default directories is packed into /usr/lib/x86_64-linux-gnu of
 * the guest, whose dynamic linker has no ld.so.cache and searches only those; one found through
 * an RPATH/RUNPATH keeps its host path, so that the path still finds it.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { type ElfDynamicInfo, ElfError, elfDynamicInfo } from '../elf/index.js';
import { ImageError } from './errors.js';

/** Where glibc's dynamic linker on Debian x86-64 looks when nothing else names a directory. */
export const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
/** Where libraries from elsewhere go in the guest. */
const GUEST_LIBRARY_DIR = '/usr/lib/x86_64-linux-gnu';

export interface PackedLibrary {
  /** The host file read (symlinks followed when it is read). */
  host: string;
  /** Its path in the guest. */
  guest: string;
  /** The DT_NEEDED name, or 'interpreter'. */
  name: string;
}

export interface LibrarySearch {
  /** /etc/ld.so.conf's directories (default: read from the host). */
  confDirs?: string[];
  defaultDirs?: string[];
}

/**
 * The interpreter and every library the program needs, transitively; [] for a static program.
 * Throws an ImageError naming the library and who needs it when one cannot be found.
 */
export function programLibraries(program: string, search: LibrarySearch = {}): PackedLibrary[] {
  const info = dynamicInfo(program, program);
  if (!info) return [];
  const confDirs = search.confDirs ?? ldSoConfDirs();
  const defaultDirs = search.defaultDirs ?? DEFAULT_LIBRARY_DIRS;
  const out: PackedLibrary[] = [];
  if (info.interpreter) {
    if (!existsSync(info.interpreter)) throw new ImageError('IMAGE_MISSING_FILE', `${program} asks for the interpreter ${info.interpreter}, which is not on this host`);
    out.push({ host: info.interpreter, guest: info.interpreter, name: 'interpreter' });
  }
  const seen = new Set<string>();
  // Breadth first, as ld.so loads them; the executable's DT_RPATH also applies to its libraries.
  const queue: { name: string; from: string; info: ElfDynamicInfo }[] = info.needed.map((name) => ({ name, from: program, info }));
  while (queue.length) {
    const { name, from, info: parent } = queue.shift() as (typeof queue)[number];
    if (seen.has(name)) continue;
    seen.add(name);
    const found = findLibrary(name, from, parent, info, confDirs, defaultDirs);
    if (!found) {
      throw new ImageError('IMAGE_MISSING_FILE',
        `${from === program ? program : `${from} (needed by ${program})`} needs the library ${name}, found in none of ${[...parent.rpath, ...parent.runpath, ...confDirs, ...defaultDirs].join(', ')}`);
    }
    // The interpreter itself may be named as a library (libc needs ld-linux): one copy is enough.
    if (!out.some((l) => l.guest === found.guest)) out.push({ ...found, name });
    const child = dynamicInfo(found.host, found.host);
    if (child) for (const n of child.needed) queue.push({ name: n, from: found.host, info: child });
  }
  return out;
}

function findLibrary(
  name: string, from: string, parent: ElfDynamicInfo, exe: ElfDynamicInfo, confDirs: string[], defaultDirs: string[],
): { host: string; guest: string } | undefined {
  const origin = dirname(from);
  const expand = (d: string): string => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin);
  if (name.includes('/')) return compatible(name) ? { host: name, guest: posix.resolve('/', name) } : undefined;
  // DT_RPATH counts only when the object has no DT_RUNPATH; the executable's RPATH applies too.
  const rpath = parent.runpath.length ? [] : [...parent.rpath, ...(parent === exe || exe.runpath.length ? [] : exe.rpath)];
  for (const d of [...rpath, ...parent.runpath].map(expand)) {
    const p = join(d, name);
    if (compatible(p)) return { host: p, guest: posix.resolve('/', p) };
  }
  for (const d of [...confDirs, ...defaultDirs]) {
    const p = join(d, name);
    if (compatible(p)) return { host: p, guest: defaultDirs.includes(d) ? p : posix.join(GUEST_LIBRARY_DIR, name) };
  }
  return undefined;
}

/** A 64-bit x86-64 ELF shared object (ld.so skips others of the same name, e.g. i386 ones). */
function compatible(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    const head = readFileSync(path).subarray(0, 20);
    return head.length === 20 && head.readUInt32BE(0) === 0x7f454c46 && head[4] === 2 && head.readUInt16LE(18) === 62;
  } catch {
    return false;
  }
}

function dynamicInfo(path: string, display: string): ElfDynamicInfo | undefined {
  try {
    return elfDynamicInfo(readFileSync(path), display);
  } catch (e) {
    if (e instanceof ElfError) throw new ImageError('IMAGE_BAD_FILE', e.message);
    throw e;
  }
}

/** The directories /etc/ld.so.conf lists, `include` globs (`dir/*.conf`) followed. */
export function ldSoConfDirs(conf = '/etc/ld.so.conf'): string[] {
  const dirs: string[] = [];
  const visited = new Set<string>();
  const read = (file: string): void => {
    if (visited.has(file) || !existsSync(file)) return;
    visited.add(file);
    for (const raw of readFileSync(file, 'utf8').split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (inc) {
        for (const pattern of (inc[1] as string).split(/\s+/)) for (const f of globConf(pattern, dirname(file))) read(f);
      } else if (line.startsWith('/')) dirs.push(line.split(/[\s=]/)[0] as string);
    }
  };
  read(conf);
  return [...new Set(dirs)];
}

/** `dir/*.conf`-style patterns: a * in the last component only, which is what ld.so.conf uses. */
function globConf(pattern: string, base: string): string[] {
  const full = pattern.startsWith('/') ? pattern : join(base, pattern);
  const dir = dirname(full);
  const leaf = basename(full);
  if (!leaf.includes('*')) return [full];
  const re = new RegExp(`^${leaf.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  try {
    return readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}
