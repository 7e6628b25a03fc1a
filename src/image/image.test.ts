import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftElf, staticExec } from '../../test/support/craft-elf.js';
import { ElfError } from '../elf/index.js';
import {
  ImageError, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, buildImage, cachedImage, loadImage, readCpio, smallestMemory,
} from './index.js';

let dir: string;
let kernel: string;
let prog: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'unikit-image-'));
  kernel = join(dir, 'kernel.elf');
  // Any bytes serve as the kernel here: buildImage copies it and measures it, never runs it.
  writeFileSync(kernel, Buffer.alloc(100 * 1024, 1));
  prog = join(dir, 'prog');
  writeFileSync(prog, staticExec());
  chmodSync(prog, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ImageError || e instanceof ElfError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'built';
}

describe('buildImage', () => {
  it('writes kernel, initrd and manifest, with the program at /<basename>', async () => {
    const data = join(dir, 'data');
    mkdirSync(join(data, 'sub'), { recursive: true });
    writeFileSync(join(data, 'sub', 'x.txt'), 'x\n');
    writeFileSync(join(dir, 'motd'), 'hello\n');
    chmodSync(join(dir, 'motd'), 0o640);
    symlinkSync('sub/x.txt', join(data, 'link'));
    const out = join(dir, 'img1');
    const img = await buildImage({
      elf: prog, kernel, outDir: out, mem: 8 << 20,
      files: [{ host: join(dir, 'motd'), guest: '/etc/motd' }, { host: data, guest: 'srv/data' }],
      env: ['A=1', 'B=two words'], args: ['x', 'y'],
    });
    const m = img.manifest;
    expect(m.app).toMatchObject({ name: 'prog', path: '/prog', kind: 'exec', memorySpan: 0x6000 });
    expect(m.argv).toEqual(['/prog', 'x', 'y']);
    expect(m.env).toEqual(['A=1', 'B=two words']);
    expect(m.memory).toBe(8 << 20);
    expect(m.kernel.size).toBe(100 * 1024);
    expect(m.kernel.buildId).toMatch(/^[0-9a-f]{64}$/);
    expect(m.files.map((f) => f.guest)).toEqual(['/etc/motd', '/srv/data/link', '/srv/data/sub/x.txt']);
    expect(m.files[0]).toMatchObject({ size: 6, mode: '100640', sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' });

    const entries = readCpio(readFileSync(img.initrdPath));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(entries.map((e) => e.name)).toEqual(['etc', 'etc/motd', 'prog', 'srv', 'srv/data', 'srv/data/link', 'srv/data/sub', 'srv/data/sub/x.txt']);
    expect((byName.get('prog')?.mode ?? 0) & 0o7777).toBe(0o755);
    expect((byName.get('etc')?.mode ?? 0) & S_IFMT).toBe(S_IFDIR);
    expect(byName.get('etc/motd')?.mode).toBe(S_IFREG | 0o640);
    expect(byName.get('srv/data/link')?.mode).toBe(S_IFLNK | 0o777);
    expect(byName.get('srv/data/link')?.data.toString()).toBe('sub/x.txt');
    expect(readFileSync(img.kernelPath)).toEqual(readFileSync(kernel));

    const again = await loadImage(out);
    expect(again.manifest).toEqual(m);
  });

  it('refuses a missing program or file, naming it', async () => {
    expect(await failure(buildImage({ elf: join(dir, 'nope'), kernel, outDir: join(dir, 'x') }))).toBe(`IMAGE_MISSING_FILE: program ${join(dir, 'nope')} does not exist`);
    expect(await failure(buildImage({ elf: prog, kernel, outDir: join(dir, 'x'), files: [{ host: '/no/such', guest: '/a' }] }))).toBe('IMAGE_MISSING_FILE: file /no/such does not exist');
  });

  it('refuses a bad ELF with the ELF error', async () => {
    const notElf = join(dir, 'script.sh');
    writeFileSync(notElf, '#!/bin/sh\n');
    expect(await failure(buildImage({ elf: notElf, kernel, outDir: join(dir, 'x') }))).toMatch(/^ELF_NOT_ELF: not an ELF file/);
  });

  it('refuses segments that do not fit and too little memory, naming the smallest workable --mem', async () => {
    const huge = join(dir, 'huge');
    writeFileSync(huge, craftElf({ segments: [{ offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 512 << 20 }] }));
    expect(await failure(buildImage({ elf: huge, kernel, outDir: join(dir, 'x'), mem: 64 << 20 }))).toBe('IMAGE_SEGMENTS_DONT_FIT: the segments of huge need 512 MiB of memory, more than --mem 64M');
    const smallest = smallestMemory({ kernel: 100 * 1024, initrd: 0, program: 0x6000 });
    const msg = await failure(buildImage({ elf: prog, kernel, outDir: join(dir, 'x'), mem: 1 << 20 }));
    expect(msg).toMatch(/^IMAGE_MEM_TOO_SMALL: --mem 1M is too small for kernel 100 KiB \+ initrd [\d.]+ KiB \+ program 24 KiB \+ 1.25 MiB reserve: use --mem 1536K or more$/);
    expect(smallest).toBe(1536 * 1024);
  });

  it('refuses the same guest path twice and bad guest paths', async () => {
    expect(await failure(buildImage({ elf: prog, kernel, outDir: join(dir, 'x'), files: [{ host: prog, guest: '/prog' }] }))).toMatch(/^IMAGE_DUPLICATE_PATH: \/prog is packed twice/);
    expect(await failure(buildImage({ elf: prog, kernel, outDir: join(dir, 'x'), files: [{ host: prog, guest: '/../etc' }] }))).toMatch(/^IMAGE_BAD_GUEST_PATH/);
    expect(await failure(buildImage({ elf: prog, kernel, outDir: join(dir, 'x'), env: ['NOEQUALS'] }))).toMatch(/^IMAGE_BAD_ENV: bad environment entry "NOEQUALS"/);
  });

  it('says when a directory is not an image', async () => {
    expect(await failure(loadImage(dir))).toMatch(/^IMAGE_NOT_AN_IMAGE: .* has no manifest.json/);
  });

  it('caches on-the-fly images by content and options', async () => {
    const cacheRoot = join(dir, 'cache');
    const a = await cachedImage({ elf: prog, kernel, cacheRoot, args: ['1'] });
    const b = await cachedImage({ elf: prog, kernel, cacheRoot, args: ['1'] });
    const c = await cachedImage({ elf: prog, kernel, cacheRoot, args: ['2'] });
    expect(b.dir).toBe(a.dir);
    expect(b.manifest.created).toBe(a.manifest.created);
    expect(c.dir).not.toBe(a.dir);
  });

  it('keeps only the most recently used images', async () => {
    const cacheRoot = join(dir, 'cache-lru');
    const dirs = [];
    for (const arg of ['1', '2', '3']) dirs.push((await cachedImage({ elf: prog, kernel, cacheRoot, args: [arg], maxImages: 2 })).dir);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(cacheRoot).sort()).toEqual(dirs.slice(1).map((d) => d.split('/').pop()).sort());
  });
});
