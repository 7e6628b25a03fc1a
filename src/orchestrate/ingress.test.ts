import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../fleet/index.js';
import { type ServiceRuntime, mustCheckPeers } from './deployment.js';
import type { Front } from './front.js';
import { RefusalAudit, admitsAddress, ingressPlan } from './ingress.js';
import type { ServiceSpec } from './store.js';

function spec(name: string, o: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name, binary: '/bin/x', args: [], env: [], files: [], memory: 1 << 25, ports: [], security: {} as ServiceSpec['security'],
    rules: [], scaling: { min: 1, max: 1, default: 1, standby: false }, ingress: [], egress: [], connectsTo: [], ...o,
  };
}

describe('ingressPlan', () => {
  const web = spec('web', { connectsTo: [{ node: 'api' }] });
  const batch = spec('batch', { egress: [{ to: 'api' }] });
  const idle = spec('idle');

  it('without rules: one front for everyone, on loopback', () => {
    const api = spec('api', { ports: [9000] });
    expect(ingressPlan(api, 9000, [api, web])).toEqual({ restricted: false, nodes: [], blocks: [], host: '127.0.0.1' });
  });

  it('gives a front to each allowed node that connects; blocks for the external front', () => {
    const api = spec('api', { ports: [9000, 9001], ingress: [{ from: 'web' }, { from: 'batch', ports: [9001] }, { from: 'idle' }, { from: '127.0.0.1' }] });
    const plan = ingressPlan(api, 9000, [api, web, batch, idle]);
    // batch is allowed on 9001 only (the front forwards to 9000); idle does not connect.
    expect(plan.nodes).toEqual(['web']);
    expect(plan.blocks.map((b) => b.text)).toEqual(['127.0.0.1']);
    expect(plan.host).toBe('127.0.0.1');
    expect(admitsAddress(plan)({ address: '127.0.0.1' })).toBe(true);
    expect(admitsAddress(plan)({ address: '127.0.0.2' })).toBe(false);
  });

  it('any admits every address and every node that connects; other hosts mean 0.0.0.0', () => {
    const api = spec('api', { ports: [9000], ingress: [{ from: 'any' }] });
    const plan = ingressPlan(api, 9000, [api, web, batch, idle]);
    expect(plan.nodes).toEqual(['web', 'batch']);
    expect(plan.host).toBe('0.0.0.0');
    expect(admitsAddress(plan)({ address: '203.0.113.9' })).toBe(true);
  });

  it('nodes only: the external front admits nobody', () => {
    const api = spec('api', { ports: [9000], ingress: [{ from: 'web' }] });
    const plan = ingressPlan(api, 9000, [api, web]);
    expect(plan).toMatchObject({ restricted: true, nodes: ['web'], blocks: [], host: '127.0.0.1' });
    expect(admitsAddress(plan)({ address: '127.0.0.1' })).toBe(false);
  });
});

describe('RefusalAudit', () => {
  it('writes the first refusal at once and folds a burst into one row per window', () => {
    const rows: AuditEntry[] = [];
    let now = 1_000;
    const a = new RefusalAudit((e) => rows.push(e), { tenant: 't', actor: 'o', subject: 'd/api', detail: { front: 'external' } }, 10_000, () => now);
    a.refused('10.0.0.1');
    for (let i = 0; i < 50; i++) a.refused(`10.0.0.${i + 2}`);
    expect(rows).toEqual([{ tenant: 't', actor: 'o', kind: 'network.refused', subject: 'd/api', detail: { front: 'external', from: '10.0.0.1', count: 1 } }]);
    now += 10_000;
    a.flush();
    expect(rows[1]?.detail).toEqual({ front: 'external', from: '10.0.0.51', count: 50 });
    now += 20_000;
    a.refused('10.0.0.9');
    expect(rows.length).toBe(3);
    a.flush();
    expect(rows.length).toBe(3);
  });
});

describe('mustCheckPeers', () => {
  const rt = (name: string, o: { level?: string; egress?: { host: string; port: number | '*' }[]; fronts?: [string, number][] } = {}): ServiceRuntime => ({
    spec: spec(name), level: (o.level ?? 'medium') as ServiceRuntime['level'], image: {} as ServiceRuntime['image'], port: null, frontPort: null,
    sourceFronts: new Map((o.fronts ?? []).map(([s, port]) => [s, { front: {} as Front, port }])), instances: [], standby: null,
    policy: { listen: [], egress: o.egress ?? [] },
  });

  it('checks only when a guest could reach a node front that is not its own', () => {
    const api = (): ServiceRuntime => rt('api', { fronts: [['web', 4001]] });
    expect(mustCheckPeers([api(), rt('web', { egress: [{ host: '10.0.2.2', port: 4001 }] })])).toBe(false);
    expect(mustCheckPeers([api(), rt('web'), rt('x', { egress: [{ host: '10.0.2.2', port: 4001 }] })])).toBe(true);
    expect(mustCheckPeers([api(), rt('web'), rt('x', { egress: [{ host: '0.0.0.0/0', port: '*' }] })])).toBe(true);
    expect(mustCheckPeers([api(), rt('web'), rt('x', { egress: [{ host: '10.0.2.0/24', port: 80 }, { host: '192.0.2.1', port: '*' }] })])).toBe(false);
    expect(mustCheckPeers([api(), rt('web'), rt('x', { level: 'low' })])).toBe(true);
    // No node fronts: nothing to protect.
    expect(mustCheckPeers([rt('api'), rt('x', { level: 'low', egress: [{ host: '0.0.0.0/0', port: '*' }] })])).toBe(false);
  });
});
