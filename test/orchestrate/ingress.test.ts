/**
 * Ingress rules' `from` with real VMs: api (apps/httpd) admits only web and 192.0.2.0/24. web,
 * rogue and wild are apps/fetch clients that all connect to api. web gets a front of its own and
 * reaches api through it; rogue's egress policy names no port of api, so its kernel refuses the
 * connect; wild's egress opens the host (10.0.2.2, every port), so it gets through its kernel to
 * api's external front, which resets it (a guest comes from 127.0.0.1, outside 192.0.2.0/24),
 * and web's front checks the client process (this process is refused there). Refusals are
 * audited; after a unikitd restart the fronts are back on their ports and web still gets through.
 */
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InstanceView } from '../../src/fleet/index.js';
import type { DeploymentStatus } from '../../src/orchestrate/index.js';
import { projectRoot } from '../../src/project/index.js';
import { appPath } from '../support/run.js';
import { OrchestratorDaemon } from './support.js';

const o = new OrchestratorDaemon(['acme'], 'uki-');
const { scratch } = o;

/** The instance's console once a line matches `pattern` (fetch prints each change of outcome). */
async function consoleUntil(id: string, pattern: RegExp): Promise<string> {
  let text = '';
  for (let i = 0; i < 120 && !pattern.test(text); i++) {
    if (i) await new Promise((r) => setTimeout(r, 500));
    text = (await o.d.cli(['logs', id, '--tenant', 'acme'])).stdout.toString();
  }
  return text;
}

/** Connects, sends a request and resolves with what came back, or the error's code. */
function tryConnect(address: string, path = '/'): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const s = createConnection({ host, port: Number(port) });
    let got = '';
    s.on('data', (b: Buffer) => void (got += b.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.on('end', () => resolve(got || 'closed'));
    s.write(`GET ${path} HTTP/1.0\r\n\r\n`);
  });
}

/** httpd's /stats at `address` (an instance's own forward): how many connections it accepted. */
async function connections(address: string): Promise<number> {
  const text = await tryConnect(address, '/stats');
  return Number(/connections=(\d+)/.exec(text)?.[1] ?? NaN);
}

/** Whether connections other than these polls reach the instance (web's fetch, once a second). */
async function othersConnect(address: string): Promise<boolean> {
  const first = await connections(address);
  for (let polls = 1; polls <= 60; polls++) {
    await new Promise((r) => setTimeout(r, 500));
    if ((await connections(address)) - first - polls >= 2) return true;
  }
  return false;
}

