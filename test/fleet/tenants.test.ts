/**
 * Tenants in unikitd, one real daemon and real VMs: tenant A cannot see, read the logs of, stop,
 * start, delete B's instances nor use B's image; a tenant token cannot act as another tenant;
 * quotas; the audit log (rows for each decision, UPDATE and DELETE abort); the host policy
 * "signed images only".
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRow, FleetClient, FleetError, type ImageView, type InstanceView, type TenantView } from '../../src/fleet/index.js';
import { appPath } from '../support/run.js';
import { type TestDaemon, type TestImages, startTestDaemon, testImages, until } from './support.js';

let d: TestDaemon;
let images: TestImages;
const imageDir = mkdtempSync(join(tmpdir(), 'ukf-img-'));
const tokens: Record<string, string> = {};
/** A client acting with tenant `name`'s own token (over the socket: the token decides). */
const as = (name: string, tenant?: string): FleetClient => new FleetClient({ home: d.home, autoStart: false, token: tokens[name], tenant });
const refusal = async (p: Promise<unknown>): Promise<FleetError> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(FleetError);
  return e as FleetError;
};

beforeAll(async () => {
  images = await testImages(imageDir);
  d = await startTestDaemon(['--tcp', '127.0.0.1:0']);
  for (const [name, extra] of [['team-a', []], ['team-b', []], ['small', ['--max-instances', '2', '--max-memory', '12M']]] as const) {
    const out = await d.cli(['tenant', 'add', name, ...extra, '--json']);
    expect(out.status, out.stderr).toBe(0);
    const t = JSON.parse(out.stdout.toString()) as TenantView & { token: string };
    expect(t.token).toMatch(/^uk_[A-Za-z0-9_-]{43}$/);
    tokens[name] = t.token;
  }
}, 120_000);

afterAll(async () => {
  await d?.dispose();
  rmSync(imageDir, { recursive: true, force: true });
});

