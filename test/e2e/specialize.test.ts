/**
 * Per-program kernels, syscall tracing and fast mode through the real CLI, kernel build and
 * QEMU: `unikit analyze`, `unikit trace`, `unikit build` (per-program kernel, --strict, --force,
 * --profile, --fast), and the bad input of the issue (stripped, no syscall at all, 100 MB).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'unikit-spec-'));
const BUSYBOX = '/bin/busybox';

interface Manifest {
  kernel: { kind: string; textSize: number };
  flags?: string[];
  syscalls?: { set: string[]; lacking: string[]; traced: string[]; configHash: string };
  fast?: { sites: number; rewritten: number; kept: { address: string; reason: string }[] };
}
const manifest = (image: string): Manifest => JSON.parse(readFileSync(join(image, 'manifest.json'), 'utf8')) as Manifest;
const messages = (o: Outcome): string[] => o.stderr.split('\n').filter((l) => l.startsWith('unikit: ') && !l.includes('KVM'));

/** A static program of one R+X load: `code` at 0x401000, the entry. */
function tinyElf(code: Buffer): Buffer {
  const buf = Buffer.alloc(0x1000 + code.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; buf[5] = 1; buf[6] = 1;
  buf.writeUInt16LE(2, 16); buf.writeUInt16LE(62, 18); buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(0x401000n, 24); buf.writeBigUInt64LE(64n, 32);
  buf.writeUInt16LE(64, 52); buf.writeUInt16LE(56, 54); buf.writeUInt16LE(1, 56);
  buf.writeUInt32LE(1, 64); buf.writeUInt32LE(5, 68);
  buf.writeBigUInt64LE(0n, 72); buf.writeBigUInt64LE(0x400000n, 80); buf.writeBigUInt64LE(0x400000n, 88);
  buf.writeBigUInt64LE(BigInt(buf.length), 96); buf.writeBigUInt64LE(BigInt(buf.length), 104); buf.writeBigUInt64LE(0x1000n, 112);
  code.copy(buf, 0x1000);
  return buf;
}

function file(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data, { mode: 0o755 });
  return p;
}

