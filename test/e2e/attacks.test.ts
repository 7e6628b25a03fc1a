/**
 * The security levels against real attacks: every program in apps/attacks is built with
 * `unikit build --level L` for each level and run with `unikit run` in a real VM. Whether an
 * attack must be stopped or allowed comes from the level table itself (src/security), so the
 * table cannot claim what the kernel does not do.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts } from '../../src/project/index.js';
import { LEVELS, type Level, type Mechanism, mechanismInfo } from '../../src/security/index.js';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';

const ATTACKS = ['kread', 'execdata', 'wx', 'aslr', 'rootwrite', 'hiddensys', 'netpolicy'] as const;
type Attack = (typeof ATTACKS)[number];
/** Build options beyond the level: the network attack is built with a policy that declares
 * other ports and targets than those it goes for. */
const BUILD_EXTRA: Partial<Record<Attack, string[]>> = { netpolicy: ['--listen', '8080', '--egress', '10.0.2.3:53'] };
const built = kernelBuilt() && ATTACKS.every((a) => existsSync(appPath(`attack-${a}`)));
const work = mkdtempSync(join(tmpdir(), 'unikit-attacks-'));
const imageDir = (a: Attack, l: Level): string => join(work, `${a}-${l}`);

const on = (m: Mechanism, l: Level): boolean => mechanismInfo(m).on[l];
const out = (o: Outcome): string => o.stdout.toString('utf8');
const run = (a: Attack, l: Level, args: string[] = []): Promise<Outcome> => runCli(['run', imageDir(a, l), '--', ...args]);

/** The attack ran to its end: it printed its success line and exited 0. */
function expectAllowed(o: Outcome): void {
  expect({ status: o.status, out: out(o) }).toMatchObject({ status: 0, out: expect.stringContaining('ATTACK SUCCEEDED') });
}

/** A fault ended the program: SIGSEGV (139) and the kernel's fault report, never its success line. */
function expectFault(o: Outcome): void {
  expect(out(o)).not.toContain('ATTACK SUCCEEDED');
  expect(o.status).toBe(139);
  expect(o.stderr).toMatch(/unikit: program fault: page fault/);
}

/** A system call refused the attack with `errno`. */
function expectRefused(o: Outcome, errno: number): void {
  expect(out(o)).not.toContain('ATTACK SUCCEEDED');
  expect({ status: o.status, out: out(o) }).toMatchObject({ status: 1, out: expect.stringContaining(`(errno ${errno})`) });
}

/** The image holds a kernel made for this program (not the general one). */
function perProgramKernel(l: Level): boolean {
  const m = JSON.parse(readFileSync(join(imageDir('hiddensys', l), 'manifest.json'), 'utf8')) as { kernel: { buildId: string } };
  return m.kernel.buildId !== createHash('sha256').update(readFileSync(artifacts.kernel())).digest('hex');
}

