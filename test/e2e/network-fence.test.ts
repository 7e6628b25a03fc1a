/**
 * The host's fence on `--net tap` (src/vmm/fence.ts, nftables): the network attack built at level
 * low (ring 0, where the kernel's own check could be bypassed) on unikit0, against two host
 * listeners on the bridge address, one declared as egress and one not. The kernel's check is
 * turned off (a test-only option) to show the host fence holding on its own: the undeclared
 * connection is dropped on the tap, and without the fence the same connection succeeds. The
 * fence is gone when the VM ends. Ingress: with the kernel check off, apps/httpd's undeclared port
 * 80 is not reached, and with both fences a declared port serves; the fence of a
 * SIGKILLed `unikit run` is reaped as unikitd's start does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootFlags, loadVerifiedImage } from '../../src/image/index.js';
import { TAP_NET, VmInterruptedError, type VmOptions, fenceDrops, fencedTaps, reapStaleFences, runVm } from '../../src/vmm/index.js';
import { httpGet, makeDocroot, startGuest } from '../support/net.js';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';

const ATTACK = appPath('attack-netpolicy');
const root = process.getuid?.() === 0 && existsSync('/dev/net/tun');
const nft = spawnSync('nft', ['--version']).status === 0;
const skip = !root || !nft || !kernelBuilt() || !existsSync(ATTACK) || !existsSync(appPath('httpd'));
if (!root) process.stderr.write('network fence tests skipped: --net tap and nftables need root and /dev/net/tun\n');
else if (!nft) process.stderr.write('network fence tests skipped: nft is missing (apt-get install nftables)\n');
const out = (o: Outcome): string => o.stdout.toString('utf8');

/** A host TCP server on every address that records what it is sent and how many connected. */
async function recorder(): Promise<{ server: Server; port: number; received: () => string; connections: () => number; close: () => Promise<void> }> {
  let got = '';
  const sockets: Socket[] = [];
  const server = createServer((c) => {
    sockets.push(c);
    c.on('error', () => undefined);
    c.on('data', (b: Buffer) => (got += b.toString('utf8')));
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  return {
    server, port: (server.address() as { port: number }).port, received: () => got, connections: () => sockets.length,
    // A guest that ended before its FIN left a connection open: close() would wait for it.
    close: () => new Promise<void>((done) => {
      for (const c of sockets) c.destroy();
      server.close(() => done());
    }),
  };
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
    for (const r of [declared, undeclared]) await r?.close();
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
    await expect.poll(() => declared.connections(), { timeout: 20_000 }).toBe(1);
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
    await expect.poll(() => undeclared.connections(), { timeout: 20_000 }).toBe(1);
  }, 120_000);

  it('ingress: with the kernel check off, the host fence alone keeps the undeclared port 80 of httpd from being reached', async () => {
    const www = makeDocroot();
    const dir = join(mkdtempSync(join(tmpdir(), 'unikit-fence-')), 'httpd.unikit');
    expect((await runCli(['build', appPath('httpd'), '--level', 'low', '--file', `${www.dir}:/www`, '-o', dir])).status).toBe(0);
    const { image: img } = await loadVerifiedImage(dir);
    const m = img.manifest;
    const abort = new AbortController();
    let stdout = '';
    let guest: { ip: string; tap: string } | undefined;
    const run = runVm({
      kernel: img.kernelPath, initrd: img.initrdPath, prog: m.app.path, argv: m.argv, memory: m.memory, flags: bootFlags(m),
      accel: 'auto', network: { mode: 'tap' }, networkPolicy: { listen: [8080], egress: [] }, networkPolicyFences: { guest: false },
      signal: abort.signal, timeoutMs: 60_000,
      onStdout: (b) => (stdout += b.toString('utf8')),
      onMessage: (line) => {
        const g = /network: guest (\S+)\/\d+ on (\S+)/.exec(line);
        if (g) guest = { ip: g[1] as string, tap: g[2] as string };
      },
    }).catch((e: unknown) => e);
    try {
      await expect.poll(() => stdout, { timeout: 60_000 }).toContain('listening on port 80');
      const { ip, tap } = guest as { ip: string; tap: string };
      const before = fenceDrops(tap) ?? 0;
      let connected = false;
      const socket = connect({ host: ip, port: 80 }, () => (connected = true));
      socket.on('error', () => undefined);
      await expect.poll(() => fenceDrops(tap) ?? 0, { timeout: 30_000, interval: 200 }).toBeGreaterThan(before);
      socket.destroy();
      expect(connected).toBe(false);
    } finally {
      abort.abort();
      await run;
    }
  }, 120_000);

  it('answers on a declared port with both fences; the fence of a SIGKILLed unikit run is reaped', async () => {
    const www = makeDocroot();
    const g = await startGuest(['--net', 'tap', '--listen', '80', appPath('httpd'), '--file', `${www.dir}:/www`], { ready: /listening on port 80/ });
    const m = /network: guest (\S+)\/16 on (\S+) /.exec(g.stderr());
    const [ip, tap] = [m?.[1] as string, m?.[2] as string];
    try {
      const r = await httpGet(ip, 80, '/1k.bin');
      expect(r.body.equals(www.files['/1k.bin'] as Buffer)).toBe(true);
      expect(fencedTaps().has(tap)).toBe(true);
    } finally {
      g.child.kill('SIGKILL');
      await g.exited;
    }
    // No exit path ran: the rules outlive the VM until a lease is taken or unikitd starts.
    expect(fencedTaps().has(tap)).toBe(true);
    await expect.poll(async () => {
      await reapStaleFences();
      return fencedTaps().has(tap);
    }, { timeout: 20_000, interval: 200 }).toBe(false);
  }, 120_000);
});
