/**
 * The orchestrator end to end: a real unikitd (the built CLI's `daemon`), real images built by
 * the factory and real VMs. A template with two apps/httpd services, one scaled to two and
 * connecting to the other; then what must leave nothing behind: an invalid template, a dynamic
 * ELF, a service that never accepts on its port.
 */
import { get } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetClient, type ImageView, type InstanceView } from '../../src/fleet/index.js';
import type { DeploymentStatus } from '../../src/orchestrate/index.js';
import { projectRoot } from '../../src/project/index.js';
import { appPath } from '../support/run.js';
import { qemuPids } from '../fleet/support.js';
import { OrchestratorDaemon } from './support.js';

const o = new OrchestratorDaemon(['acme', 'other'], 'uko-');
const { scratch } = o;
const shop = join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'shop.yaml');

/** The API as tenant acme. */
const api = <T>(method: string, path: string, body?: unknown): Promise<T> => o.as('acme').json<T>(method, path, body);

function httpGet(address: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`http://${address}${path}`, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => void (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Nothing of a failed deploy is left: no instances, no images, no deployment, no QEMU. */
async function expectNothingLeft(): Promise<void> {
  expect(await api<InstanceView[]>('GET', '/v1/instances')).toEqual([]);
  expect(await api<ImageView[]>('GET', '/v1/images')).toEqual([]);
  expect(await api<DeploymentStatus[]>('GET', '/v1/deployments')).toEqual([]);
  expect(qemuPids(o.d.home)).toEqual([]);
}

function template(name: string, nodes: string): string {
  const file = join(scratch, name);
  writeFileSync(file, `tosca_definitions_version: tosca_simple_yaml_1_3\ntopology_template:\n  node_templates:\n${nodes}`);
  return file;
}

describe('unikit deploy', () => {
  it('refuses an invalid template with file:line:col and the key path, and leaves nothing', async () => {
    const file = template('bad-level.yaml', [
      '    app:',
      '      type: unikit.nodes.Unikernel',
      '      properties:',
      `        binary: ${appPath('httpd')}`,
      '  policies:',
      '    - sec:',
      '        type: unikit.policies.Security',
      '        properties: { level: extreme }',
      '',
    ].join('\n'));
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^unikit: invalid template: .*bad-level\.yaml:\d+:\d+: topology_template\.policies\[0\]\.sec\.properties\.level: .*extreme/m);
    await expectNothingLeft();
  });

  it('refuses a dynamically linked program before anything is built or booted', async () => {
    const file = template('dynamic.yaml', ['    app:', '      type: unikit.nodes.Unikernel', '      properties:', '        binary: /bin/true', ''].join('\n'));
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/dynamic\.yaml:7:\d+: topology_template\.node_templates\.app\.properties\.binary: unikit cannot run \/bin\/true: .*dynamic/);
    await expectNothingLeft();
  });

  it('tears down a deploy whose service never accepts on its port: instances, built images and the deployment', async () => {
    const file = template('never-ready.yaml', [
      '    api:',
      '      type: unikit.nodes.Unikernel',
      `      properties: { binary: ${appPath('httpd')}, args: ["9000", /], memory: 32 MiB, ports: [9000] }`,
      '    broken:',
      '      type: unikit.nodes.Unikernel',
      `      properties: { binary: ${appPath('hello')}, memory: 16 MiB, ports: [80] }`,
      '      requirements: [{ connects_to: api }]',
      '',
    ].join('\n'));
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme'], { timeoutMs: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^unikit: service broken: instance never-ready-broken-\w+ \(port 80\): it ended before it accepted connections/m);
    await expectNothingLeft();
  }, 120_000);

  it('stops at the tenant quota: the instances booted so far and the images built are removed', async () => {
    expect((await o.d.cli(['tenant', 'add', 'small', '--max-instances', '2'])).status).toBe(0);
    const small = new FleetClient({ home: o.d.home, autoStart: false, tenant: 'small' });
    const r = await o.d.cli(['deploy', shop, '--tenant', 'small'], { timeoutMs: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^unikit: service web: starting an instance: cannot start shop-web-\w+: quota instances exceeded/m);
    expect(await small.json<InstanceView[]>('GET', '/v1/instances')).toEqual([]);
    expect(await small.json<ImageView[]>('GET', '/v1/images')).toEqual([]);
    expect(await small.json<DeploymentStatus[]>('GET', '/v1/deployments')).toEqual([]);
    expect(qemuPids(o.d.home)).toEqual([]);
  }, 120_000);

  it('deploys two services, one scaled to two and connecting to the other; serves through the output address; undeploys', async () => {
    const r = await o.d.cli(['deploy', shop, '--tenant', 'acme', '--json'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const dep = JSON.parse(r.stdout.toString()) as DeploymentStatus;
    expect(dep.state).toBe('running');
    const web = dep.services.find((s) => s.name === 'web');
    const apiSvc = dep.services.find((s) => s.name === 'api');
    expect(web?.instances.map((i) => i.state)).toEqual(['running', 'running']);
    expect(apiSvc?.instances.map((i) => i.state)).toEqual(['running']);
    expect(web?.level).toBe('medium');
    expect(dep.outputs.web_address).toBe(web?.front);
    expect(dep.outputs.api_port).toBe(Number(apiSvc?.front?.split(':')[1]));

    // Through the front, to either instance.
    for (let i = 0; i < 4; i++) expect(await httpGet(dep.outputs.web_address as string, '/')).toEqual({ status: 200, body: '<h1>shop</h1>\n' });
    // ConnectsTo: web's instances know the api's front; the network policy allows exactly it.
    const inst = await api<InstanceView>('GET', `/v1/instances/${web?.instances[0]?.id}`);
    expect(inst.env).toEqual(['API_HOST=10.0.2.2', `API_PORT=${dep.outputs.api_port}`]);
    expect(web?.networkPolicy).toEqual({ listen: [8080], egress: [{ host: '10.0.2.2', port: dep.outputs.api_port }] });

    const status = await o.d.cli(['status', 'shop', '--tenant', 'acme']);
    expect(status.stdout.toString()).toMatch(/web: level medium, 2\/2 running, front 127\.0\.0\.1:\d+, connects to api/);

    // Another tenant neither sees nor removes it.
    expect((await o.d.cli(['status', '--tenant', 'other'])).stdout.toString()).toBe('no deployments\n');
    const foreign = await o.d.cli(['undeploy', 'shop', '--tenant', 'other']);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/no deployment "shop"/);

    // Its images are signed with acme's own key, which unikitd trusts for acme's images only.
    const other = new FleetClient({ home: o.d.home, autoStart: false, tenant: 'other' });
    const stolen = o.as('other').json('POST', '/v1/images', { path: join(o.d.home, 'fleet', 'images', web?.image.id as string) });
    await expect(stolen).rejects.toThrow(/signed by key \w+, which this host does not trust/);

    // unikitd killed and started again: the instances were adopted, the fronts reopen on the same ports.
    await o.d.kill9();
    await o.d.restart();
    expect(await httpGet(dep.outputs.web_address as string, '/')).toEqual({ status: 200, body: '<h1>shop</h1>\n' });
    const after = await api<DeploymentStatus>('GET', '/v1/deployments/shop');
    expect(after.outputs).toEqual(dep.outputs);
    expect(after.services.flatMap((s) => s.instances.map((i) => i.state))).toEqual(['running', 'running', 'running']);

    // A second deploy of the same name is refused without touching the first.
    const twice = await o.d.cli(['deploy', shop, '--tenant', 'acme']);
    expect(twice.stderr).toMatch(/already has a deployment named shop/);

    // The audit log has the builds with their options, and the deploy.
    const audit = JSON.parse((await o.d.cli(['audit', '--tenant', 'acme', '--json'])).stdout.toString()) as { kind: string; subject: string; detail: Record<string, unknown> }[];
    const ofShop = audit.filter((a) => a.subject === 'shop' || a.subject.startsWith('shop/'));
    expect(ofShop.filter((a) => a.kind === 'image.built').map((a) => [a.subject, a.detail.level, a.detail.flags])).toEqual([
      ['shop/api', 'medium', ['wx', 'aslr']], ['shop/web', 'medium', ['wx', 'aslr']],
    ]);
    expect(ofShop.filter((a) => a.kind === 'deployment.created').length).toBe(1);

    const un = await o.d.cli(['undeploy', 'shop', '--tenant', 'acme']);
    expect(un.status).toBe(0);
    expect(await api<InstanceView[]>('GET', '/v1/instances')).toEqual([]);
    expect(await api<DeploymentStatus[]>('GET', '/v1/deployments')).toEqual([]);
    expect(qemuPids(o.d.home)).toEqual([]);
    // The images stay cached: deploying again builds nothing.
    expect((await api<ImageView[]>('GET', '/v1/images')).length).toBe(2);
    const again = await o.d.cli(['deploy', shop, '--tenant', 'acme', '--json'], { timeoutMs: 120_000 });
    expect(again.status).toBe(0);
    expect((await api<ImageView[]>('GET', '/v1/images')).length).toBe(2);
    expect((await o.d.cli(['undeploy', 'shop', '--tenant', 'acme'])).status).toBe(0);
  }, 180_000);
});
