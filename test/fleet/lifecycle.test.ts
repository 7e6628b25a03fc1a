/**
 * unikitd end to end, one real daemon and real VMs: images, the instance lifecycle, logs, stats,
 * crashes under each restart policy, a QEMU killed from outside, malformed requests, and two
 * CLIs at once.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetError, type ImageView, type InstanceView, type StatsView } from '../../src/fleet/index.js';
import { type TestDaemon, type TestImages, qemuPids, startTestDaemon, testImages, until } from './support.js';

let d: TestDaemon;
let images: TestImages;
let idle: ImageView;
const imageDir = mkdtempSync(join(tmpdir(), 'ukf-img-'));

beforeAll(async () => {
  images = await testImages(imageDir);
  d = await startTestDaemon(['--boot-concurrency', '2']);
  idle = await d.client.json<ImageView>('POST', '/v1/images', { path: images.idle, name: 'idle' });
});

afterAll(async () => {
  await d?.dispose();
  rmSync(imageDir, { recursive: true, force: true });
});

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => d.client.json<T>(method, path, body);
const get = (ref: string): Promise<InstanceView> => api<InstanceView>('GET', `/v1/instances/${ref}`);
const settled = async (ref: string, states: string[], timeoutMs = 15_000): Promise<InstanceView> =>
  until(`${ref} to be ${states.join(' or ')}`, async () => {
    const v = await get(ref);
    return states.includes(v.state) ? v : undefined;
  }, timeoutMs);

describe('images', () => {
  it('registers an image once, lists it, and refuses to remove it while an instance uses it', async () => {
    const again = await api<ImageView>('POST', '/v1/images', { path: images.idle, name: 'idle' });
    expect(again.id).toBe(idle.id);
    const list = await api<ImageView[]>('GET', '/v1/images');
    expect(list.map((i) => i.name)).toContain('idle');
    const tmp = await api<ImageView>('POST', '/v1/images', { path: images.ticks, name: 'ticks-img' });
    const inst = await api<InstanceView>('POST', '/v1/instances', { image: 'ticks-img', name: 'uses-ticks' });
    const refused = await api('DELETE', '/v1/images/ticks-img').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FleetError);
    expect((refused as FleetError).httpStatus).toBe(409);
    expect((refused as FleetError).message).toMatch(/used by uses-ticks/);
    await api('DELETE', `/v1/instances/${inst.id}`);
    await api('DELETE', `/v1/images/${tmp.id}`);
    expect((await api<ImageView[]>('GET', '/v1/images')).map((i) => i.name)).not.toContain('ticks-img');
  });
});

describe('instance lifecycle', () => {
  it('creates, starts, lists, logs, stats, stops and removes an instance', async () => {
    const created = await d.cli(['create', 'idle', '--name', 'web1', '--mem', '8M']);
    expect(created.stderr).toBe('');
    const id = created.stdout.toString().trim();
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect((await get('web1')).state).toBe('created');

    const started = await d.cli(['start', 'web1']);
    expect(started.status).toBe(0);
    const v = await get(id.slice(0, 6)); // an id prefix works as a reference
    expect(v.state).toBe('running');
    expect(v.pid).toBeGreaterThan(0);
    expect(v.accel).toMatch(/^(tcg|kvm)$/);
    expect(v.bootMs).toBeGreaterThan(0);
    expect(v.bootMs).toBeLessThan(10_000);

    const ps = await d.cli(['ps']);
    expect(ps.stdout.toString()).toMatch(/web1\s+idle\s+up/);
    expect((await d.cli(['ps', '-q'])).stdout.toString()).toContain(id);
    const json = JSON.parse((await d.cli(['ps', '--json'])).stdout.toString()) as InstanceView[];
    expect(json.find((x) => x.id === id)?.state).toBe('running');

    await until('the console output', async () => ((await d.cli(['logs', 'web1'])).stdout.toString().includes('ready') ? true : undefined));
    const klog = (await d.cli(['logs', '--klog', 'web1'])).stdout.toString();
    expect(klog).toContain('@entering-program');

    const stats = await api<StatsView>('GET', '/v1/instances/web1/stats');
    expect(stats.rssBytes).toBeGreaterThan(1 << 20);
    expect(stats.pssBytes).toBeGreaterThan(1 << 20);
    expect(stats.pssBytes).toBeLessThanOrEqual(stats.rssBytes ?? 0);
    expect(stats.cpuSeconds).toBeGreaterThanOrEqual(0);
    expect(stats.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(stats.bootMs).toBe(v.bootMs);
    const statsCli = (await d.cli(['stats'])).stdout.toString();
    expect(statsCli).toMatch(/web1\s+running\s+[\d.]+ MiB\s+[\d.]+ MiB/);

    const rmLive = await d.cli(['rm', 'web1']);
    expect(rmLive.status).toBe(1);
    expect(rmLive.stderr).toMatch(/web1 is running: stop it first, or use `unikit rm -f`/);

    const t0 = Date.now();
    expect((await d.cli(['stop', '-t', '1', 'web1'])).status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    const stopped = await get('web1');
    expect(stopped.state).toBe('exited');
    expect(stopped.exit?.reason).toBe('stopped');
    expect(qemuPids(d.home)).not.toContain(v.pid);

    // A second start of the same instance keeps the console of the first run, like docker.
    await d.cli(['start', 'web1']);
    expect((await get('web1')).state).toBe('running');
    expect((await d.cli(['rm', '-f', 'web1'])).status).toBe(0);
    await expect(get('web1')).rejects.toThrow(/no instance "web1"/);
  });

  it('follows the console with logs -f until the guest exits', async () => {
    const tick = await api<ImageView>('POST', '/v1/images', { path: images.ticks, name: 'ticks' });
    await api('POST', '/v1/instances', { image: tick.id, name: 'ticker' });
    const follow = d.cli(['logs', '-f', 'ticker']);
    await new Promise((r) => setTimeout(r, 300));
    await api('POST', '/v1/instances/ticker/start');
    const out = await follow;
    expect(out.status).toBe(0);
    expect(out.stdout.toString()).toContain('tick 1\n');
    expect(out.stdout.toString()).toContain('tick 8\n');
    const v = await settled('ticker', ['exited']);
    expect(v.exit).toMatchObject({ status: 0, reason: 'exit' });
    expect((await d.cli(['logs', '--tail', '2', 'ticker'])).stdout.toString()).toBe('tick 7\ntick 8\n');
  });
});

describe('faults', () => {
  it('records a crash with its status and reason, and does not restart it with policy no', async () => {
    await d.client.json('POST', '/v1/images', { path: images.segv, name: 'segv' });
    const v = await api<InstanceView>('POST', '/v1/instances', { image: 'segv', name: 'crash-no', start: true });
    const end = await settled(v.id, ['exited']);
    expect(end.exit).toMatchObject({ status: 139, reason: 'signal' });
    expect(end.restartCount).toBe(0);
  });

  it('restarts with on-failure, with growing back-off, up to its maximum', async () => {
    const v = await api<InstanceView>('POST', '/v1/instances', { image: 'segv', name: 'crash-onf', restart: 'on-failure', maxRetries: 3, start: true });
    const end = await until('three restarts', async () => {
      const x = await get(v.id);
      return x.restartCount === 3 && x.state === 'exited' ? x : undefined;
    }, 30_000);
    expect(end.exit).toMatchObject({ status: 139, reason: 'signal' });
    const ps = (await d.cli(['ps', '-a'])).stdout.toString();
    expect(ps).toMatch(/crash-onf\s+segv\s+exited \(139 signal\)/);
  });

  it('on-failure leaves a clean exit alone; always restarts it until stopped', async () => {
    const ok = await api<InstanceView>('POST', '/v1/instances', { image: 'ticks', name: 'clean-onf', restart: 'on-failure', start: true });
    const always = await api<InstanceView>('POST', '/v1/instances', { image: 'ticks', name: 'clean-always', restart: 'always', start: true });
    const a = await until('two restarts', async () => {
      const x = await get(always.id);
      return x.restartCount >= 2 && x.state === 'restarting' ? x : undefined;
    }, 30_000, 20);
    expect(a.exit).toMatchObject({ status: 0, reason: 'exit' });
    const o = await settled(ok.id, ['exited']);
    expect(o.restartCount).toBe(0);
    const stopped = await api<InstanceView>('POST', `/v1/instances/${always.id}/stop?timeout=0`);
    expect(stopped.state).toBe('exited');
    const count = stopped.restartCount;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await get(always.id)).restartCount).toBe(count);
    expect((await get(always.id)).state).toBe('exited');
  });

  it('notices a QEMU killed from outside within a second', async () => {
    const inst = await api<InstanceView>('POST', '/v1/instances', { image: 'idle', name: 'victim' });
    const running = await api<InstanceView>('POST', `/v1/instances/${inst.id}/start?wait=true`);
    expect(running.state).toBe('running');
    const t0 = Date.now();
    process.kill(running.pid as number, 'SIGKILL');
    const end = await settled(inst.id, ['exited'], 5000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(end.exit).toMatchObject({ status: 125, reason: 'killed' });
    expect(end.exit?.detail).toMatch(/SIGKILL/);
  });
});

describe('malformed requests', () => {
  const raw = (method: string, path: string, body?: string, type = 'application/json'): Promise<{ status: number; body: { error: { code: string; message: string; field?: string } } }> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: d.client.paths.socket, method, path, headers: body === undefined ? {} : { 'content-type': type } }, (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it.each([
    ['a wrong type', { image: 'idle', memory: 'lots' }, 'memory', /memory: must be integer/],
    ['a missing field', { name: 'x' }, 'image', /image: is required/],
    ['an unknown field', { image: 'idle', memroy: 1 }, 'memroy', /memroy: is not a known field/],
    ['a bad enum', { image: 'idle', restart: 'sometimes' }, 'restart', /restart: must be one of "no", "on-failure", "always"/],
    ['a bad name', { image: 'idle', name: 'no spaces' }, 'name', /name: must start with a letter or digit/],
    ['a nested field', { image: 'idle', ports: [{ hostPort: 70000, guestPort: 80 }] }, 'ports[0].hostPort', /ports\[0\]\.hostPort: must be <= 65535/],
    ['a bad env entry', { image: 'idle', env: ['NOEQUALS'] }, 'env[0]', /env\[0\]: must be KEY=VALUE/],
    ['too little memory', { image: 'idle', memory: 1000 }, 'memory', /memory: must be >= 1048576/],
  ])('refuses %s with 400 naming the field', async (_what, body, field, message) => {
    const r = await raw('POST', '/v1/instances', JSON.stringify(body));
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toMatch(message);
  });

  it('refuses broken JSON, bad query parameters and unknown images', async () => {
    const broken = await raw('POST', '/v1/instances', '{"image": ');
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toMatch(/JSON/);
    const q = await raw('POST', '/v1/instances/nothing/stop?timeout=-3');
    expect(q.status).toBe(400);
    expect(q.body.error.field).toBe('timeout');
    const unknownQ = await raw('GET', '/v1/instances?colour=red');
    expect(unknownQ.status).toBe(400);
    expect(unknownQ.body.error.field).toBe('colour');
    const noImage = await raw('POST', '/v1/instances', JSON.stringify({ image: 'no-such-image' }));
    expect(noImage.status).toBe(404);
    expect(noImage.body.error.field).toBe('image');
    const badDir = await raw('POST', '/v1/images', JSON.stringify({ path: '/nonexistent' }));
    expect(badDir.status).toBe(400);
    expect(badDir.body.error.field).toBe('path');
    const missing = await raw('GET', '/v1/instances/zzz-none');
    expect(missing.status).toBe(404);
  });
});

describe('two CLIs at once', () => {
  it('keep the state whole: both batches boot, a contested name goes to exactly one', async () => {
    const [a, b, c1, c2] = await Promise.all([
      d.cli(['up', '-n', '3', '--name', 'pa', 'idle']),
      d.cli(['up', '-n', '3', '--name', 'pb', 'idle']),
      d.cli(['create', 'idle', '--name', 'contested']),
      d.cli(['create', 'idle', '--name', 'contested']),
    ]);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.stdout.toString()).toMatch(/3 running in [\d.]+ s; boot p50/);
    expect([c1.status, c2.status].sort()).toEqual([0, 1]);
    expect(c1.stderr + c2.stderr).toMatch(/an instance named "contested" already exists/);
    const all = await api<InstanceView[]>('GET', '/v1/instances');
    const batch = all.filter((v) => /^p[ab]-\d$/.test(v.name));
    expect(batch.map((v) => v.name).sort()).toEqual(['pa-1', 'pa-2', 'pa-3', 'pb-1', 'pb-2', 'pb-3']);
    expect(batch.every((v) => v.state === 'running')).toBe(true);
    expect(all.filter((v) => v.name === 'contested')).toHaveLength(1);
    const rm = await Promise.all([d.cli(['rm', '-f', ...batch.slice(0, 3).map((v) => v.name)]), d.cli(['rm', '-f', ...batch.slice(3).map((v) => v.name)])]);
    expect(rm.map((r) => r.status)).toEqual([0, 0]);
    const pids = new Set(qemuPids(d.home));
    expect(batch.filter((v) => pids.has(v.pid as number))).toEqual([]);
  });
});

describe('signed images', () => {
  it('boots a signed image with its level, and refuses a tampered one at registration and at boot', async () => {
    if (!images.real) return; // the stand-in guest is not an ELF that `unikit build --level` packs
    const out = join(imageDir, 'signed');
    const built = await d.cli(['build', join(imageDir, 'idle-bin'), '--level', 'medium', '--mem', '8M', '-o', out], { timeoutMs: 120_000 });
    expect(built.status, built.stderr).toBe(0);
    const signed = await api<ImageView>('POST', '/v1/images', { path: out, name: 'signed-idle' });

    // Booted as its level says: the guest's command line carries the level's flags.
    const inst = await api<InstanceView>('POST', '/v1/instances', { image: 'signed-idle', name: 'signed-1' });
    await api('POST', `/v1/instances/${inst.id}/start`);
    const running = await settled(inst.id, ['running']);
    const { readFileSync } = await import('node:fs');
    const cmdline = readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').split('\0');
    const append = cmdline[cmdline.indexOf('-append') + 1] ?? '';
    expect(append.split(' ')).toEqual(expect.arrayContaining(['wx', 'aslr', 'control']));
    await api('DELETE', `/v1/instances/${inst.id}?force=true`);

    // A tampered directory is refused when it is registered...
    const { appendFileSync, copyFileSync, mkdirSync } = await import('node:fs');
    const bad = join(imageDir, 'signed-bad');
    mkdirSync(bad, { recursive: true });
    for (const f of ['kernel.elf', 'initrd.cpio', 'manifest.json', 'signature.json']) copyFileSync(join(out, f), join(bad, f));
    appendFileSync(join(bad, 'initrd.cpio'), 'x');
    const refused = await api('POST', '/v1/images', { path: bad, name: 'tampered' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FleetError);
    expect((refused as FleetError).httpStatus).toBe(400);

    // ...and the daemon's own copy is checked again before each boot.
    appendFileSync(join(d.home, 'fleet', 'images', signed.id, 'initrd.cpio'), 'x');
    const later = await api<InstanceView>('POST', '/v1/instances', { image: 'signed-idle', name: 'signed-2' });
    await api('POST', `/v1/instances/${later.id}/start`).catch(() => undefined);
    const failed = await settled(later.id, ['exited']);
    expect(failed.exit?.reason).toBe('start-failed');
    expect(failed.exit?.detail ?? '').toMatch(/signature|tamper|verif/i);
    await api('DELETE', `/v1/instances/${later.id}?force=true`);
  }, 180_000);
});
