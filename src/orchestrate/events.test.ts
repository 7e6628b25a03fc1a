// Which services an event affects and the level it raises them to (pure logic; the daemon's
// handling of POST /v1/events is in test/e2e/rolling.test.ts and events-api.test.ts).
import { describe, expect, it } from 'vitest';
import { FleetError } from '../fleet/index.js';
import type { Level } from '../security/index.js';
import type { LevelRule } from '../tosca/index.js';
import { type EventService, imageSyscalls, planEvent } from './events.js';

const rule = (event: string, level: Level, trigger = `on_${event}`): LevelRule => ({ policy: 'sec', trigger, event: `unikit.events.${event}`, level });

function svc(deployment: string, service: string, level: Level, rules: LevelRule[], syscalls: string[] | null): EventService {
  return { deployment, service, level, rules, instances: [`${service}-1`], syscalls: async () => (syscalls ? new Set(syscalls) : null) };
}

const services = [
  svc('shop', 'web', 'medium', [rule('vulnerability', 'high'), rule('intrusion', 'strict')], ['read', 'accept4']),
  svc('shop', 'db', 'medium', [rule('vulnerability', 'high')], ['read', 'openat']),
  svc('blog', 'www', 'high', [rule('vulnerability', 'high'), rule('vulnerability', 'strict', 'again')], null),
  svc('blog', 'cron', 'low', [], ['openat']),
];
const owner = (ref: string): { deployment: string; service: string } => {
  if (ref === 'web-1') return { deployment: 'shop', service: 'web' };
  throw new FleetError('NOT_FOUND', `no instance ${JSON.stringify(ref)}`);
};

describe('planEvent', () => {
  it('a vulnerability in a syscall raises the services that can make it, by their rules', async () => {
    const plan = await planEvent({ kind: 'vulnerability', syscall: 'openat' }, services, owner);
    expect(plan.changes).toEqual([
      { deployment: 'shop', service: 'db', from: 'medium', to: 'high', policy: 'sec', trigger: 'on_vulnerability', reason: 'its program can make openat' },
      // Unknown syscall set: affected; the highest of its rules wins.
      { deployment: 'blog', service: 'www', from: 'high', to: 'strict', policy: 'sec', trigger: 'again', reason: 'its syscall set is unknown, so it may make openat' },
    ]);
    expect(plan.unchanged).toEqual([{ deployment: 'blog', service: 'cron', level: 'low', why: 'its Security policy has no trigger for unikit.events.vulnerability' }]);
  });

  it('an intrusion raises the service of its instance only', async () => {
    const plan = await planEvent({ kind: 'intrusion', instance: 'web-1' }, services, owner);
    expect(plan.changes.map((c) => [c.service, c.to])).toEqual([['web', 'strict']]);
    await expect(planEvent({ kind: 'intrusion', instance: 'other-tenants' }, services, owner)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('never lowers a level', async () => {
    const high = [svc('shop', 'web', 'strict', [rule('vulnerability', 'high')], ['accept4'])];
    const plan = await planEvent({ kind: 'vulnerability', deployment: 'shop', service: 'web' }, high, owner);
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged[0]?.why).toMatch(/already at strict, not below high/);
  });

  it('refuses unknown kinds and events that name nothing', async () => {
    await expect(planEvent({ kind: 'meteor' }, services, owner)).rejects.toThrow(/kind: unknown event kind "meteor": one of vulnerability, intrusion/);
    await expect(planEvent({ kind: 'vulnerability' }, services, owner)).rejects.toThrow(/names the syscall/);
    await expect(planEvent({ kind: 'intrusion' }, services, owner)).rejects.toThrow(/names the instance/);
    await expect(planEvent({ kind: 'vulnerability', syscall: 'Open At' }, services, owner)).rejects.toThrow(/not a syscall name/);
    await expect(planEvent({ kind: 'vulnerability', deployment: 'nope' }, services, owner)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("reads an image's syscall set from a general kernel's program by analysis", async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join, resolve } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'unikit-events-'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ app: { host: resolve('apps/build/httpd'), sha256: 'test-httpd' } }));
    const set = await imageSyscalls(dir);
    expect(set?.has('accept4')).toBe(true);
    expect(set?.has('ptrace')).toBe(false);
  });
});
