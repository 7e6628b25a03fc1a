/**
 * The apps/ test programs, each run on Linux first and then as a unikernel through the real CLI,
 * real QEMU and the real kernel: the same stdout and exit status.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Outcome, type Packed, appPath, kernelBuilt, mirrorRoot, runCli, runNative } from '../support/run.js';

/** The program's own stderr: without unikit's "unikit: " lines (accelerator notice and such). */
export function programStderr(o: Outcome): string {
  return o.stderr.split('\n').filter((l) => !l.startsWith('unikit: ')).join('\n');
}

interface Case {
  args?: string[];
  env?: Record<string, string>;
  files?: Packed[];
  cliOptions?: string[];
}

async function onLinuxThen(name: string, c: Case = {}): Promise<{ native: Outcome; vm: Outcome }> {
  const prog = appPath(name);
  const root = mirrorRoot(prog, c.files);
  const native = await runNative(prog, c.args ?? [], { env: c.env, argv0: `/${name}`, cwd: root });
  const vm = await runCli([
    'run', prog,
    ...(c.files ?? []).flatMap((f) => ['--file', `${f.host}:${f.guest}`]),
    ...Object.entries(c.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...(c.cliOptions ?? []),
    '--', ...(c.args ?? []),
  ]);
  return { native, vm };
}

function expectSame(r: { native: Outcome; vm: Outcome }): void {
  expect(r.vm.stdout.toString('utf8')).toBe(r.native.stdout.toString('utf8'));
  expect(r.vm.stdout).toEqual(r.native.stdout);
  expect({ status: r.vm.status, stderr: programStderr(r.vm) }).toEqual({ status: r.native.status, stderr: r.native.stderr });
}

/** Every test runs in both modes: trapping `syscall`s (ring 3), and fast mode (`run --fast`: the
 * program's syscall sites rewritten into direct calls, ring 0). The programs must not notice. */
const MODES = [['trapping', []], ['fast', ['--fast']]] as const;

describe.skipIf(!kernelBuilt()).each(MODES)('apps/ programs: Linux first, then the unikernel (%s)', (_mode, modeOptions) => {
  const onLinuxThenUnikernel = (name: string, c: Case = {}): Promise<{ native: Outcome; vm: Outcome }> =>
    onLinuxThen(name, { ...c, cliOptions: [...(c.cliOptions ?? []), ...modeOptions] });

  it('hello', async () => {
    const r = await onLinuxThenUnikernel('hello');
    expect(r.native.stdout.toString()).toContain('Hello from unikit!');
    expectSame(r);
  });

  it('hello-pie (static-PIE)', async () => {
    const r = await onLinuxThenUnikernel('hello-pie');
    expect(r.native.stdout.toString()).toContain('Hello from unikit!');
    expectSame(r);
  });

  it('echo-args with arguments, environment and an exit status', async () => {
    const r = await onLinuxThenUnikernel('echo-args', {
      args: ['one', 'two words', '', 'sym;bols $x "q" 100%', 'é'],
      env: { GREETING: 'hello world', EMPTY: '', EXIT_STATUS: '42' },
    });
    expect(r.native.status).toBe(42);
    expect(r.native.stdout.toString()).toContain('argv[2]=two words');
    expectSame(r);
  });

  it('sha256file of a file packed into the image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unikit-e2e-'));
    const data = join(dir, 'data.bin');
    writeFileSync(data, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff)));
    const r = await onLinuxThenUnikernel('sha256file', { args: ['data/blob.bin'], files: [{ host: data, guest: '/data/blob.bin' }] });
    expect(r.native.stdout.toString()).toMatch(/^[0-9a-f]{64} {2}data\/blob\.bin\n$/);
    expectSame(r);
  });

  it('sha256file of a missing file fails like on Linux', async () => {
    const r = await onLinuxThenUnikernel('sha256file', { args: ['no-such-file'] });
    expect(r.native.status).toBe(1);
    expectSame(r);
  });

  it('compute', async () => {
    const r = await onLinuxThenUnikernel('compute');
    expectSame(r);
  }, 120_000);

  it('syscalls prints SUCCESS', async () => {
    const { native, vm } = await onLinuxThenUnikernel('syscalls');
    expect(native.stdout.toString()).toMatch(/^SUCCESS$/m);
    expect(vm.stdout.toString()).toMatch(/^SUCCESS$/m);
    expect(vm.status).toBe(0);
  });

  it('a segfault ends with status 139 and a report line', async () => {
    const r = await onLinuxThenUnikernel('segfault');
    expect(r.native.signal).toBe('SIGSEGV');
    expect(r.vm.status).toBe(139);
    expect(r.vm.stdout).toEqual(r.native.stdout);
    expect(r.vm.stderr).toMatch(/^unikit: .*(SIGSEGV|segmentation|page fault|fault)/im);
  });

  it('an unimplemented syscall returns -ENOSYS and is named once', async () => {
    const { vm } = await onLinuxThenUnikernel('nosys');
    expect(vm.stdout.toString()).toBe('fork returned -1 errno=38\n');
    expect(vm.stderr.split('\n')).toContain('unikit: syscall 57 (fork) is not implemented');
    expect(vm.status).toBe(0);
  });

  it('too little --mem names a value with which the program does run', async () => {
    const refused = await runCli(['run', appPath('hello'), ...modeOptions, '--mem', '512K']);
    expect(refused.status).toBe(125);
    const m = /use --mem (\d+K) or more$/m.exec(refused.stderr);
    expect(m).not.toBeNull();
    const ran = await runCli(['run', appPath('hello'), ...modeOptions, '--mem', m?.[1] ?? '']);
    expect({ status: ran.status, stdout: ran.stdout.toString() }).toEqual({ status: 0, stdout: 'Hello from unikit!\n' });
  });

  it('boots on -M q35 too, and keeps running past the firmware\'s timer tick', async () => {
    expectSame(await onLinuxThenUnikernel('hello', { cliOptions: ['--machine', 'q35'] }));
    // SeaBIOS leaves the 8259 PIC and the PIT running on q35; a program that runs longer than
    // one PIT period (55 ms) meets that interrupt, which the kernel must have masked.
    expectSame(await onLinuxThenUnikernel('compute', { cliOptions: ['--machine', 'q35'] }));
  }, 120_000);
});