describe('ingress rules (unikit.policies.Network from)', () => {
  it('lets the allowed node through its own front; the kernel stops another node; the external front resets a client outside the CIDR', async () => {
    const file = join(scratch, 'fenced.yaml');
    const fetch = (name: string): string[] => [
      `    ${name}:`, '      type: unikit.nodes.Unikernel',
      `      properties: { binary: ${appPath('fetch')}, args: [API], memory: 16 MiB }`,
      '      requirements: [{ connects_to: api }]',
    ];
    writeFileSync(file, [
      'tosca_definitions_version: tosca_simple_yaml_1_3',
      'metadata: { template_name: fenced }',
      'topology_template:',
      '  node_templates:',
      '    api:',
      '      type: unikit.nodes.Unikernel',
      '      properties:',
      `        binary: ${appPath('httpd')}`,
      '        args: ["9000", /www]',
      `        files: ["${join(projectRoot(), 'test', 'orchestrate', 'fixtures', 'site')}:/www"]`,
      '        memory: 32 MiB',
      '        ports: [9000]',
      ...fetch('web'),
      ...fetch('rogue'),
      ...fetch('wild'),
      '  policies:',
      '    - wild_egress:',
      '        type: unikit.policies.Network',
      '        targets: [wild]',
      '        properties: { egress: [{ to: 10.0.2.2 }] }',
      '    - api_ingress:',
      '        type: unikit.policies.Network',
      '        targets: [api]',
      '        properties:',
      '          ingress: [{ from: web, ports: [9000] }, { from: 192.0.2.0/24 }]',
      '  outputs:',
      '    api_address: { value: { get_attribute: [api, address] } }',
      '',
    ].join('\n'));
    const r = await o.d.cli(['deploy', file, '--tenant', 'acme', '--json'], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    const dep = JSON.parse(r.stdout.toString()) as DeploymentStatus;
    const svc = (n: string) => dep.services.find((s) => s.name === n);
    const external = dep.outputs.api_address as string;
    const externalPort = Number(external.split(':')[1]);
    expect(external).toBe(svc('api')?.front);

    // web has a front of its own; the external front listens on every address (192.0.2.0/24 is not this host).
    const ingress = svc('api')?.ingress;
    expect(ingress?.admits).toEqual(['192.0.2.0/24']);
    expect(ingress?.listen).toBe(`0.0.0.0:${externalPort}`);
    expect(ingress?.nodes.map((n) => n.source)).toEqual(['web']);
    const webPort = Number(ingress?.nodes[0]?.front.split(':')[1]);
    expect(webPort).not.toBe(externalPort);
    expect(svc('web')?.networkPolicy?.egress).toEqual([{ host: '10.0.2.2', port: webPort }]);
    // rogue connects to api too, but api's rules do not allow it: no port of api in its egress.
    expect(svc('rogue')?.networkPolicy?.egress).toEqual([]);
    // wild's own rule opens the host: web's front checks who connects.
    expect(svc('wild')?.networkPolicy?.egress).toEqual([{ host: '10.0.2.2', port: '*' }]);
    expect(ingress?.peersChecked).toBe(true);

    const webId = svc('web')?.instances[0]?.id as string;
    const rogueId = svc('rogue')?.instances[0]?.id as string;
    expect((await o.as('acme').json<InstanceView>('GET', `/v1/instances/${webId}`)).env).toEqual(['API_HOST=10.0.2.2', `API_PORT=${webPort}`]);
    expect((await o.as('acme').json<InstanceView>('GET', `/v1/instances/${rogueId}`)).env).toEqual(['API_HOST=10.0.2.2', `API_PORT=${externalPort}`]);
    expect(await consoleUntil(webId, /HTTP\/1\.\d 200/)).toContain(`fetch API 10.0.2.2:${webPort}: HTTP/1.1 200 OK`);
    expect(await consoleUntil(rogueId, /connect: /)).toContain(`fetch API 10.0.2.2:${externalPort}: connect: Permission denied`);
    const wildId = svc('wild')?.instances[0]?.id as string;
    const wildSays = await consoleUntil(wildId, /fetch API/);
    expect(wildSays).toContain(`fetch API 10.0.2.2:${externalPort}: `);
    expect(wildSays).not.toMatch(/HTTP|Permission denied/);

    // A client of this host is outside 192.0.2.0/24: reset at once, audited. web's own front
    // admits only the QEMUs of web's instances: this process is refused there too.
    expect(await tryConnect(external)).toMatch(/^(ECONNRESET|EPIPE|closed)$/);
    expect(await tryConnect(`127.0.0.1:${webPort}`)).toMatch(/^(ECONNRESET|EPIPE|closed)$/);
    const audit = JSON.parse((await o.d.cli(['audit', '--tenant', 'acme', '--json'])).stdout.toString()) as { kind: string; subject: string; detail: Record<string, unknown> }[];
    const refused = audit.filter((a) => a.kind === 'network.refused');
    expect(refused.find((a) => a.detail.front === 'external')).toMatchObject({ subject: 'fenced/api', detail: { from: '127.0.0.1', admits: ['192.0.2.0/24'], count: 1 } });
    expect(refused.find((a) => a.detail.front === 'for web')).toMatchObject({ subject: 'fenced/api', detail: { from: expect.stringMatching(/^127\.0\.0\.1:\d+$/), count: 1 } });

    const status = (await o.d.cli(['status', 'fenced', '--tenant', 'acme'])).stdout.toString();
    expect(status).toContain(`ingress from web (127.0.0.1:${webPort}), 192.0.2.0/24; external front on 0.0.0.0:${externalPort}; nodes' fronts check the client process`);

    // unikitd killed and started again: the fronts reopen on their ports, web's instance (adopted,
    // its QEMU the same) gets through its own front again, this process still does not.
    await o.d.kill9();
    await o.d.restart();
    const after = await o.as('acme').json<DeploymentStatus>('GET', '/v1/deployments/fenced');
    expect(after.services.find((s) => s.name === 'api')?.ingress).toEqual(ingress);
    const direct = svc('api')?.instances[0]?.address as string;
    expect(await othersConnect(direct)).toBe(true);
    expect(await tryConnect(`127.0.0.1:${webPort}`)).toMatch(/^(ECONNRESET|EPIPE|closed)$/);
    expect((await o.d.cli(['undeploy', 'fenced', '--tenant', 'acme'])).status).toBe(0);
  }, 180_000);
});
