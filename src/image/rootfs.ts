/**
 * The image's root filesystem: the program and each --file, turned into cpio entries with their
 * parent directories, in an order where every parent comes before its children.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type CpioEntry, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './cpio.js';
import { ImageError, MissingFileError } from './errors.js';

export interface FileSpec {
  /** Path on the host: a file, a directory (packed recursively) or a symlink. */
  host: string;
  /** Path inside the image; a leading slash is optional. */
  guest: string;
}

/** One packed regular file or symlink, as the manifest lists it. */
export interface PackedFile {
  guest: string;
  host: string;
  size: number;
  sha256: string;
  mode: string;
}

/** "/etc//motd" -> "etc/motd"; refuses "..", "." and the root itself. */
export function normalizeGuestPath(guest: string): string {
  const parts = guest.split('/').filter((p) => p !== '');
  if (parts.length === 0 || parts.some((p) => p === '.' || p === '..')) {
    throw new ImageError('IMAGE_BAD_GUEST_PATH', `bad path inside the image: ${JSON.stringify(guest)} (use an absolute path without "." or "..", e.g. /etc/motd)`);
  }
  return parts.join('/');
}

export class RootFs {
  private readonly entries = new Map<string, CpioEntry>();
  private readonly sources = new Map<string, string>();
  readonly packed: PackedFile[] = [];

  /** Adds a host file, directory tree or symlink at `guest`, with its mode bits and mtime. */
  async add(spec: FileSpec): Promise<void> {
    const guest = normalizeGuestPath(spec.guest);
    let st;
    try {
      st = await lstat(spec.host);
    } catch {
      throw new MissingFileError('file', spec.host);
    }
    if (st.isSymbolicLink()) {
      // A symlink given by name is followed, like cp: the user means the file it points to.
      st = await stat(spec.host).catch(() => {
        throw new ImageError('IMAGE_BAD_FILE', `${spec.host} is a dangling symlink`);
      });
    }
    await this.addTree(spec.host, guest, st.isDirectory());
  }

  private async addTree(host: string, guest: string, followed: boolean): Promise<void> {
    const st = followed ? await stat(host) : await lstat(host);
    const perm = st.mode & 0o7777;
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) {
      this.put(guest, host, { name: guest, mode: S_IFDIR | perm, data: Buffer.alloc(0), mtime });
      for (const child of (await readdir(host)).sort()) await this.addTree(join(host, child), `${guest}/${child}`, false);
    } else if (st.isSymbolicLink()) {
      const target = Buffer.from(await readlink(host), 'utf8');
      this.put(guest, host, { name: guest, mode: S_IFLNK | 0o777, data: target, mtime });
      this.packed.push({ guest: '/' + guest, host: resolve(host), size: target.length, sha256: sha256(target), mode: '120777' });
    } else if (st.isFile()) {
      const data = await readFile(host);
      this.put(guest, host, { name: guest, mode: S_IFREG | perm, data, mtime });
      this.packed.push({ guest: '/' + guest, host: resolve(host), size: data.length, sha256: sha256(data), mode: (S_IFREG | perm).toString(8) });
    } else {
      throw new ImageError('IMAGE_BAD_FILE', `${host} is neither a regular file, a directory nor a symlink: it cannot be packed`);
    }
  }

  /** Adds bytes that are already in memory (the program) as a regular file. */
  addBuffer(guestPath: string, host: string, data: Buffer, perm: number, mtime: number): void {
    const guest = normalizeGuestPath(guestPath);
    this.put(guest, host, { name: guest, mode: S_IFREG | (perm & 0o7777), data, mtime });
  }

  private put(guest: string, host: string, entry: CpioEntry): void {
    const prior = this.sources.get(guest);
    if (prior !== undefined) {
      throw new ImageError('IMAGE_DUPLICATE_PATH', `/${guest} is packed twice: from ${prior} and from ${host}`);
    }
    const parts = guest.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = this.entries.get(dir);
      if (existing && (existing.mode & S_IFMT) !== S_IFDIR) {
        throw new ImageError('IMAGE_DUPLICATE_PATH', `/${dir} is a file (from ${this.sources.get(dir) ?? '?'}), so ${host} cannot go under it`);
      }
      if (!existing) this.entries.set(dir, { name: dir, mode: S_IFDIR | 0o755, data: Buffer.alloc(0), mtime: entry.mtime });
    }
    const implicit = this.entries.get(guest);
    if (implicit && ((implicit.mode & S_IFMT) !== S_IFDIR || (entry.mode & S_IFMT) !== S_IFDIR)) {
      throw new ImageError('IMAGE_DUPLICATE_PATH', `/${guest} is both a directory and a file in the image (from ${host})`);
    }
    this.entries.set(guest, entry);
    this.sources.set(guest, host);
  }

  /** Entries sorted so that each directory precedes what it holds (a prefix sorts first). */
  toEntries(): CpioEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
