/** `unikit validate` through the built CLI: a valid template, a broken one, --json and --input. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/project/index.js';
import { runCli } from '../support/run.js';

const service = join(projectRoot(), 'test', 'fixtures', 'tosca', 'service.yaml');

describe('unikit validate', () => {
  it('says what a valid template deploys', async () => {
    const o = await runCli(['validate', service]);
    expect(o.stderr).toBe('');
    expect(o.status).toBe(0);
    const out = o.stdout.toString();
    expect(out).toContain(`${service}: valid (tosca_simple_yaml_1_3): 2 node templates, 4 policies, 3 outputs\n`);
    expect(out).toMatch(/ {2}web: .*apps\/build\/hello, level medium \(wx aslr\), 2\.\.4 instances \(start 2\), ports 8080, connects to api:9000, on unikit\.events\.vulnerability raise to high\n/);
    expect(out).toMatch(/ {2}api: .*, level high \(wx aslr strict\), weakened: ro, 1 instance, ports 9000\n/);
    expect(out).toContain('  start order: api, web\n');
  });

  it('lists every problem as file:line:column: path: message, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unikit-validate-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties:
        memory: { get_input: mem }
  policies:
    - sec:
        type: unikit.policies.Security
        targets: [web]
        properties: { level: extreme }
`);
    const o = await runCli(['validate', file]);
    expect(o.stdout.toString()).toBe('');
    expect(o.stderr).toBe([
      `${file}:6:7: topology_template.node_templates.web.properties: missing required property "binary" of node type unikit.nodes.Unikernel`,
      `${file}:7:30: topology_template.node_templates.web.properties.memory.get_input: get_input of an undeclared input "mem" (the template declares no inputs)`,
      `${file}:12:30: topology_template.policies[0].sec.properties.level: "extreme" is not one of low, medium, high, strict`,
      `unikit: ${file}: 3 problems`,
      '',
    ].join('\n'));
    expect(o.status).toBe(1);
    const j = await runCli(['validate', file, '--json']);
    expect(j.status).toBe(1);
    const parsed = JSON.parse(j.stdout.toString()) as { valid: boolean; problems: { line: number; column: number; path: string }[] };
    expect(parsed.valid).toBe(false);
    expect(parsed.problems.map((p) => [p.line, p.column, p.path])).toEqual([
      [6, 7, 'topology_template.node_templates.web.properties'],
      [7, 30, 'topology_template.node_templates.web.properties.memory.get_input'],
      [12, 30, 'topology_template.policies[0].sec.properties.level'],
    ]);
  });

  it('--input values, typed as YAML scalars; --json gives the resolved services', async () => {
    const o = await runCli(['validate', service, '--json', '--input', 'api_memory=48 MiB']);
    expect(o.status).toBe(0);
    const j = JSON.parse(o.stdout.toString()) as { valid: boolean; services: { name: string; memory: number }[]; order: string[] };
    expect(j.valid).toBe(true);
    expect(j.services.map((s) => [s.name, s.memory])).toEqual([['web', 64 << 20], ['api', 48 << 20]]);
    const bad = await runCli(['validate', service, '--input', 'web_port=http']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('topology_template.inputs.web_port: the value given for input web_port: expected an integer, got string "http"');
    const usage = await runCli(['validate']);
    expect({ status: usage.status, err: usage.stderr }).toEqual({ status: 2, err: 'unikit: `unikit validate` needs a TOSCA service template: unikit validate <file.yaml>\n' });
  });
});
