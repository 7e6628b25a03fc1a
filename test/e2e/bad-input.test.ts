/**
 * Bad input through the real CLI: each problem gets one line naming it and a non-zero status,
 * before any VM starts, and never a hang. With the real kernel when it is built, else with a
 * stand-in guest (the checks here do not boot it).
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { craftElf, staticExec } from '../support/craft-elf.js';
import { buildGuest } from '../support/pvh-guest.js';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';
import { artifacts } from '../../src/project/index.js';
import { existsSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'unikit-bad-'));
let env: NodeJS.ProcessEnv = {};
/** A real static program to pair with bad options: apps' hello, else busybox. */
const goodProgram = existsSync(appPath('hello')) ? appPath('hello') : '/bin/busybox';

beforeAll(() => {
  if (!kernelBuilt()) env = { UNIKIT_KERNEL: buildGuest({ klog: '@exit 0 exit\n' }, dir) };
});

function file(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  chmodSync(p, 0o755);
  return p;
}

/** Exactly one stderr line, matching `pattern`, and the expected status; nothing on stdout. */
function expectOneLine(o: Outcome, pattern: RegExp, status: number): void {
  const lines = o.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^unikit: /);
  expect(lines[0]).toMatch(pattern);
  expect(o.status).toBe(status);
  expect(o.stdout.length).toBe(0);
}

async function buildAndRun(program: string, pattern: RegExp, runStatus = 126, extra: string[] = []): Promise<void> {
  expectOneLine(await runCli(['build', program, '-o', join(dir, 'out.unikit'), ...extra], { env, timeoutMs: 20_000 }), pattern, 1);
  expectOneLine(await runCli(['run', program, ...extra], { env, timeoutMs: 20_000 }), pattern, runStatus);
}

describe('bad input is refused with one line and a non-zero status', () => {
  it('a file that is not an ELF', async () => {
    await buildAndRun(file('script.sh', '#!/bin/sh\necho hi\n'), /not an ELF file: .*script\.sh \(it starts with 23 21 2f 62/);
  });

  it('a 32-bit ELF', async () => {
    await buildAndRun(file('elf32', staticExec({ elfClass: 1 })), /elf32 is a 32-bit ELF/);
    const floor = artifacts.floor();
    if (existsSync(floor)) await buildAndRun(floor, /floor\.elf is a 32-bit ELF/);
  });

  it('a dynamically linked ELF (/bin/true)', async () => {
    await buildAndRun('/bin/true', /^unikit: \/bin\/true is dynamically linked: not supported yet; link it statically/);
  });

  it('a truncated ELF', async () => {
    await buildAndRun(file('truncated', readFileSync(goodProgram).subarray(0, 2000)), /truncated ELF: .*truncated: segment \d+ .* beyond the file's 2000 bytes/);
    await buildAndRun(file('tiny', readFileSync(goodProgram).subarray(0, 30)), /truncated ELF: .*the ELF header ends at byte 64, beyond the file's 30 bytes/);
  });

  it('overlapping segments', async () => {
    const overlap = craftElf({
      segments: [
        { offset: 0, vaddr: 0x400000, filesz: 0x2000, memsz: 0x2000 },
        { offset: 0x1000, vaddr: 0x401000, filesz: 0x100, memsz: 0x100 },
      ],
    });
    await buildAndRun(file('overlap', overlap), /PT_LOAD segments overlap: segment 0 \[0x400000, 0x402000\) and segment 1 \[0x401000, 0x401100\)/);
  });

  it('segments that do not fit the memory', async () => {
    const huge = craftElf({ segments: [{ offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 256 << 20 }] });
    await buildAndRun(file('huge', huge), /the segments of huge need 256 MiB of memory, more than --mem 16M/, 125, ['--mem', '16M']);
  });

  it('a missing program or packed file', async () => {
    await buildAndRun(join(dir, 'nonexistent'), /nonexistent does not exist/, 125);
    expectOneLine(await runCli(['run', goodProgram, '--file', join(dir, 'nope.txt') + ':/x'], { env }), /file .*nope\.txt does not exist/, 125);
  });

  it('too little --mem, naming the smallest workable value', async () => {
    await buildAndRun(goodProgram, /--mem 512K is too small for kernel .* use --mem \d+K or more$/, 125, ['--mem', '512K']);
  });

  it('bad options', async () => {
    expectOneLine(await runCli(['run', goodProgram, '--mem', 'lots'], { env }), /bad size for --mem: "lots"/, 2);
    expectOneLine(await runCli(['run', goodProgram, '--accel', 'fast'], { env }), /bad --accel "fast": use one of auto, kvm, tcg/, 2);
    expectOneLine(await runCli(['run', goodProgram, '--bogus'], { env }), /unknown option --bogus/, 2);
    expectOneLine(await runCli(['frobnicate'], { env }), /unknown command "frobnicate"/, 2);
    expectOneLine(await runCli(['run', goodProgram, 'stray'], { env }), /put the program's own arguments after --/, 2);
    expectOneLine(await runCli(['run', goodProgram, '--env', 'NOVALUE'], { env }), /bad environment entry "NOVALUE"/, 2);
  });
});