describe('unikit analyze', () => {
  it('prints the set and the JSON form', async () => {
    const text = await runCli(['analyze', appPath('hello')]);
    expect(text.status).toBe(0);
    expect(text.stdout.toString()).toMatch(/^syscalls: \d+ \(\d+ implemented/m);
    expect(text.stdout.toString()).toMatch(/^\s+231\s+exit_group\s+implemented/m);
    const json = await runCli(['analyze', appPath('hello'), '--json']);
    expect(JSON.parse(json.stdout.toString())).toMatchObject({ format: 1, kind: 'exec', stripped: false, unresolvedSites: 0 });
  });

  it.skipIf(!existsSync(BUSYBOX))('a stripped binary: functions from call targets, and what it lacks', async () => {
    const o = await runCli(['analyze', BUSYBOX]);
    expect(o.status).toBe(0);
    expect(o.stdout.toString()).toMatch(/^\/bin\/busybox: static executable, stripped$/m);
    expect(o.stdout.toString()).toMatch(/^lacking in unikit/m);
  });

  it('a binary with no syscall instruction at all', async () => {
    const o = await runCli(['analyze', file('nosyscall', tinyElf(Buffer.from('0f0b', 'hex')))]); // ud2
    expect(o.status).toBe(0);
    expect(o.stdout.toString()).toMatch(/sites: {5}0 syscall instructions/);
    expect(o.stdout.toString()).toMatch(/^syscalls: 0 /m);
  });

  it('a 100 MB binary finishes and names what it could not resolve', async () => {
    // 100 MB of random bytes as code: a worst case for decoding, full of accidental 0f 05 pairs.
    const o = await runCli(['analyze', file('big', tinyElf(randomBytes(100 << 20))), '--json'], { timeoutMs: 120_000 });
    expect(o.status).toBe(0);
    const a = JSON.parse(o.stdout.toString()) as { unresolvedSites: number; sites: { resolved: boolean; unknown: unknown[] }[]; code: { invalid: number } };
    expect(a.unresolvedSites).toBeGreaterThan(0);
    expect(a.sites.filter((s) => !s.resolved).every((s) => s.unknown.length > 0)).toBe(true);
    expect(a.code.invalid).toBeGreaterThan(0);
  }, 120_000);

  it('bad input is one line', async () => {
    const o = await runCli(['analyze', join(dir, 'missing')]);
    expect({ status: o.status, stderr: o.stderr }).toEqual({ status: 1, stderr: `unikit: program ${join(dir, 'missing')} does not exist\n` });
  });
});

describe.skipIf(!kernelBuilt())('per-program kernels, trace, fast mode (real VMs)', () => {
  it('build makes a kernel for the program\'s set: smaller, cached by its config hash, and it runs', async () => {
    const img = join(dir, 'hello.unikit');
    const b = await runCli(['build', appPath('hello'), '-o', img]);
    expect(b.status).toBe(0);
    expect(b.stdout.toString()).toMatch(/kernel [\d.]+ KiB \(built for its \d+ syscalls\)/);
    const m = manifest(img);
    expect(m.kernel.kind).toBe('program');
    expect(m.syscalls?.set).toEqual(expect.arrayContaining(['writev', 'exit_group']));
    expect(m.syscalls?.set).not.toContain('openat');
    const general = await runCli(['build', appPath('hello'), '--general', '-o', join(dir, 'hello-general.unikit')]);
    expect(general.status).toBe(0);
    expect(manifest(join(dir, 'hello-general.unikit')).kernel).toMatchObject({ kind: 'general' });
    expect(m.kernel.textSize).toBeLessThan(manifest(join(dir, 'hello-general.unikit')).kernel.textSize);
    const again = await runCli(['build', appPath('hello'), '-o', join(dir, 'hello2.unikit')]);
    expect(manifest(join(dir, 'hello2.unikit')).syscalls?.configHash).toBe(m.syscalls?.configHash);
    expect(again.status).toBe(0);
    const r = await runCli(['run', img]);
    expect({ status: r.status, stdout: r.stdout.toString() }).toEqual({ status: 0, stdout: 'Hello from unikit!\n' });
  });

  it('refuses, before any VM, a program that may make a syscall unikit lacks, naming it', async () => {
    const o = await runCli(['build', appPath('nosys'), '-o', join(dir, 'nosys.unikit')]);
    expect(o.status).toBe(1);
    expect(messages(o)).toEqual([expect.stringMatching(/^unikit: nosys may make 1 syscall unikit lacks, which will fail if reached: fork \(build with --force/)]);
    expect(existsSync(join(dir, 'nosys.unikit'))).toBe(false);
  });

  it('--strict stops the VM at a syscall outside the set, naming it (--force packs it)', async () => {
    const img = join(dir, 'nosys-strict.unikit');
    const b = await runCli(['build', appPath('nosys'), '--force', '--strict', '-o', img]);
    expect(b.status).toBe(0);
    expect(manifest(img).flags).toEqual(['strict']);
    const r = await runCli(['run', img]);
    expect(r.status).toBe(159);
    expect(r.stderr).toMatch(/^unikit: syscall 57 \(fork\) is outside this image's syscall set: stopping \(strict\)$/m);
    // Without --strict the same kernel answers ENOSYS and the program goes on.
    const lax = join(dir, 'nosys-lax.unikit');
    expect((await runCli(['build', appPath('nosys'), '--force', '-o', lax])).status).toBe(0);
    const l = await runCli(['run', lax]);
    expect({ status: l.status, stdout: l.stdout.toString() }).toEqual({ status: 0, stdout: 'fork returned -1 errno=38\n' });
  });

  it('trace prints the calls a run made; build --profile adds them to the set', async () => {
    const t = await runCli(['trace', appPath('hello')]);
    expect(t.status).toBe(0);
    expect(t.stdout.toString()).toMatch(/^hello: \d+ syscalls made \(status 0\)\n/);
    expect(t.stdout.toString()).toMatch(/^ +231 {2}exit_group$/m);
    expect(t.stderr).toContain('Hello from unikit!'); // the program's output, out of the way
    // A profile of another program's run brings calls hello's analysis does not have.
    const profile = join(dir, 'echo-args.profile.json');
    const p = await runCli(['trace', appPath('echo-args'), '--json', '--', 'x']);
    writeFileSync(profile, p.stdout);
    const prof = JSON.parse(p.stdout.toString()) as { syscalls: { name: string }[]; missedByAnalysis: unknown[] };
    expect(prof.missedByAnalysis).toEqual([]);
    const img = join(dir, 'hello-profiled.unikit');
    expect((await runCli(['build', appPath('hello'), '--profile', profile, '-o', img])).status).toBe(0);
    const m = manifest(img);
    expect(m.syscalls?.set).toEqual(expect.arrayContaining(prof.syscalls.map((s) => s.name)));
    const bad = await runCli(['build', appPath('hello'), '--profile', appPath('hello'), '-o', join(dir, 'x.unikit')]);
    expect(bad.status).toBe(1);
    expect(messages(bad)[0]).toMatch(/is not a syscall profile/);
  });

  it('--fast rewrites the sites and runs in ring 0; the count is in the manifest', async () => {
    const img = join(dir, 'hello-fast.unikit');
    const b = await runCli(['build', appPath('hello'), '--fast', '-o', img]);
    expect(b.stdout.toString()).toMatch(/fast mode: 20 of 20 syscall sites rewritten/);
    expect(manifest(img)).toMatchObject({ flags: ['fast'], fast: { sites: 20, rewritten: 20, kept: [] } });
    const r = await runCli(['run', img]);
    expect({ status: r.status, stdout: r.stdout.toString() }).toEqual({ status: 0, stdout: 'Hello from unikit!\n' });
  });

  it('a program with no syscall: an empty set, nothing to rewrite, and it runs', async () => {
    const prog = file('ud2', tinyElf(Buffer.from('0f0b', 'hex')));
    const img = join(dir, 'ud2.unikit');
    const b = await runCli(['build', prog, '--fast', '--strict', '-o', img]);
    expect(b.status).toBe(0);
    expect(manifest(img)).toMatchObject({ syscalls: { set: [] }, fast: { sites: 0, rewritten: 0 } });
    expect((await runCli(['run', img])).status).toBe(132); // SIGILL, as on Linux
  });

  it.skipIf(!existsSync(BUSYBOX))('busybox --fast: its two unresolved sites keep trapping and are reported', async () => {
    const img = join(dir, 'busybox-fast.unikit');
    const b = await runCli(['build', BUSYBOX, '--force', '--fast', '-o', img]);
    expect(b.status).toBe(0);
    const m = manifest(img);
    expect(m.fast?.rewritten).toBeGreaterThan(250);
    expect(m.fast?.kept.map((k) => k.reason)).toEqual(m.fast?.kept.map(() => 'its number is not resolved statically'));
    expect(messages(b)).toEqual(expect.arrayContaining([expect.stringMatching(/^unikit: warning: fast mode: \d+ syscall sites? keep trapping/)]));
    const r = await runCli(['run', img, '--', 'sh', '-c', 'echo $((6*7))']);
    expect({ status: r.status, stdout: r.stdout.toString() }).toEqual({ status: 0, stdout: '42\n' });
  });
});