describe('isolation between tenants', () => {
  it("tenant A cannot list, read the logs of, stop, start, delete B's instances nor create one from B's image", async () => {
    const a = as('team-a');
    const b = as('team-b');
    const bImage = await b.json<ImageView>('POST', '/v1/images', { path: images.idle, name: 'idle' });
    const web = await b.json<InstanceView>('POST', '/v1/instances', { image: 'idle', name: 'web', start: true });
    await until('B\'s web to run', async () => ((await b.json<InstanceView>('GET', '/v1/instances/web')).state === 'running' ? true : undefined));

    expect(await a.json<InstanceView[]>('GET', '/v1/instances')).toEqual([]);
    expect(await a.json<ImageView[]>('GET', '/v1/images')).toEqual([]);
    for (const ref of ['web', web.id, web.id.slice(0, 6)]) {
      for (const [method, path] of [
        ['GET', `/v1/instances/${ref}`], ['GET', `/v1/instances/${ref}/logs`], ['GET', `/v1/instances/${ref}/stats`],
        ['POST', `/v1/instances/${ref}/stop?timeout=0`], ['POST', `/v1/instances/${ref}/start`], ['DELETE', `/v1/instances/${ref}?force=true`],
      ] as const) {
        const e = await refusal(a.json(method, path));
        expect({ method, path, status: e.httpStatus, code: e.code }).toEqual({ method, path, status: 404, code: 'NOT_FOUND' });
        expect(e.message).toBe(`no instance ${JSON.stringify(ref)}: see \`unikit ps -a\``);
      }
    }
    for (const image of ['idle', bImage.id]) {
      const e = await refusal(a.json('POST', '/v1/instances', { image, name: 'stolen', start: true }));
      expect([e.httpStatus, e.field]).toEqual([404, 'image']);
      expect((await refusal(a.json('DELETE', `/v1/images/${image}`))).httpStatus).toBe(404);
    }
    expect(await a.json('GET', '/v1/stats')).toEqual([]);

    // The same names are free in A's own space; B's instance ran on throughout.
    await a.json('POST', '/v1/images', { path: images.idle, name: 'idle' });
    const mine = await a.json<InstanceView>('POST', '/v1/instances', { image: 'idle', name: 'web' });
    expect(mine.tenant).toBe('team-a');
    expect(mine.image.id).not.toBe(bImage.id);
    const still = await b.json<InstanceView>('GET', '/v1/instances/web');
    expect([still.state, still.pid]).toEqual(['running', web.pid ?? still.pid]);
    expect((await b.json<InstanceView[]>('GET', '/v1/instances')).map((v) => v.id)).toEqual([web.id]);

    // The admin CLI acts as a tenant with --tenant, and sees only that tenant's.
    const ps = await d.cli(['--tenant', 'team-b', 'ps', '-a', '--json']);
    expect((JSON.parse(ps.stdout.toString()) as InstanceView[]).map((v) => v.id)).toEqual([web.id]);
    expect((await d.cli(['ps', '-a', '-q'])).stdout.toString()).toBe(''); // the tenant "default" has none
    await b.json('DELETE', '/v1/instances/web?force=true');
    await a.json('DELETE', '/v1/instances/web');
  }, 60_000);

  it('a tenant token cannot act as another tenant, nor manage tenants; a bad token is refused', async () => {
    const e = await refusal(as('team-a', 'team-b').json('GET', '/v1/instances'));
    expect([e.httpStatus, e.code]).toEqual([403, 'FORBIDDEN']);
    expect(e.message).toMatch(/this token belongs to tenant "team-a": it cannot act as "team-b"/);
    expect((await as('team-a', 'team-a').json<{ tenant: string; admin: boolean }>('GET', '/v1/info'))).toMatchObject({ tenant: 'team-a', admin: false });
    for (const [method, path] of [['GET', '/v1/tenants'], ['POST', '/v1/tenants/team-b/token'], ['DELETE', '/v1/tenants/team-b'], ['POST', '/v1/shutdown']] as const) {
      expect((await refusal(as('team-a').json(method, path))).httpStatus).toBe(403);
    }
    expect((await refusal(as('team-a').json('GET', '/v1/audit?tenant=team-b'))).httpStatus).toBe(403);
    const bad = new FleetClient({ home: d.home, autoStart: false, token: 'uk_not-a-token' });
    expect((await refusal(bad.json('GET', '/v1/instances'))).httpStatus).toBe(401);

    // On TCP: a tenant token acts as its tenant, the admin token as the admin, no token is refused.
    const host = `tcp://${(await d.client.json<{ tcp: string }>('GET', '/v1/info')).tcp}`;
    const tcp = (token?: string, tenant?: string): FleetClient => new FleetClient({ host, token, tenant, autoStart: false });
    expect(await tcp(tokens['team-a']).json('GET', '/v1/info')).toMatchObject({ tenant: 'team-a', admin: false });
    const adminToken = readFileSync(join(d.home, 'fleet', 'token'), 'utf8').trim();
    expect(await tcp(adminToken, 'team-b').json('GET', '/v1/info')).toMatchObject({ tenant: 'team-b', admin: true });
    expect((await refusal(tcp().json('GET', '/v1/info'))).httpStatus).toBe(401);
    expect((await refusal(tcp(tokens['team-a'], 'team-b').json('GET', '/v1/images'))).httpStatus).toBe(403);

    // A rotated token replaces the old one at once.
    const old = tokens['team-b'] as string;
    const rotated = await d.cli(['tenant', 'token', 'team-b']);
    tokens['team-b'] = rotated.stdout.toString().trim();
    expect(tokens['team-b']).toMatch(/^uk_/);
    expect((await refusal(new FleetClient({ home: d.home, autoStart: false, token: old }).json('GET', '/v1/images'))).httpStatus).toBe(401);
    expect((await as('team-b').json<ImageView[]>('GET', '/v1/images')).map((i) => i.name)).toEqual(['idle']);

    // A tenant that owns something is not removed; an empty one is.
    const rm = await d.cli(['tenant', 'rm', 'team-b']);
    expect(rm.status).toBe(1);
    expect(rm.stderr).toMatch(/tenant team-b still owns 0 instances and 1 image: remove them first/);
    await d.cli(['tenant', 'add', 'empty']);
    expect((await d.cli(['tenant', 'rm', 'empty'])).status).toBe(0);
    const ls = (await d.cli(['tenant', 'ls'])).stdout.toString();
    expect(ls).toMatch(/^team-a\s+0\/-\s+/m);
    expect(ls).toMatch(/^small\s+0\/2\s+0 B\/12 MiB\s+uk-small\s+10\.78\.\d+\.0\/24/m);
    expect(ls).not.toMatch(/^empty/m);
  }, 60_000);
});