describe.skipIf(!built)('attack programs at each security level (real VMs)', () => {
  beforeAll(async () => {
    const jobs = ATTACKS.flatMap((a) => LEVELS.map((l) => [a, l] as const));
    // Two at a time: the builds are quick, and the tests share the machine.
    for (let i = 0; i < jobs.length; i += 2) {
      await Promise.all(jobs.slice(i, i + 2).map(async ([a, l]) => {
        const o = await runCli(['build', appPath(`attack-${a}`), '--level', l, ...(BUILD_EXTRA[a] ?? []), '-o', imageDir(a, l)]);
        if (o.status !== 0) throw new Error(`build of attack-${a} at ${l} failed: ${o.stderr}`);
      }));
    }
  }, 120_000);

  it.each(LEVELS)('reading a kernel address at %s: a fault report in ring 3, read in fast mode', async (l) => {
    const o = await run('kread', l);
    if (on('isolation', l)) expectFault(o);
    else {
      expectAllowed(o);
      expect(out(o)).toMatch(/read kernel memory at 0xffffffff80100000: 0x[0-9a-f]{16}/);
    }
  });

  it.each(LEVELS)('running code written to the stack and the heap at %s', async (l) => {
    for (const where of ['stack', 'heap']) {
      const o = await run('execdata', l, [where]);
      if (on('nx', l)) expectFault(o);
      else {
        expectAllowed(o);
        expect(out(o)).toContain(`ran code written to the ${where}: it returned 42`);
      }
    }
  });

  it.each(LEVELS)('asking for writable and executable memory at %s (mmap and mprotect)', async (l) => {
    for (const how of ['mmap', 'mprotect']) {
      const o = await run('wx', l, [how]);
      if (on('wx', l)) {
        expectRefused(o, 13);
        expect(o.stderr).toContain('both writable and executable: refused (W^X)');
      } else expectAllowed(o);
    }
  });

  it.each(LEVELS)('writing under / at %s (/tmp stays writable)', async (l) => {
    const o = await run('rootwrite', l);
    if (on('ro', l)) expectRefused(o, 30);
    else expectAllowed(o);
  });

  it.each(LEVELS)('20 boots of a static PIE at %s: addresses all different with ASLR, identical without', async (l) => {
    const lines: string[] = [];
    for (let i = 0; i < 20; i++) {
      const o = await run('aslr', l);
      expect(o.status).toBe(0);
      lines.push(out(o).trim());
    }
    const fields = lines.map((line) => Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string])));
    for (const k of ['base', 'stack', 'heap', 'mmap']) {
      const distinct = new Set(fields.map((f) => f[k])).size;
      expect({ k, distinct }).toEqual({ k, distinct: on('aslr', l) ? 20 : 1 });
    }
  }, 120_000);

  it.for(LEVELS)('a syscall the analysis cannot see (socket, number from the input) at %s', async (l) => {
    const o = await run('hiddensys', l, ['41']);
    expect(perProgramKernel(l)).toBe(true);
    if (!on('syscalls', l)) {
      // Below high the per-program kernel simply lacks socket: ENOSYS, and the program goes on.
      expectRefused(o, 38);
      return;
    }
    expect(out(o)).not.toContain('ATTACK SUCCEEDED');
    expect(o.status).toBe(159);
    expect(o.stderr).toContain('syscall 41 (socket) is outside this image\'s syscall set: stopping (strict)');
  });

  it('with the general kernel (--general, below high) the hidden socket call succeeds', async () => {
    const dir = join(work, 'hiddensys-general');
    const b = await runCli(['build', appPath('attack-hiddensys'), '--level', 'medium', '--general', '-o', dir]);
    expect(b.status).toBe(0);
    expectAllowed(await runCli(['run', dir, '--', '41']));
    const refused = await runCli(['build', appPath('attack-hiddensys'), '--level', 'high', '--general', '-o', dir]);
    expect(refused.status).toBe(2);
  });

  describe('the network policy', () => {
    // A real listener on the host, which the guest reaches as 10.0.2.2: undeclared in the image.
    let host: Server;
    let port = 0;
    let received = '';
    beforeAll(async () => {
      host = createServer((c) => c.on('data', (b: Buffer) => (received += b.toString('utf8'))));
      await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
      port = (host.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => host.close(() => r())));

    it.each(LEVELS)('listening on an undeclared port and connecting to an undeclared host listener at %s', async (l) => {
      for (const args of [['listen', '9000'], ['connect', `10.0.2.2:${port}`]]) {
        const o = await run('netpolicy', l, args);
        expect(on('network', l)).toBe(true);
        expectRefused(o, 13);
        expect(o.stderr).toMatch(/unikit: network policy: (listen on|bind to|connect to) \S+ refused/);
      }
      expect(received).toBe('');
    });

    it('without a policy the same program listens and connects (the listener is real)', async () => {
      expectAllowed(await runCli(['run', appPath('attack-netpolicy'), '--', 'listen', '9000']));
      expectAllowed(await runCli(['run', appPath('attack-netpolicy'), '--', 'connect', `10.0.2.2:${port}`]));
      await expect.poll(() => received).toBe('exfiltrated\n');
    });
  });

  it('the level table says which attack shows each mechanism', () => {
    for (const m of ['isolation', 'nx', 'wx', 'aslr', 'ro', 'syscalls', 'network'] as const) expect(ATTACKS).toContain(mechanismInfo(m).attack);
  });
});

