/**
 * Proactive scaling with real VMs: apps/httpd with a Scaling policy that keeps a standby. After
 * the deploy a standby boots out of the front (status marks it, and it stays the standby across a
 * unikitd restart); a scale-out promotes it and boots the next one; a count outside [min, max]
 * is refused; a scale-in drains the newest instance.
 */
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetError } from '../../src/fleet/index.js';
import type { DeploymentStatus, ScaleResult } from '../../src/orchestrate/index.js';
import { projectRoot } from '../../src/project/index.js';
import { appPath } from '../support/run.js';
import { OrchestratorDaemon } from './support.js';

const o = new OrchestratorDaemon(['acme'], 'uks-');
const { scratch } = o;

const api = <T>(method: string, path: string, body?: unknown): Promise<T> => o.as('acme').json<T>(method, path, body);
const scale = (instances: number): Promise<ScaleResult> => api<ScaleResult>('POST', '/v1/deployments/spare/scale', { service: 'web', instances });

function status(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`http://${address}/`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

describe('unikit scale', () => {
  it('promotes the standby on a scale-out, refuses counts outside the policy, drains on a scale-in', async () => {
    const file = join(scratch, 'spare.yaml');
    writeFileSync(file, `tosca_definitions_version: tosca_simple_yaml_1_3
metadata: { template_name: spare }
topology_template:
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties:
        binary: ${appPath('httpd')}
        args: ["8080", /www]
        files: ["${join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'site')}:/www"]
        memory: 32 MiB
        ports: [8080]
  policies:
    - web_scaling:
        type: unikit.policies.Scaling
        targets: [web]
        properties: { min_instances: 1, max_instances: 2, default_instances: 1, standby: true }
`);
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme', '--json'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    const address = (JSON.parse(r.stdout.toString()) as DeploymentStatus).services[0]?.front as string;

    // A scale to the current count changes nothing; it waits for the standby's boot.
    const same = await scale(1);
    expect(same).toMatchObject({ from: 1, instances: 1, added: [], removed: [] });
    expect(same.standby).toMatch(/^[0-9a-f]{12}$/);
    const dep = await api<DeploymentStatus>('GET', '/v1/deployments/spare');
    expect(dep.services[0]?.instances.map((i) => [i.state, i.role])).toEqual([['running', 'serving'], ['running', 'standby']]);
    expect(dep.services[0]?.instances[1]?.id).toBe(same.standby);

    // unikitd killed and started again: the standby stays the standby (out of the front).
    await o.d.kill9();
    await o.d.restart();
    const back = await api<DeploymentStatus>('GET', '/v1/deployments/spare');
    expect(back.services[0]?.instances.map((i) => [i.id, i.role])).toEqual(dep.services[0]?.instances.map((i) => [i.id, i.role]));
    expect((await o.d.cli(['status', 'spare', '--tenant', 'acme'])).stdout.toString()).toMatch(/web: level medium, 1\/1 running, 1 standby, .*\n.*\n.*running {2}standby/);

    const out = await o.d.cli(['scale', 'spare', 'web', '2', '--tenant', 'acme', '--json']);
    expect(out.stderr).toBe('');
    const grown = JSON.parse(out.stdout.toString()) as ScaleResult;
    expect(grown).toMatchObject({ from: 1, instances: 2, added: [{ id: same.standby, how: 'standby' }] });
    for (let i = 0; i < 4; i++) expect(await status(address)).toBe(200);

    const tooMany = await scale(3).catch((e: unknown) => e);
    expect(tooMany).toBeInstanceOf(FleetError);
    expect((tooMany as FleetError).httpStatus).toBe(400);
    expect((tooMany as FleetError).message).toBe("instances: 3 is outside service web's Scaling policy (min 1, max 2)");
    await expect(scale(0)).rejects.toThrow(/outside service web's Scaling policy/);

    // The next standby booted meanwhile; a scale-in drains the newest serving instance.
    const shrunk = await scale(1);
    expect(shrunk).toMatchObject({ from: 2, instances: 1, added: [], removed: [same.standby] });
    expect(shrunk.standby).not.toBeNull();
    expect(await status(address)).toBe(200);
  }, 180_000);
});