describe('quotas', () => {
  it('refuses a create or start beyond the instance or memory quota, naming the quota and the numbers', async () => {
    const s = as('small');
    await s.json('POST', '/v1/images', { path: images.idle, name: 'idle' });
    await s.json('POST', '/v1/instances', { image: 'idle', name: 'q1', memory: 8 << 20, start: true });
    await s.json('POST', '/v1/instances', { image: 'idle', name: 'q2', memory: 8 << 20 });
    const mem = await refusal(s.json('POST', '/v1/instances/q2/start'));
    expect([mem.httpStatus, mem.code]).toEqual([409, 'QUOTA_EXCEEDED']);
    expect(mem.message).toBe('cannot start q2: quota memory exceeded: tenant small may use 12 MiB of guest memory, its running instances use 8 MiB and q2 asks 8 MiB; remove or stop some instances, or raise the quota');
    const count = await refusal(s.json('POST', '/v1/instances', { image: 'idle', name: 'q3' }));
    expect(count.code).toBe('QUOTA_EXCEEDED');
    expect(count.message).toMatch(/^cannot create q3: quota instances exceeded: tenant small may have 2 instances not exited and has 2;/);
    expect((await s.json<InstanceView[]>('GET', '/v1/instances')).map((v) => v.name)).toEqual(['q1', 'q2']);
    // Other tenants are not limited by small's quota.
    await as('team-a').json('POST', '/v1/instances', { image: 'idle', name: 'q3' });

    await s.json('POST', '/v1/instances/q1/stop?timeout=0');
    expect((await s.json<InstanceView>('POST', '/v1/instances/q2/start?wait=true')).state).toBe('running');
    const cli = await d.cli(['--tenant', 'small', 'create', 'idle', '--name', 'q3', '--start', '--mem', '8M']);
    expect(cli.status).toBe(1);
    expect(cli.stderr).toMatch(/quota memory exceeded/);
    // `unikit up` gets one instance in, then stops on the quota.
    const up = await d.cli(['--tenant', 'small', 'up', '-n', '3', '--mem', '2M', '--name', 'u', 'idle']);
    expect(up.status).toBe(1);
    expect(up.stderr).toMatch(/quota instances exceeded/);
    const ups = (await s.json<InstanceView[]>('GET', '/v1/instances')).filter((v) => v.name.startsWith('u-'));
    expect(ups).toHaveLength(1);
    await s.json('DELETE', `/v1/instances/${ups[0]?.id}?force=true`);
    await s.json('DELETE', '/v1/instances/q2?force=true');
  }, 60_000);
});

describe('audit', () => {
  it('records tenants, registrations with their build options, refusals and blocked attacks; rows cannot be changed', async () => {
    const a = as('team-a');
    await a.json('POST', '/v1/images', { path: images.segv, name: 'segv' });
    const v = await a.json<InstanceView>('POST', '/v1/instances', { image: 'segv', name: 'crasher', start: true });
    await until('the crash', async () => ((await a.json<InstanceView>('GET', `/v1/instances/${v.id}`)).state === 'exited' ? true : undefined));
    const netAttack = appPath('attack-netpolicy');
    const withNet = images.real && existsSync(netAttack);
    if (withNet) {
      // An image that records a network policy (listen 8080 only) boots with it under unikitd.
      const dir = join(imageDir, 'netpolicy');
      const built = await d.cli(['build', netAttack, '--listen', '8080', '-o', dir], { timeoutMs: 120_000 });
      expect(built.status, built.stderr).toBe(0);
      await a.json('POST', '/v1/images', { path: dir, name: 'netattack' });
      const n = await a.json<InstanceView>('POST', '/v1/instances', { image: 'netattack', name: 'binder', args: ['listen', '9000'], start: true });
      const end = await until('the refused bind', async () => {
        const x = await a.json<InstanceView>('GET', `/v1/instances/${n.id}`);
        return x.state === 'exited' ? x : undefined;
      });
      expect(end.exit?.status).toBe(1); // EACCES from bind: the program ends by itself
    }

    const all = await d.client.json<AuditRow[]>('GET', '/v1/audit');
    const kinds = (rows: AuditRow[]): string[] => rows.map((r) => `${r.tenant} ${r.kind} ${r.subject}`);
    expect(kinds(all)).toEqual(expect.arrayContaining([
      'team-a tenant.created team-a', 'team-b tenant.created team-b', 'empty tenant.removed empty', 'team-b tenant.token team-b',
      'team-b image.registered idle', 'small instance.refused q2', 'small instance.refused q3', 'team-a attack.blocked crasher',
    ]));
    expect(all.map((r) => r.seq)).toEqual([...all.map((r) => r.seq)].sort((x, y) => x - y));
    const reg = all.find((r) => r.kind === 'image.registered') as AuditRow;
    expect(reg.detail).toMatchObject({ signed: false, level: null, flags: [] });
    expect(reg.actor).toBe('tenant:team-b');
    expect(all.find((r) => r.subject === 'q2')?.detail).toMatchObject({ reason: 'quota', quota: 'memory', limit: 12 << 20, used: 8 << 20, requested: 8 << 20 });
    const attack = all.find((r) => r.kind === 'attack.blocked') as AuditRow;
    expect(attack.detail).toMatchObject({ mechanism: 'fault', status: 139, signal: 'SIGSEGV' });
    if (images.real) expect((attack.detail.report as string[]).join('\n')).toMatch(/^unikit: program fault: page fault/m);
    if (withNet) {
      const refused = all.find((r) => r.kind === 'attack.blocked' && r.subject === 'binder') as AuditRow;
      expect(refused.detail).toMatchObject({ mechanism: 'network', report: ['bind tcp 0.0.0.0:9000'] });
    }

    // A tenant reads only its own rows; filters by kind and sequence.
    const mine = await a.json<AuditRow[]>('GET', '/v1/audit');
    expect(new Set(mine.map((r) => r.tenant))).toEqual(new Set(['team-a']));
    const after = await a.json<AuditRow[]>('GET', `/v1/audit?kind=attack.blocked&since=${attack.seq - 1}&limit=1`);
    expect(after.map((r) => r.seq)).toEqual([attack.seq]);
    const cli = await d.cli(['audit', '--tenant', 'small', '--kind', 'instance.refused']);
    expect(cli.stdout.toString()).toMatch(/small\s+tenant:small\s+instance\.refused\s+q2\s+reason=quota quota=memory/);

    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(join(d.home, 'fleet', 'state.db'));
    try {
      expect(() => db.prepare("UPDATE audit SET kind = 'nothing' WHERE seq = ?").run(attack.seq)).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM audit WHERE seq = ?').run(attack.seq)).toThrow(/append-only/);
      expect(() => db.exec('DELETE FROM audit')).toThrow(/append-only/);
    } finally {
      db.close();
    }
    expect((await d.client.json<AuditRow[]>('GET', '/v1/audit')).length).toBe(all.length);
  }, 60_000);
});

