/**
 * Debian's busybox-static, unmodified (glibc, static): the same output and status in the
 * unikernel as on Linux for a handful of applets.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Outcome, type Packed, kernelBuilt, mirrorRoot, runCli, runNative } from '../support/run.js';

const BUSYBOX = '/bin/busybox';
const dir = mkdtempSync(join(tmpdir(), 'unikit-bb-'));
const names = join(dir, 'names.txt');
writeFileSync(names, ['pear', 'apple', 'fig', 'banana', 'Cherry', 'apple', '10', '9'].join('\n') + '\n');
const text = join(dir, 'text.txt');
writeFileSync(text, 'the quick brown fox\njumps over\n\nthe lazy dog\n'.repeat(50));
const FILES: Packed[] = [
  { host: names, guest: '/data/names.txt' },
  { host: text, guest: '/data/text.txt' },
];

function programStderr(o: Outcome): string {
  return o.stderr.split('\n').filter((l) => !l.startsWith('unikit: ')).join('\n');
}

async function both(args: string[], modeOptions: readonly string[]): Promise<{ native: Outcome; vm: Outcome }> {
  const root = mirrorRoot(BUSYBOX, FILES);
  const native = await runNative(BUSYBOX, args, { argv0: '/busybox', cwd: root });
  const vm = await runCli(['run', BUSYBOX, ...modeOptions, ...FILES.flatMap((f) => ['--file', `${f.host}:${f.guest}`]), '--', ...args]);
  return { native, vm };
}

async function expectSameIn(modeOptions: readonly string[], args: string[]): Promise<Outcome> {
  const { native, vm } = await both(args, modeOptions);
  expect(vm.stdout.toString('utf8')).toBe(native.stdout.toString('utf8'));
  expect({ status: vm.status, stderr: programStderr(vm) }).toEqual({ status: native.status, stderr: native.stderr });
  return native;
}

/** Every applet runs in both modes: trapping `syscall`s (ring 3), and fast mode (`run --fast`:
 * busybox's syscall sites rewritten into direct calls, ring 0). Busybox must not notice. */
const MODES = [['trapping', []], ['fast', ['--fast']]] as const;

describe.skipIf(!kernelBuilt() || !existsSync(BUSYBOX)).each(MODES)('busybox-static in the unikernel (%s)', (_mode, modeOptions) => {
  const expectSame = (args: string[]): Promise<Outcome> => expectSameIn(modeOptions, args);
  it('echo', async () => {
    expect((await expectSame(['echo', 'hello', 'from', 'busybox'])).stdout.toString()).toBe('hello from busybox\n');
  });
  it('cat of a packed file', async () => {
    await expectSame(['cat', 'data/names.txt']);
  });
  it('sha256sum', async () => {
    await expectSame(['sha256sum', 'data/text.txt', 'data/names.txt']);
  });
  it('wc', async () => {
    await expectSame(['wc', 'data/text.txt']);
  });
  it('seq', async () => {
    await expectSame(['seq', '1', '3', '100']);
  });
  it('sort of a packed file', async () => {
    await expectSame(['sort', 'data/names.txt']);
    await expectSame(['sort', '-n', '-r', 'data/names.txt']);
  });
  it('ls of the image root, as ls of an equal directory on the host', async () => {
    const native = await expectSame(['ls']);
    expect(native.stdout.toString().split('\n')).toEqual(expect.arrayContaining(['busybox', 'data', 'tmp']));
    await expectSame(['ls', '-a', 'data']);
  });
  it('sh -c with builtins, and its exit status', async () => {
    const native = await expectSame(['sh', '-c', 'x=3; echo $((x*7)); exit 5']);
    expect(native.status).toBe(5);
    await expectSame(['sh', '-c', 'for i in 1 2 3; do echo "line $i"; done; test -f data/names.txt && echo present; [ -d /nope ] || echo absent']);
  });

  it('keeps the host\'s wall clock (realtime_ns) and its TSC rate (tsc_khz)', async () => {
    const before = Math.floor(Date.now() / 1000);
    const date = await runCli(['run', BUSYBOX, ...modeOptions, '--', 'date', '+%s']);
    const after = Math.ceil(Date.now() / 1000);
    const guest = Number(date.stdout.toString().trim());
    expect(guest).toBeGreaterThanOrEqual(before - 1);
    expect(guest).toBeLessThanOrEqual(after + 1);

    // A 300 ms sleep lasts about 300 ms: the guest turns TSC ticks into time at the host's rate.
    const t0 = performance.now();
    const sleep = await runCli(['run', BUSYBOX, ...modeOptions, '--', 'sleep', '0.3']);
    const ms = performance.now() - t0;
    expect(sleep.status).toBe(0);
    expect(ms).toBeGreaterThan(300);
    expect(ms).toBeLessThan(3000);
  });
});
