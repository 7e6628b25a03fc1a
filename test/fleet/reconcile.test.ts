/**
 * unikitd's own failures: SIGKILL of the daemon then a restart (adopt what runs, record what
 * ended, kill what nobody owns, restart by policy), two CLIs starting the daemon at once, and
 * refusal when memory would be exceeded.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetError, type ImageView, type InstanceView } from '../../src/fleet/index.js';
import { runCli } from '../support/run.js';
import { type TestDaemon, type TestImages, qemuPids, sleep, startTestDaemon, testImages, until } from './support.js';

let images: TestImages;
const imageDir = mkdtempSync(join(tmpdir(), 'ukf-img-'));
beforeAll(async () => {
  images = await testImages(imageDir);
});
afterAll(() => rmSync(imageDir, { recursive: true, force: true }));

describe('kill -9 of the daemon, then a restart', () => {
  let d: TestDaemon;
  afterAll(async () => {
    await d?.dispose();
  });

  it('adopts what still runs, records what ended meanwhile, kills orphans, restarts by policy', async () => {
    d = await startTestDaemon();
    const api = <T>(m: string, p: string, b?: unknown): Promise<T> => d.client.json<T>(m, p, b);
    await api('POST', '/v1/images', { path: images.idle, name: 'idle' });
    await api('POST', '/v1/images', { path: images.ticks, name: 'ticks' });
    const start = async (name: string, image: string, extra: Record<string, unknown> = {}): Promise<InstanceView> => {
      const v = await api<InstanceView>('POST', '/v1/instances', { image, name, ...extra });
      return api<InstanceView>('POST', `/v1/instances/${v.id}/start?wait=true`);
    };
    const keep = await start('keep', 'idle');
    const killed = await start('killed-away', 'idle');
    const revived = await start('revived', 'idle', { restart: 'always' });
    const orphan = await start('orphan', 'idle');
    const finisher = await start('finisher', 'ticks');
    for (const v of [keep, killed, revived, orphan]) expect(v.state).toBe('running');

    await d.kill9();
    // The VMs outlive the daemon.
    expect(qemuPids(d.home)).toEqual(expect.arrayContaining([keep.pid, killed.pid, revived.pid, orphan.pid]));
    process.kill(killed.pid as number, 'SIGKILL');
    process.kill(revived.pid as number, 'SIGKILL');
    await until('finisher to exit by itself', async () => (qemuPids(d.home).includes(finisher.pid as number) ? undefined : true), 10_000);
    // A record lost with the daemon (as if it died between spawn and write): its QEMU is an orphan.
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(join(d.home, 'fleet', 'state.db'));
    db.prepare('DELETE FROM instances WHERE id = ?').run(orphan.id);
    db.close();

    await d.restart();
    const info = await api<{ reconciled: Record<string, number> }>('GET', '/v1/info');
    expect(info.reconciled).toMatchObject({ adopted: 1, orphansKilled: 1 });
    const get = (ref: string): Promise<InstanceView> => api<InstanceView>('GET', `/v1/instances/${ref}`);

    const k = await get('keep');
    expect(k).toMatchObject({ state: 'running', pid: keep.pid, bootMs: keep.bootMs });
    expect(await get('killed-away')).toMatchObject({ state: 'lost', exit: { status: 125, reason: 'lost' } });
    expect(await get('finisher')).toMatchObject({ state: 'exited', exit: { status: 0, reason: 'exit' } });
    const r = await until('revived to run again', async () => {
      const v = await get('revived');
      return v.state === 'running' ? v : undefined;
    });
    expect(r.pid).not.toBe(revived.pid);
    expect(r.restartCount).toBe(1);

    // Nothing runs that no record accounts for.
    await until('the orphan to die', async () => (qemuPids(d.home).includes(orphan.pid as number) ? undefined : true), 5000);
    expect(qemuPids(d.home).sort()).toEqual([k.pid, r.pid].sort());

    // The adopted VM is still under control: QMP stops it, and a kill from outside is noticed.
    const logs = await d.cli(['logs', 'keep']);
    expect(logs.stdout.toString()).toContain('ready');
    const stopped = await api<InstanceView>('POST', '/v1/instances/keep/stop?timeout=0');
    expect(stopped).toMatchObject({ state: 'exited', exit: { reason: 'stopped' } });
    expect(qemuPids(d.home)).not.toContain(keep.pid);
    await api('POST', '/v1/instances/keep/start?wait=true');
    await d.kill9();
    await d.restart();
    const adopted = await get('keep');
    expect(adopted.state).toBe('running');
    const t0 = Date.now();
    process.kill(adopted.pid as number, 'SIGKILL');
    await until('the adopted VM\'s end', async () => ((await get('keep')).state === 'exited' ? true : undefined), 5000, 20);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('the daemon on demand', () => {
  it('two CLIs on a fresh home start exactly one daemon and both succeed; daemon stop ends it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ukf-'));
    try {
      const [a, b] = await Promise.all([runCli(['ps'], { env: { UNIKIT_HOME: home } }), runCli(['images'], { env: { UNIKIT_HOME: home } })]);
      expect([a.status, a.stderr, b.status, b.stderr]).toEqual([0, '', 0, '']);
      expect(daemonsOf(home)).toHaveLength(1);
      const stop = await runCli(['daemon', 'stop'], { env: { UNIKIT_HOME: home } });
      expect([stop.status, stop.stderr]).toEqual([0, 'unikitd stopped (instances keep running; the next unikitd adopts them)\n']);
      // It stopped answering; its process ends a moment later.
      await until('the daemon process to end', async () => (daemonsOf(home).length === 0 ? true : undefined));
      const again = await runCli(['daemon', 'stop'], { env: { UNIKIT_HOME: home } });
      expect([again.status, again.stderr]).toEqual([0, 'unikitd is not running\n']);
    } finally {
      for (const pid of daemonsOf(home)) process.kill(pid, 'SIGTERM');
      await sleep(300);
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('memory admission', () => {
  let d: TestDaemon;
  afterAll(async () => {
    await d?.dispose();
  });

  it('refuses a start that would pass the memory budget, with a clear error', async () => {
    d = await startTestDaemon(['--memory-budget', '70M', '--vm-overhead', '24M']);
    await d.client.json<ImageView>('POST', '/v1/images', { path: images.idle, name: 'idle' });
    const first = await d.cli(['create', '--start', '--mem', '16M', '--name', 'm1', 'idle']);
    expect(first.status).toBe(0);
    const second = await d.cli(['create', '--start', '--mem', '16M', '--name', 'm2', 'idle']);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain("cannot start m2: it needs 40 MiB (16 MiB guest RAM + 24 MiB for QEMU) but only 30 MiB of unikitd's 70 MiB memory budget is left (1 running instance holds 40 MiB)");
    const huge = await d.client.json('POST', '/v1/instances', { image: 'idle', name: 'huge', memory: 2 ** 40, start: true }).catch((e: unknown) => e);
    expect(huge).toBeInstanceOf(FleetError);
    expect((huge as FleetError).code).toBe('INSUFFICIENT_MEMORY');
    expect((huge as FleetError).message).toMatch(/^cannot start huge: it needs 1024\.02 GiB/);
    // Memory comes back when an instance ends.
    await d.client.json('POST', '/v1/instances/m1/stop?timeout=0');
    expect((await d.cli(['start', 'm2'])).status).toBe(0);
    const up = await d.cli(['up', '-n', '3', '--mem', '16M', 'idle']);
    expect(up.status).toBe(1);
    expect(up.stderr).toMatch(/memory budget/);
  });
});

function daemonsOf(home: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes('daemon') || !cmd.some((c) => c.endsWith('unikit.js'))) continue;
      if (readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`UNIKIT_HOME=${home}`)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
