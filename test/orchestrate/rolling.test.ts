/**
 * Issue 6's rolling replacement, with real VMs: apps/httpd deployed with two instances behind its
 * front; client loops request it without pause while a vulnerability event raises the service
 * from medium to high, which rebuilds its image and replaces the instances one at a time. No
 * request may fail. Then the smaller rules of POST /v1/events: an unknown kind is 400, another
 * tenant's instance is 404, a level is never lowered; and a rollout whose new instance never
 * serves stops with the old instances and level kept, audited as rollout.failed.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetError } from '../../src/fleet/index.js';
import type { DeploymentStatus, EventAccepted } from '../../src/orchestrate/index.js';
import { projectRoot } from '../../src/project/index.js';
import { appPath } from '../support/run.js';
import { OrchestratorDaemon } from './support.js';

const o = new OrchestratorDaemon(['acme', 'other'], 'ukr-');
const { scratch } = o;
const fixture = join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'rolling.yaml');

/** The API as tenant acme. */
const api = <T>(method: string, path: string, body?: unknown): Promise<T> => o.as('acme').json<T>(method, path, body);

/** One request on a connection of its own: the status, or the error that ended it. */
function request(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`http://${address}/`, { agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
  });
}

/** Requests `address` in a loop until stopped; counts answers by status and failures by message. */
function clientLoop(address: string): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const done = (async () => {
    while (running) {
      try {
        const status = await request(address);
        if (status === 200) ok++;
        else failed.push(`status ${status}`);
      } catch (e) {
        failed.push((e as Error).message);
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { ok, failed };
    },
  };
}

async function status(): Promise<DeploymentStatus> {
  return api<DeploymentStatus>('GET', '/v1/deployments/rolling');
}

describe('a security event on a deployed service', () => {
  it('raises its level and replaces its two instances one at a time while clients see no failed request', async () => {
    const r = await o.d.cli(['deploy', fixture, '--tenant', 'acme', '--json'], { timeoutMs: 180_000 });
    expect(r.stderr).toBe('');
    const dep = JSON.parse(r.stdout.toString()) as DeploymentStatus;
    const before = dep.services[0];
    expect(before?.level).toBe('medium');
    expect(before?.instances.map((i) => i.state)).toEqual(['running', 'running']);
    const address = dep.outputs.web_address as string;

    const loops = [clientLoop(address), clientLoop(address)];
    // httpd can make accept4: the vulnerability affects it.
    const ev = await o.d.cli(['event', 'vulnerability', '--syscall', 'accept4', '--tenant', 'acme', '--json']);
    expect(ev.stderr).toBe('');
    const accepted = JSON.parse(ev.stdout.toString()) as EventAccepted;
    expect(accepted.changes).toEqual([{
      deployment: 'rolling', service: 'web', from: 'medium', to: 'high', policy: 'web_security', trigger: 'on_vulnerability',
      reason: 'its program can make accept4',
    }]);

    let after = await status();
    for (const deadline = Date.now() + 300_000; after.services[0]?.level !== 'high' && Date.now() < deadline;) {
      await new Promise((res) => setTimeout(res, 500));
      after = await status();
    }
    const results = await Promise.all(loops.map((l) => l.stop()));
    expect(after.services[0]?.level).toBe('high');
    expect(results.flatMap((x) => x.failed)).toEqual([]);
    expect(results.reduce((n, x) => n + x.ok, 0)).toBeGreaterThan(10);
    // Two new instances of the new image, the old ones gone.
    const web = after.services[0];
    expect(web?.instances.map((i) => i.state)).toEqual(['running', 'running']);
    const oldIds = new Set(before?.instances.map((i) => i.id));
    expect(web?.instances.some((i) => oldIds.has(i.id))).toBe(false);
    expect(web?.image.id).not.toBe(before?.image.id);
    const audit = await api<{ kind: string; subject: string; detail: Record<string, unknown> }[]>('GET', '/v1/audit?kind=level.changed');
    expect(audit).toMatchObject([{
      subject: 'rolling/web', detail: { from: 'medium', to: 'high', trigger: 'on_vulnerability', event: { kind: 'vulnerability', syscall: 'accept4' } },
    }]);
    expect(await request(address)).toBe(200);
  }, 420_000);

  it('never lowers a level: a second vulnerability leaves the service at high', async () => {
    const accepted = await api<EventAccepted>('POST', '/v1/events', { kind: 'vulnerability', syscall: 'accept4' });
    expect(accepted.changes).toEqual([]);
    expect(accepted.unchanged).toEqual([{ deployment: 'rolling', service: 'web', level: 'high', why: 'already at high, not below high (levels are never lowered)' }]);
  });

  it('refuses an unknown kind (400) and another tenant\'s instance (404)', async () => {
    const bad = await api('POST', '/v1/events', { kind: 'meteor' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(FleetError);
    expect((bad as FleetError).httpStatus).toBe(400);
    expect((bad as FleetError).message).toMatch(/unknown event kind "meteor"/);

    const id = (await status()).services[0]?.instances[0]?.id as string;
    const viaCli = await o.d.cli(['event', 'intrusion', '--instance', id, '--tenant', 'other']);
    expect(viaCli.status).toBe(1);
    expect(viaCli.stderr).toMatch(/no instance .* in tenant other's deployments/);
    const notFound = await o.as('other').json('POST', '/v1/events', { kind: 'intrusion', instance: id }).catch((e: unknown) => e);
    expect((notFound as FleetError).httpStatus).toBe(404);
    // Nothing changed for acme.
    expect((await status()).services[0]?.level).toBe('high');
  });

  it('keeps the old instances and level when the new image does not serve, and audits why', async () => {
    // The service's program, copied: replaced after the deploy by one that exits at once, so
    // the image at the new level builds but its instance never accepts on the port.
    const program = join(scratch, 'server');
    copyFileSync(appPath('httpd'), program);
    const file = join(scratch, 'fragile.yaml');
    writeFileSync(file, `tosca_definitions_version: tosca_simple_yaml_1_3
metadata: { template_name: fragile }
topology_template:
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties: { binary: ./server, args: ["8080", /www], files: ["${join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'site')}:/www"], memory: 32 MiB, ports: [8080] }
  policies:
    - web_security:
        type: unikit.policies.Security
        properties: { level: medium }
        triggers:
          on_intrusion:
            event: unikit.events.intrusion
            action: [{ call_operation: { operation: unikit.raise_level, inputs: { level: high } } }]
`);
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme', '--json'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    const before = (JSON.parse(r.stdout.toString()) as DeploymentStatus).services[0];
    copyFileSync(appPath('hello'), program);

    const accepted = await api<EventAccepted>('POST', '/v1/events', { kind: 'intrusion', instance: before?.instances[0]?.name });
    expect(accepted.changes.map((c) => [c.deployment, c.to])).toEqual([['fragile', 'high']]);
    type Row = { subject: string; detail: Record<string, unknown> };
    let failed: Row[] = [];
    for (const deadline = Date.now() + 120_000; failed.length === 0 && Date.now() < deadline;) {
      await new Promise((res) => setTimeout(res, 500));
      failed = (await api<Row[]>('GET', '/v1/audit?kind=rollout.failed')).filter((x) => x.subject === 'fragile/web');
    }
    expect(failed).toMatchObject([{ detail: { level: 'high', stage: 'start', replacedBack: 0, event: { kind: 'intrusion' } } }]);
    expect(String(failed[0]?.detail.error)).toMatch(/ended before it accepted connections/);
    const after = (await api<DeploymentStatus>('GET', '/v1/deployments/fragile')).services[0];
    expect(after?.level).toBe('medium');
    expect(after?.image.id).toBe(before?.image.id);
    expect(after?.instances.map((i) => [i.id, i.state])).toEqual(before?.instances.map((i) => [i.id, 'running']));
    expect(await request(after?.front as string)).toBe(200);
  }, 180_000);
});