describe('signed images only (unikitd --require-signed)', () => {
  it('refuses an unsigned image at registration and one registered earlier before it boots, with an audit row', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ukf-'));
    const before = await startTestDaemon([], home);
    await before.client.json('POST', '/v1/images', { path: images.idle, name: 'idle' });
    await before.client.json('POST', '/v1/instances', { image: 'idle', name: 'old' });
    const stopped = new Promise((r) => before.proc.once('exit', r));
    before.proc.kill('SIGTERM');
    await stopped;

    const strict = await startTestDaemon(['--require-signed'], home);
    try {
      expect(await strict.client.json('GET', '/v1/info')).toMatchObject({ requireSigned: true });
      const reg = await refusal(strict.client.json('POST', '/v1/images', { path: images.ticks, name: 'ticks' }));
      expect([reg.httpStatus, reg.code, reg.field]).toEqual([400, 'UNSIGNED_IMAGE', 'path']);
      expect(reg.message).toMatch(/is not signed and this unikitd runs signed images only \(--require-signed\): build it with `unikit build --level medium`/);
      const start = await refusal(strict.client.json('POST', '/v1/instances/old/start'));
      expect(start.code).toBe('UNSIGNED_IMAGE');
      expect(start.message).toMatch(/^cannot start old: its image idle is not signed/);
      expect((await strict.client.json<InstanceView>('GET', '/v1/instances/old')).state).toBe('created');
      const rows = await strict.client.json<AuditRow[]>('GET', '/v1/audit');
      expect(rows.map((r) => `${r.kind} ${r.subject} ${String(r.detail.reason)}`)).toEqual(expect.arrayContaining([
        'image.refused ticks unsigned', 'instance.refused old policy',
      ]));
      if (images.real) {
        // A signed image (signed with this home's key, which the daemon trusts) is welcome and boots.
        const out = join(imageDir, 'signed');
        const built = await strict.cli(['build', join(imageDir, 'idle-bin'), '--level', 'medium', '--mem', '8M', '-o', out], { timeoutMs: 120_000 });
        expect(built.status, built.stderr).toBe(0);
        const img = await strict.client.json<ImageView>('POST', '/v1/images', { path: out, name: 'signed' });
        expect([img.signed, img.level]).toEqual([true, 'medium']);
        const v = await strict.client.json<InstanceView>('POST', '/v1/instances', { image: 'signed', name: 'new', start: true });
        await until('the signed instance to run', async () => ((await strict.client.json<InstanceView>('GET', `/v1/instances/${v.id}`)).state === 'running' ? true : undefined));
        const reg2 = (await strict.client.json<AuditRow[]>('GET', '/v1/audit?kind=image.registered')).find((r) => r.subject === 'signed');
        expect(reg2?.detail).toMatchObject({ level: 'medium', signed: true, flags: expect.arrayContaining(['wx', 'aslr']) });
      }
    } finally {
      await strict.dispose();
    }
  }, 180_000);
});
