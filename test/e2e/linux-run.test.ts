/**
 * `unikit build --kernel linux` + `unikit run` of the image: dynamically linked programs (gcc,
 * glibc) with their libraries packed from the host, in Debian's cloud kernel under QEMU, against
 * the same programs run natively. The program is PID 1; its end is the kernel's panic. Each Linux
 * boot takes seconds under TCG: three boots here.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, httpGet, makeDocroot, startGuest } from '../support/net.js';
import { runCli, runNative } from '../support/run.js';
import { projectRoot } from '../../src/project/index.js';

const haveTools = ['/usr/bin/gcc', '/bin/busybox', '/usr/bin/apt-get'].every((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'unikit-linux-run-'));

/**
 * Writes its arguments, one variable and raw bytes (no newline at the end), then BIG bytes of
 * pseudo-random data when that is set (1 MiB: the output must reach the host whole before the
 * kernel's panic ends the VM); stderr; exit 3. With "segv" first: its pid, then a real fault.
 */
const PROBE_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "segv") == 0) {
    printf("pid=%d\\n", (int)getpid());
    fflush(stdout);
    volatile int *p = (int *)strtoul(argv[2], 0, 0);
    return *p;
  }
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\\n", i, argv[i]);
  const char *g = getenv("GREETING");
  printf("GREETING=%s PATH=%s\\n", g ? g : "(unset)", getenv("PATH") ? "set" : "unset");
  fwrite("raw\\r\\n\\x00\\xff\\tend", 1, 13, stdout);
  unsigned long big = getenv("BIG") ? strtoul(getenv("BIG"), 0, 0) : 0, x = 1;
  for (unsigned long i = 0; i < big; i++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    putchar((int)(x >> 56));
  }
  fprintf(stderr, "to stderr\\n");
  return 3;
}
`;

function gcc(name: string, source: string): string {
  const out = join(dir, name);
  execFileSync('gcc', ['-O2', '-o', out, source]);
  return out;
}

describe.skipIf(!haveTools)('unikit run of a --kernel linux image', () => {
  let probe: string;
  let probeImage: string;
  beforeAll(async () => {
    writeFileSync(join(dir, 'probe.c'), PROBE_C);
    probe = gcc('probe', join(dir, 'probe.c'));
    probeImage = join(dir, 'probe.linux');
    // The first build fetches Debian's cloud kernel into the test home (apt-get download).
    const b = await runCli(['build', '--kernel', 'linux', probe, '-o', probeImage], { timeoutMs: 300_000 });
    expect(b.stderr).toBe('');
    expect(b.stdout.toString()).toMatch(/with \d+ libraries from the host/);
  }, 300_000);

  it('runs a dynamically linked program as PID 1: same stdout bytes (1 MiB of them), stderr and exit status as natively', { timeout: 120_000 }, async () => {
    const env = { GREETING: 'hi there', BIG: String(1 << 20) };
    const vm = await runCli(['run', '--env', `GREETING=${env.GREETING}`, '--env', `BIG=${env.BIG}`, probeImage, '--', 'a b', "c'd"], { timeoutMs: 120_000 });
    const native = await runNative(probe, ['a b', "c'd"], { env, argv0: '/probe' });
    expect(native.status).toBe(3);
    expect(native.stdout.length).toBeGreaterThan(1 << 20);
    expect(vm.stdout.length).toBe(native.stdout.length);
    expect(vm.stdout.equals(native.stdout)).toBe(true);
    expect(vm.stderr.split('\n').filter((l) => !l.startsWith('unikit: ')).join('\n')).toBe(native.stderr);
    expect(vm.status).toBe(3);
  });

  it('reports a death by signal as 128+N, as natively, from the kernel\'s panic when PID 1 dies', { timeout: 120_000 }, async () => {
    const vm = await runCli(['run', probeImage, '--', 'segv', '0'], { timeoutMs: 120_000 });
    const native = await runNative(probe, ['segv', '0']);
    expect(native.signal).toBe('SIGSEGV');
    expect(vm.stdout.toString()).toBe('pid=1\n');
    expect(vm.status, vm.stderr).toBe(128 + 11);
  });

  it('serves files with a dynamically linked apps/httpd as natively, and stops on SIGTERM', { timeout: 120_000 }, async () => {
    const httpd = gcc('httpd', join(projectRoot(), 'apps', 'httpd.c'));
    const www = makeDocroot();
    const image = join(dir, 'httpd.linux');
    const b = await runCli(['build', '--kernel', 'linux', httpd, '--file', `${www.dir}:/www`, '-o', image, '--', '80', '/www']);
    expect(b.status, b.stderr).toBe(0);
    const nativePort = await freePort();
    const native = spawn(httpd, [String(nativePort), www.dir], { stdio: 'ignore' });
    const port = await freePort();
    const guest = await startGuest(['-p', `${port}:80`, image], { ready: /listening on port 80/, timeoutMs: 90_000 });
    try {
      await new Promise((r) => setTimeout(r, 200)); // the native server's listen
      for (const path of Object.keys(www.files).concat(['/missing'])) {
        const [inVm, onHost] = await Promise.all([httpGet('127.0.0.1', port, path), httpGet('127.0.0.1', nativePort, path)]);
        expect(inVm.status, path).toBe(onHost.status);
        expect(inVm.body.equals(onHost.body), path).toBe(true);
        if (www.files[path]) expect(inVm.body.equals(www.files[path] as Buffer), path).toBe(true);
      }
    } finally {
      native.kill('SIGKILL');
    }
    expect(await guest.stop()).toBe(128 + 15);
  });

  it('refuses what a Linux image cannot do, before booting', async () => {
    for (const [args, pattern] of [
      [['--machine', 'microvm'], /a Linux image boots on q35/],
      [['--mem', '32M'], /--mem 32M is too small for a Linux image: give at least 64M/],
      [['--net', 'tap'], /--net tap is not supported for Linux images yet/],
      [['--fast'], /--fast is a unikernel mode/],
    ] as const) {
      const o = await runCli(['run', ...args, probeImage]);
      expect(o.status, args.join(' ')).toBe(2);
      expect(o.stderr).toMatch(pattern);
    }
    const b = await runCli(['build', '--kernel', 'linux', '--level', 'strict', probe, '-o', join(dir, 'x')]);
    expect(b.stderr).toMatch(/--kernel linux does not take --level/);
    const u = await runCli(['build', probe, '-o', join(dir, 'y')]);
    expect(u.stderr).toMatch(/dynamically linked: .*`unikit build --kernel linux`/);
  });
});
