/**
 * One bridge per tenant in tap mode (root): two tenants' apps/echo instances sit on their own
 * bridges (uk-<tenant>) in their own subnets; a host-side network namespace plugged into A's
 * bridge reaches A's echo but not B's, neither at layer 2 (B's subnet declared on-link: nobody
 * answers ARP) nor through the host (routing via A's gateway), with ip_forward 0 and, where the
 * host fence can be made (nftables), with ip_forward 1 too (restored after). The echo image
 * declares its port, so each instance's tap is fenced by the host while it runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetClient, type InstanceView, type TenantView } from '../../src/fleet/index.js';
import { buildImage } from '../../src/image/index.js';
import { fenceUnavailable, fencedTaps } from '../../src/vmm/index.js';
import { appPath, kernelBuilt } from '../support/run.js';
import { type TestDaemon, startTestDaemon, until } from './support.js';

const root = process.getuid?.() === 0 && existsSync('/dev/net/tun');
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const forwards = (): boolean => readFileSync(IP_FORWARD, 'utf8').trim() === '1';
const fence = root && fenceUnavailable() === undefined;
const skip = !root || !kernelBuilt() || !existsSync(appPath('echo')) || (forwards() && !fence);
if (skip) process.stderr.write('tenant bridge tests skipped: they need root, /dev/net/tun, the built kernel and apps/echo, and ip_forward 0 or nftables (the host fence)\n');
else if (!fence) process.stderr.write('tenant bridge tests: no host fence (nftables missing): isolation with ip_forward 1 not tested\n');

const ns = `ukt${process.pid}`;
const veth = `ukv${process.pid % 100000}`;
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Sends "hi" to IP:7 from inside the namespace; the echo it got back, or undefined when it failed. */
function echoFromNamespace(ip: string): string | undefined {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'timeout', '6', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/7 && echo hi >&3 && head -c 3 <&3`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}

describe.skipIf(skip)('tap networks per tenant', () => {
  let d: TestDaemon;
  const work = mkdtempSync(join(tmpdir(), 'ukf-net-'));
  beforeAll(async () => {
    d = await startTestDaemon();
  });
  afterAll(async () => {
    spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', veth]);
    await d?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it("puts each tenant's instances on its own bridge and subnet; A's side cannot reach B's instance", async () => {
    const echo = (await buildImage({ elf: appPath('echo'), outDir: join(work, 'echo'), network: { mode: 'tap', ports: [], policy: { listen: [7], egress: [] } } })).dir;
    const nets: Record<string, TenantView['network']> = {};
    const vms: Record<string, InstanceView> = {};
    for (const t of ['net-a', 'net-b']) {
      const out = await d.cli(['tenant', 'add', t, '--json']);
      nets[t] = (JSON.parse(out.stdout.toString()) as TenantView).network;
      const c = new FleetClient({ home: d.home, autoStart: false, tenant: t });
      await c.json('POST', '/v1/images', { path: echo, name: 'echo' });
      const v = await c.json<InstanceView>('POST', '/v1/instances', { image: 'echo', name: 'echo', network: 'tap', start: true });
      vms[t] = await until(`${t}'s echo to listen`, async () => {
        const x = await c.json<InstanceView>('GET', `/v1/instances/${v.id}`);
        const log = (await d.cli(['--tenant', t, 'logs', 'echo'])).stdout.toString();
        return x.state === 'running' && log.includes('listening on port') ? x : undefined;
      }, 30_000);
    }
    const [a, b] = [vms['net-a'] as InstanceView, vms['net-b'] as InstanceView];
    const [na, nb] = [nets['net-a'] as TenantView['network'], nets['net-b'] as TenantView['network']];
    expect([na.bridge, nb.bridge]).toEqual(['uk-net-a', 'uk-net-b']);
    expect(na.subnet).not.toBe(nb.subnet);
    const prefix = (subnet: string): string => subnet.replace(/\.0\/24$/, '.');
    expect(a.ip?.startsWith(prefix(na.subnet))).toBe(true);
    expect(b.ip?.startsWith(prefix(nb.subnet))).toBe(true);
    // Each bridge holds its tenant's tap and nothing of the other's.
    const tapsOf = (bridge: string): string[] => readdirSync(`/sys/class/net/${bridge}/brif`);
    expect(tapsOf(na.bridge)).toHaveLength(1);
    expect(tapsOf(nb.bridge)).toHaveLength(1);
    expect(tapsOf(na.bridge)[0]).not.toBe(tapsOf(nb.bridge)[0]);
    const taps = [...tapsOf(na.bridge), ...tapsOf(nb.bridge)];
    if (fence) for (const tap of taps) expect(fencedTaps().has(tap)).toBe(true);

    // A host-side namespace on A's bridge, as a machine of tenant A's would be.
    const gwA = na.subnet.replace(/\.0\/24$/, '.1');
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]);
    sh('ip', ['link', 'set', veth, 'master', na.bridge, 'up']);
    sh('ip', ['link', 'set', `${veth}p`, 'netns', ns]);
    sh('ip', ['-n', ns, 'addr', 'add', `${prefix(na.subnet)}250/24`, 'dev', `${veth}p`]);
    sh('ip', ['-n', ns, 'link', 'set', `${veth}p`, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gwA]);

    expect(echoFromNamespace(a.ip as string)).toBe('hi\n');
    // Through the host: routed to A's gateway, which does not forward to B's bridge.
    expect(echoFromNamespace(b.ip as string)).toBeUndefined();
    if (fence) {
      // Even when the host routes: the fence drops what it would forward between the bridges.
      const before = readFileSync(IP_FORWARD, 'utf8');
      try {
        writeFileSync(IP_FORWARD, '1\n');
        expect(echoFromNamespace(b.ip as string)).toBeUndefined();
        expect(echoFromNamespace(a.ip as string)).toBe('hi\n');
      } finally {
        writeFileSync(IP_FORWARD, before);
      }
    }
    // At layer 2: B's subnet declared on A's link; nobody there answers for B's address.
    sh('ip', ['-n', ns, 'route', 'add', nb.subnet, 'dev', `${veth}p`]);
    expect(echoFromNamespace(b.ip as string)).toBeUndefined();
    // B's instance did serve meanwhile (its own tenant reaches it from the host).
    expect(spawnSync('timeout', ['6', 'bash', '-c', `exec 3<>/dev/tcp/${b.ip}/7 && echo hi >&3 && head -c 3 <&3`], { encoding: 'utf8' }).stdout).toBe('hi\n');

    // The address goes with the instance; the bridge with its tenant.
    for (const t of ['net-a', 'net-b']) {
      const c = new FleetClient({ home: d.home, autoStart: false, tenant: t });
      expect((await c.json<InstanceView>('POST', '/v1/instances/echo/stop?timeout=0')).ip).toBeNull();
      await c.json('DELETE', '/v1/instances/echo');
      await c.json('DELETE', '/v1/images/echo');
    }
    spawnSync('ip', ['link', 'del', veth]);
    for (const tap of taps) expect(fencedTaps().has(tap)).toBe(false);
    for (const t of ['net-a', 'net-b']) expect((await d.cli(['tenant', 'rm', t])).status).toBe(0);
    expect(existsSync(`/sys/class/net/${na.bridge}`)).toBe(false);
    if (fence) expect(spawnSync('nft', ['list', 'chain', 'inet', 'unikit', `leave_${na.bridge}`]).status).not.toBe(0);
  }, 120_000);
});
