/**
 * `unikit inspect` of a `--kernel linux` image: what linux.json records, readable and as JSON.
 * No boot: the image is only built (the first build in the test home fetches Debian's cloud
 * kernel with apt-get download, as in linux-run.test.ts, and later builds reuse it).
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/run.js';

const haveTools = ['/bin/busybox', '/usr/bin/apt-get'].every((p) => existsSync(p));
// /bin/true on Debian is dynamically linked: its interpreter and libc get packed.
const PROGRAM = '/bin/true';

describe.skipIf(!haveTools || !existsSync(PROGRAM))('unikit inspect of a --kernel linux image', () => {
  it('shows the kernel package, program, argv, env, packed libraries and sizes; --json gives linux.json and the sizes', { timeout: 300_000 }, async () => {
    const image = join(mkdtempSync(join(tmpdir(), 'unikit-linux-inspect-')), 'true.linux');
    const b = await runCli(['build', '--kernel', 'linux', PROGRAM, '-o', image, '--env', 'GREETING=hi there', '--', 'a', 'b c'], { timeoutMs: 300_000 });
    expect(b.stderr).toBe('');

    const json = await runCli(['inspect', image, '--json']);
    expect(json.status, json.stderr).toBe(0);
    const record = JSON.parse(json.stdout.toString()) as { kernelPackage: string; libraries: string[]; sizes: { vmlinuz: number; initramfs: number } };
    const written = JSON.parse(readFileSync(join(image, 'linux.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toEqual({
      ...written,
      sizes: { vmlinuz: statSync(join(image, 'vmlinuz')).size, initramfs: statSync(join(image, 'initramfs.cpio')).size },
    });
    expect(record).toMatchObject({ format: 'unikit-linux/1', argv: ['/true', 'a', 'b c'], env: ['GREETING=hi there'] });
    expect(record.kernelPackage).toMatch(/^linux-image-.*-cloud-amd64$/);
    expect(record.libraries).toEqual(expect.arrayContaining([expect.stringMatching(/\/libc\.so\.6$/)]));

    const text = await runCli(['inspect', image]);
    expect(text.status, text.stderr).toBe(0);
    const out = text.stdout.toString();
    expect(out).toMatch(/^linux {5}a Linux microVM image/m);
    expect(out).toMatch(/^program {3}\/true \(PID 1\)$/m);
    expect(out).toMatch(/^argv {6}\/true a "b c"$/m);
    expect(out).toMatch(/^env {7}"GREETING=hi there"$/m);
    expect(out).toContain(`kernel    ${record.kernelPackage}, vmlinuz `);
    expect(out).toMatch(new RegExp(`^libraries ${record.libraries.length} packed from the host$`, 'm'));
    expect(out).toMatch(/^ {10}\/.*\/libc\.so\.6$/m);
    expect(out).toMatch(/^initramfs \d/m);
    expect(out).toMatch(/^total {5}\d/m);
  });
});
