/**
 * The host's fence on `--net tap` (src/vmm/fence.ts, nftables): the network attack built at level
 * low (ring 0, where the kernel's own check could be bypassed) on unikit0, against two host
 * listeners on the bridge address, one declared as egress and one not. The kernel's check is
 * turned off (a test-only option) to show the host fence holding on its own: the undeclared
 * connection is dropped on the tap, and without the fence the same connection succeeds. The
 * fence is gone when the VM ends.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootFlags, loadVerifiedImage } from '../../src/image/index.js';
import { TAP_NET, VmInterruptedError, type VmOptions, fenceDrops, fencedTaps, runVm } from '../../src/vmm/index.js';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';

const ATTACK = appPath('attack-netpolicy');
const root = process.getuid?.() === 0 && existsSync('/dev/net/tun');
const nft = spawnSync('nft', ['--version']).status === 0;
const skip = !root || !nft || !kernelBuilt() || !existsSync(ATTACK);
if (!root) process.stderr.write('network fence tests skipped: --net tap and nftables need root and /dev/net/tun\n');
else if (!nft) process.stderr.write('network fence tests skipped: nft is missing (apt-get install nftables)\n');
const out = (o: Outcome): string => o.stdout.toString('utf8');

/** A host TCP server on every address that records what it is sent and how many connected. */
async function recorder(): Promise<{ server: Server; port: number; received: () => string; connections: () => number }> {
  let got = '';
  let connections = 0;
  const server = createServer((c) => {
    connections++;
    c.on('data', (b: Buffer) => (got += b.toString('utf8')));
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  return { server, port: (server.address() as { port: number }).port, received: () => got, connections: () => connections };
}

describe.skipIf(skip)('the host fence on --net tap (real VMs, nftables)', () => {
  let declared: Awaited<ReturnType<typeof recorder>>;
  let undeclared: Awaited<ReturnType<typeof recorder>>;
  let image: string;
  beforeAll(async () => {
    [declared, undeclared] = await Promise.all([recorder(), recorder()]);
    image = join(mkdtempSync(join(tmpdir(), 'unikit-fence-')), 'attack.unikit');
    const b = await runCli(['build', ATTACK, '--level', 'low', '--egress', `${TAP_NET.host}:${declared.port}`, '-o', image]);
    expect(b.status, b.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const r of [declared, undeclared]) await new Promise<void>((done) => r?.server.close(() => done()));
  });

  /** runVm options for the image with `connect HOST:PORT`, the policy it records, on a tap. */
  async function attack(port: number, more: Partial<VmOptions>): Promise<VmOptions> {
    const { image: img } = await loadVerifiedImage(image);
    const m = img.manifest;
    return {
      kernel: img.kernelPath, initrd: img.initrdPath, prog: m.app.path, argv: [m.app.path, 'connect', `${TAP_NET.host}:${port}`],
      memory: m.memory, flags: bootFlags(m), accel: 'auto', network: { mode: 'tap' }, networkPolicy: m.network?.policy, timeoutMs: 60_000, ...more,
    };
  }

  it('unikit run --net tap reaches the declared listener through the fence', async () => {
    const ok = await runCli(['run', image, '--net', 'tap', '--verbose', '--', 'connect', `${TAP_NET.host}:${declared.port}`]);
    expect({ status: ok.status, out: out(ok) }).toMatchObject({ status: 0, out: expect.stringContaining('ATTACK SUCCEEDED') });
    expect(ok.stderr).toMatch(/the host enforces it too, on unikit-\d+-\d+ \(nftables\)/);
    await expect.poll(() => declared.received()).toBe('exfiltrated\n');
  });

  it('with the kernel check off, the host fence alone drops a connection to an undeclared listener; its rules go with the VM', async () => {
    const abort = new AbortController();
    let tap: string | undefined;
    const run = runVm(await attack(undeclared.port, {
      signal: abort.signal,
      networkPolicyFences: { guest: false },
      onMessage: (line) => (tap ??= /network: guest \S+ on (\S+)/.exec(line)?.[1]),
    })).catch((e: unknown) => e);
    // The guest's SYNs meet the fence (it retries for minutes; counting drops is enough).
    await expect.poll(() => (tap === undefined ? 0 : fenceDrops(tap) ?? 0), { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
    expect(fencedTaps().has(tap as string)).toBe(true);
    abort.abort();
    expect(await run).toBeInstanceOf(VmInterruptedError);
    expect(undeclared.connections()).toBe(0);
    expect(fencedTaps().has(tap as string)).toBe(false);
  }, 120_000);

  it('without either fence the same connection gets through (what the fence stops)', async () => {
    const r = await runVm(await attack(undeclared.port, { networkPolicyFences: { guest: false, host: false } }));
    expect(r.status).toBe(0);
    await expect.poll(() => undeclared.received()).toBe('exfiltrated\n');
  }, 120_000);
});
