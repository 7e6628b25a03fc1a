/** The VMM against real QEMU, with stand-in guests (bench/guests/standin.S). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { buildGuest } from '../../test/support/pvh-guest.js';
import { VmmError, runVm } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'unikit-vmtest-'));
const initrd = join(dir, 'initrd.cpio');
writeFileSync(initrd, Buffer.alloc(512));

const base = { initrd, prog: '/x', argv: ['/x'], memory: 16 << 20, accel: 'tcg' as const, tscKhz: 1000000, timeoutMs: 30_000 };

async function vmError(p: Promise<unknown>): Promise<VmmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VmmError) return e;
    throw e;
  }
  throw new Error('the VM did not fail');
}

describe('runVm with stand-in guests', () => {
  it('routes stdout, stderr and user messages byte for byte, and takes the status from @exit', async () => {
    const binary = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0xff, 0x41]);
    const kernel = buildGuest({
      stdout: Buffer.concat([Buffer.from('hello\r\n'), binary]),
      stderr: 'oops\n',
      klog: 'booting\nunikit: a note for the user\n@entering-program\n@exit 3 exit\n',
      exitValue: 3,
    }, dir);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const messages: string[] = [];
    const r = await runVm({
      ...base, kernel,
      onStdout: (b) => out.push(b), onStderr: (b) => err.push(b), onMessage: (m) => messages.push(m),
    });
    expect(Buffer.concat(out)).toEqual(Buffer.concat([Buffer.from('hello\r\n'), binary]));
    expect(Buffer.concat(err).toString()).toBe('oops\n');
    expect(messages).toEqual(['unikit: a note for the user']);
    expect(r.status).toBe(3);
    expect(r.reason).toBe('exit');
    expect(r.accel).toBe('tcg');
    expect(r.timings.bootMs).toBeGreaterThan(0);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.bootMs ?? 0);
    expect(r.qemuArgs).toContain('microvm,x-option-roms=off,rtc=off,isa-serial=off,pit=off,pic=off');
  });

  it('believes @exit over QEMU\'s own exit code', async () => {
    const kernel = buildGuest({ klog: '@exit 139 signal\n', exitValue: 7 }, dir);
    const r = await runVm({ ...base, kernel });
    expect(r).toMatchObject({ status: 139, reason: 'signal' });
  });

  it('reports a VM that ends without @exit as crashed (125) with the last kernel log lines', async () => {
    const kernel = buildGuest({ klog: 'step one\nstep two\n', exitValue: 0 }, dir);
    const e = await vmError(runVm({ ...base, kernel }));
    expect(e.code).toBe('VMM_CRASHED');
    expect(e.status).toBe(125);
    expect(e.message).toMatch(/the VM crashed: QEMU exited with code 1 without an @exit line; last kernel log: step one \| step two/);
  });

  it('takes the status from QEMU when the guest does not speak the log protocol and that is allowed', async () => {
    const kernel = buildGuest({ exitValue: 0 }, dir);
    const r = await runVm({ ...base, kernel, exitMarker: 'optional' });
    expect(r).toMatchObject({ status: 0, reason: 'qemu-exit' });
  });

  it('stops a VM that runs past its timeout', async () => {
    const kernel = buildGuest({ klog: '@entering-program\n', hang: true }, dir);
    const t0 = Date.now();
    const e = await vmError(runVm({ ...base, kernel, timeoutMs: 1500 }));
    expect(e.code).toBe('VMM_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('explains a QEMU that cannot start, with QEMU\'s own words', async () => {
    const e = await vmError(runVm({ ...base, kernel: join(dir, 'no-such-kernel.elf') }));
    expect(e.code).toBe('VMM_QEMU_FAILED');
    expect(e.message).toMatch(/^QEMU failed to start \(exited with code 1\): .*no-such-kernel\.elf/);
  });

  it('says so when QEMU is not installed', async () => {
    const kernel = buildGuest({}, dir);
    const e = await vmError(runVm({ ...base, kernel, qemuBinary: '/nonexistent/qemu-system-x86_64' }));
    expect(e.code).toBe('VMM_QEMU_MISSING');
  });
});
