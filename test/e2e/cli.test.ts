/**
 * The CLI's plumbing through real QEMU with a stand-in guest (bench/guests/standin.S) in
 * place of the kernel: streams byte for byte, statuses, messages, crashes, images, inspect.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGuest } from '../support/pvh-guest.js';
import { runCli } from '../support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'unikit-cli-'));
const program = '/bin/busybox'; // any static x86-64 program: the stand-in guest ignores it
const binary = Buffer.from([0x00, 0x0a, 0x0d, 0xff, 0xfe, 0x1b, 0x5b, 0x41]);
const talker = buildGuest({
  stdout: Buffer.concat([Buffer.from('out line\n'), binary]),
  stderr: 'err line\n',
  klog: 'kernel chatter\nunikit: a message for the user\n@entering-program\n@exit 42 exit\n',
  exitValue: 42,
}, dir);
const crasher = buildGuest({ stdout: 'partial', klog: 'loading\nabout to jump\n', exitValue: 0 }, dir);
const faulter = buildGuest({ klog: 'unikit: page fault at 0x0 (SIGSEGV)\n@exit 139 signal\n', exitValue: 139 }, dir);

describe('unikit run and inspect with a stand-in guest', () => {
  it('streams stdout byte for byte, forwards messages, exits with the status of @exit', async () => {
    const o = await runCli(['run', program, '--accel', 'tcg'], { env: { UNIKIT_KERNEL: talker } });
    expect(o.stdout).toEqual(Buffer.concat([Buffer.from('out line\n'), binary]));
    expect(o.stderr).toBe('err line\nunikit: a message for the user\n');
    expect(o.status).toBe(42);
  });

  it('says once that paravirtual KVM is not used, and labels timings with the accelerator', async () => {
    const o = await runCli(['run', program, '--time'], { env: { UNIKIT_KERNEL: talker } });
    const lines = o.stderr.split('\n');
    expect(lines.filter((l) => l.includes('KVM')).length).toBeLessThanOrEqual(1);
    expect(lines.some((l) => /^unikit: boot [\d.]+ ms, total [\d.]+ ms \(QEMU spawn to exit, (tcg|kvm), microvm\)$/.test(l))).toBe(true);
  });

  it('reports a VM that dies without @exit as a crash (125), with the last log lines', async () => {
    const o = await runCli(['run', program, '--accel', 'tcg'], { env: { UNIKIT_KERNEL: crasher } });
    expect(o.status).toBe(125);
    expect(o.stdout.toString()).toBe('partial');
    expect(o.stderr).toMatch(/^unikit: the VM crashed: QEMU exited with code 1 without an @exit line; last kernel log: loading \| about to jump\n$/);
  });

  it('passes a fault through as 128+N with the kernel\'s report line', async () => {
    const o = await runCli(['run', program, '--accel', 'tcg'], { env: { UNIKIT_KERNEL: faulter } });
    expect(o.status).toBe(139);
    expect(o.stderr).toBe('unikit: page fault at 0x0 (SIGSEGV)\n');
  });

  it('stops a VM at --timeout', async () => {
    const hang = buildGuest({ hang: true }, dir);
    const o = await runCli(['run', program, '--accel', 'tcg', '--timeout', '1'], { env: { UNIKIT_KERNEL: hang } });
    expect(o.status).toBe(125);
    expect(o.stderr).toMatch(/^unikit: the VM ran longer than 1000 ms and was stopped\n$/);
  });

  it('stops the VM on SIGTERM', async () => {
    const hang = buildGuest({ hang: true }, dir);
    const { spawn } = await import('node:child_process');
    const { artifacts } = await import('../../src/project/index.js');
    const child = spawn(process.execPath, [artifacts.cli(), 'run', program, '--accel', 'tcg'], {
      env: { ...process.env, UNIKIT_KERNEL: hang, UNIKIT_HOME: join(dir, 'home') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    expect(status).toBe(143);
    expect(stderr).toMatch(/unikit: the VM was stopped by SIGTERM\n$/);
    // No QEMU left behind with this kernel on its command line.
    const { execFileSync } = await import('node:child_process');
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps.includes(hang)).toBe(false);
  });

  it('builds an image, inspects it, and runs it with other arguments', async () => {
    const out = join(dir, 'img');
    const b = await runCli(['build', program, '-o', out, '--env', 'A=1', '--file', `${talker}:/boot/k.elf`, '--mem', '32M', '--', 'echo', 'hi'], { env: { UNIKIT_KERNEL: talker } });
    expect(b.status).toBe(0);
    expect(b.stdout.toString()).toMatch(/^built .*img: busybox \(exec\)/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { argv: string[]; env: string[]; memory: number; files: { guest: string }[] };
    expect(manifest).toMatchObject({ argv: ['/busybox', 'echo', 'hi'], env: ['A=1'], memory: 32 << 20, files: [{ guest: '/boot/k.elf' }] });

    const text = await runCli(['inspect', out]);
    expect(text.status).toBe(0);
    expect(text.stdout.toString()).toMatch(/^argv {6}\/busybox echo hi$/m);
    expect(text.stdout.toString()).toMatch(/^memory {4}32 MiB$/m);
    const json = await runCli(['inspect', out, '--json']);
    expect(JSON.parse(json.stdout.toString())).toEqual(manifest);

    const r = await runCli(['run', out, '--accel', 'tcg', '--', 'other']);
    expect(r.status).toBe(42);
    const tooSmall = await runCli(['run', out, '--mem', '2M']);
    expect(tooSmall.status).toBe(125);
    expect(tooSmall.stderr).toMatch(/^unikit: --mem 2M is too small/);
  });

  it('says when a directory is not an image', async () => {
    const o = await runCli(['run', dir]);
    expect(o.status).toBe(125);
    expect(o.stderr).toMatch(/is not an image directory \(it has no manifest\.json\)/);
  });
});
