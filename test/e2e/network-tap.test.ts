/**
 * `--net tap` (root): each instance gets its own address on the bridge unikit0 and a tap that
 * goes when the instance ends, however it ends. Hostile traffic sent into the tap with a raw
 * socket (test/fixtures/rawnet.py): garbage frames, bad checksums, truncated and oversized
 * headers, and 5,000 SYNs never acknowledged; each test ends with the guest still serving.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/project/index.js';
import { type Guest, KeepAlive, guestStats, httpGet, makeDocroot, startGuest } from '../support/net.js';
import { appPath, kernelBuilt } from '../support/run.js';
import { TAP_STATE_DIR } from '../../src/vmm/index.js';

const RAWNET = join(projectRoot(), 'test', 'fixtures', 'rawnet.py');
const python = spawnSync('python3', ['--version']).status === 0;
const root = process.getuid?.() === 0 && existsSync('/dev/net/tun');
const skip = !kernelBuilt() || !existsSync(appPath('httpd')) || !root || !python;
if (!root) process.stderr.write('network-tap tests skipped: --net tap and raw sockets need root and /dev/net/tun\n');
else if (!python) process.stderr.write('network-tap tests skipped: the raw-frame sender needs python3\n');

interface TapGuest extends Guest {
  ip: string;
  tap: string;
  mac: string;
}

async function startTapGuest(args: string[]): Promise<TapGuest> {
  const g = await startGuest(['--net', 'tap', ...args], { ready: /listening on port 80/ });
  const m = /network: guest (10\.77\.(\d+)\.(\d+))\/16 on (unikit-\d+-\d+)/.exec(g.stderr());
  if (!m) throw new Error(`no tap address in ${JSON.stringify(g.stderr())}`);
  const hex = (s: string): string => Number(s).toString(16).padStart(2, '0');
  return Object.assign(g, { ip: m[1] as string, tap: m[4] as string, mac: `52:54:0a:4d:${hex(m[2] as string)}:${hex(m[3] as string)}` });
}

async function rawnet(...args: string[]): Promise<string> {
  return (await promisify(execFile)('python3', [RAWNET, ...args], { encoding: 'utf8', timeout: 60_000 })).stdout;
}

const tapExists = (tap: string): boolean => existsSync(`/sys/class/net/${tap}`);

describe.skipIf(skip)('--net tap', () => {
  const www = makeDocroot();
  let guest: TapGuest;

  beforeAll(async () => {
    guest = await startTapGuest([appPath('httpd'), '--file', `${www.dir}:/www`]);
  });
  afterAll(async () => {
    await guest?.stop();
  });

  async function stillServing(): Promise<void> {
    const r = await httpGet(guest.ip, 80, '/1k.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(www.files['/1k.bin'] as Buffer)).toBe(true);
  }

  it('gives concurrent instances their own addresses, and removes each tap when its instance ends', async () => {
    const other = await startTapGuest([appPath('httpd'), '--file', `${www.dir}:/www`]);
    try {
      expect(other.ip).not.toBe(guest.ip);
      expect(other.tap).not.toBe(guest.tap);
      const [a, b] = await Promise.all([httpGet(guest.ip, 80, '/300k.bin'), httpGet(other.ip, 80, '/300k.bin')]);
      expect(a.body.equals(www.files['/300k.bin'] as Buffer)).toBe(true);
      expect(b.body.equals(www.files['/300k.bin'] as Buffer)).toBe(true);
      expect(tapExists(other.tap)).toBe(true);
    } finally {
      expect(await other.stop()).toBe(143);
    }
    expect(tapExists(other.tap)).toBe(false);
    const leases = readdirSync(join(TAP_STATE_DIR, 'leases'));
    expect(leases).not.toContain(String(Number(other.ip.split('.')[2]) * 256 + Number(other.ip.split('.')[3])));
    await stillServing();
  });

  it('an instance whose unikit is SIGKILLed loses its QEMU and its tap; the lease is reaped', async () => {
    const doomed = await startTapGuest([appPath('httpd'), '--file', `${www.dir}:/www`]);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    for (let i = 0; i < 100 && tapExists(doomed.tap); i++) await new Promise((r) => setTimeout(r, 50));
    expect(tapExists(doomed.tap)).toBe(false);
    // The next instance reaps the dead lease (and may get the address back).
    const next = await startTapGuest([appPath('httpd'), '--file', `${www.dir}:/www`]);
    try {
      expect((await httpGet(next.ip, 80, '/1k.bin')).status).toBe(200);
    } finally {
      await next.stop();
    }
  });

  it('a burst of 200 simultaneous connections', async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => KeepAlive.open(guest.ip, 80)));
    try {
      const results = await Promise.all(sockets.map((s) => s.get('/1k.bin', 30_000)));
      for (const r of results) expect(r.body.equals(www.files['/1k.bin'] as Buffer)).toBe(true);
    } finally {
      for (const s of sockets) s.close();
    }
    await stillServing();
  });

  it('garbage frames, bad checksums, truncated and oversized headers', async () => {
    const before = await guestStats(guest.ip, 80);
    const kept = await KeepAlive.open(guest.ip, 80);
    try {
      expect(await rawnet('garbage', guest.tap, guest.mac, guest.ip, '80')).toMatch(/sent \d+ malformed frames/);
      expect((await kept.get('/1k.bin')).body.equals(www.files['/1k.bin'] as Buffer)).toBe(true);
    } finally {
      kept.close();
    }
    await stillServing();
    const after = await guestStats(guest.ip, 80);
    expect(before.freeram - after.freeram).toBeLessThan(256 * 1024);
  });

  it('5,000 SYNs never acknowledged: existing connections keep working, memory stays bounded', async () => {
    const kept = await KeepAlive.open(guest.ip, 80);
    try {
      const before = await guestStats(guest.ip, 80);
      // Requests on the kept connection while the SYNs arrive, and after.
      const flood = rawnet('synflood', guest.tap, guest.mac, guest.ip, '80', '5000');
      for (let i = 0; i < 20; i++) {
        expect((await kept.get(i % 2 ? '/1k.bin' : '/300k.bin')).status).toBe(200);
      }
      expect(await flood).toBe('sent 5000 SYNs\n');
      for (let i = 0; i < 5; i++) expect((await kept.get('/1k.bin')).status).toBe(200);
      await stillServing();
      const after = await guestStats(guest.ip, 80);
      // The SYN queue holds at most 256 half-open connections per listener (kernel/include/net.h).
      expect(before.freeram - after.freeram).toBeLessThan(1024 * 1024);
    } finally {
      kept.close();
    }
  });
});
