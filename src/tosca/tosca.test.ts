/** TOSCA service templates: what loads, and every kind of bad input named by file, line, column and key path. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../project/index.js';
import { formatProblem, loadServiceTemplate, parseServiceTemplate, unikernelServices } from './index.js';

const HELLO = join(projectRoot(), 'apps', 'build', 'hello');
const dir = mkdtempSync(join(tmpdir(), 'unikit-tosca-'));
let n = 0;

/** Writes `files` (the first is the template) and returns the problems, formatted, with the dir shown as ".". */
async function problems(files: Record<string, string> | string, inputs?: Record<string, unknown>): Promise<string[]> {
  const all = typeof files === 'string' ? { 'service.yaml': files } : files;
  const base = join(dir, String(n++));
  for (const [name, text] of Object.entries(all)) {
    mkdirSync(dirname(join(base, name)), { recursive: true });
    writeFileSync(join(base, name), text.replaceAll('$HELLO', HELLO));
  }
  const r = await loadServiceTemplate(join(base, Object.keys(all)[0] as string), inputs ? { inputs } : {});
  return r.problems.map((p) => formatProblem(p).replaceAll(base + '/', ''));
}

const HEAD = 'tosca_definitions_version: tosca_simple_yaml_1_3\n';
const one = (props: string, extra = ''): string => `${HEAD}topology_template:
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties:
${props}
${extra}`;

describe('TOSCA service templates', () => {
  it('loads the test service: imports, inputs, requirements, policies, outputs, and the services unikit deploys', async () => {
    const t = await parseServiceTemplate(join(projectRoot(), 'test', 'fixtures', 'tosca', 'service.yaml'));
    expect(t.nodes.map((x) => [x.name, x.type])).toEqual([['web', 'unikit.nodes.Unikernel'], ['api', 'shop.nodes.Api']]);
    expect(t.nodes[1]?.types).toEqual(['shop.nodes.Api', 'unikit.nodes.Unikernel', 'tosca.nodes.Root']);
    expect(t.order).toEqual(['api', 'web']);
    expect(t.inputs.web_port).toEqual({ type: 'integer', value: 8080 });
    expect(t.nodes[0]?.requirements).toEqual([{ name: 'connects_to', node: 'api', capability: 'endpoint', relationship: 'tosca.relationships.ConnectsTo' }]);
    expect(t.outputs.map((o) => o.name)).toEqual(['web_address', 'web_port', 'api_ip']);
    const [web, api] = unikernelServices(t);
    expect(web).toMatchObject({
      name: 'web', args: ['--port', '8080'], env: ['GREETING=hello'], memory: 64 << 20, ports: [8080],
      scaling: { min: 2, max: 4, default: 2, standby: false },
      security: { level: 'medium', flags: ['wx', 'aslr'] },
      rules: [{ policy: 'web_security', trigger: 'on_vulnerability', event: 'unikit.events.vulnerability', level: 'high' }],
      ingress: [{ from: 'any', ports: [8080] }], egress: [{ to: 'api', ports: [9000] }], connectsTo: [{ node: 'api', port: 9000 }],
    });
    expect(api).toMatchObject({ memory: 32 << 20, security: { level: 'high', weakened: ['ro'], flags: ['wx', 'aslr', 'strict'] } });
  });

  it('takes input values, and checks them', async () => {
    const file = join(projectRoot(), 'test', 'fixtures', 'tosca', 'service.yaml');
    const t = await parseServiceTemplate(file, { inputs: { api_memory: '48 MiB' } });
    expect(unikernelServices(t)[1]?.memory).toBe(48 << 20);
    const bad = await loadServiceTemplate(file, { inputs: { web_port: 70000, nope: 1 } });
    expect(bad.problems.map((p) => formatProblem(p).replace(/^.*service\.yaml/, 'service.yaml'))).toEqual([
      'service.yaml:14:5: topology_template.inputs.web_port: the value given for input web_port: 70000 must be in the range [1, 65535]',
      '<inputs>:1:1: inputs.nope: the template declares no input "nope"',
    ]);
  });

  it('an unknown node type, with a suggestion', async () => {
    expect(await problems(`${HEAD}topology_template:\n  node_templates:\n    web:\n      type: unikit.nodes.Unikernal\n`)).toEqual([
      'service.yaml:5:13: topology_template.node_templates.web.type: unknown node type "unikit.nodes.Unikernal" (did you mean "unikit.nodes.Unikernel"?)',
    ]);
  });

  it('a missing required property, and an unknown one', async () => {
    expect(await problems(one('        memory: 32 MiB\n        colour: blue'))).toEqual([
      'service.yaml:6:7: topology_template.node_templates.web.properties: missing required property "binary" of node type unikit.nodes.Unikernel',
      'service.yaml:8:9: topology_template.node_templates.web.properties.colour: node type unikit.nodes.Unikernel has no property "colour"',
    ]);
  });

  it('property values against their types and constraints', async () => {
    expect(await problems(one('        binary: $HELLO\n        memory: 1 MiB\n        ports: [80, "http", 70000]\n        args: notalist'))).toEqual([
      'service.yaml:8:17: topology_template.node_templates.web.properties.memory: "1 MiB" must be at least "4 MiB"',
      'service.yaml:9:21: topology_template.node_templates.web.properties.ports[1]: expected an integer, got string "http"',
      'service.yaml:9:29: topology_template.node_templates.web.properties.ports[2]: 70000 must be in the range [1, 65535]',
      'service.yaml:10:15: topology_template.node_templates.web.properties.args: expected a list, got string "notalist"',
    ]);
  });

  it('get_input of an undeclared input, and of one of the wrong type', async () => {
    const t = `${HEAD}topology_template:
  inputs:
    mem:
      type: string
  node_templates:
    web:
      type: unikit.nodes.Unikernel
      properties:
        binary: $HELLO
        memory: { get_input: mem }
        ports: [{ get_input: port }]
`;
    expect(await problems(t, { mem: '8 MiB' })).toEqual([
      'service.yaml:11:30: topology_template.node_templates.web.properties.memory.get_input: input mem is of type string, but this value must be scalar-unit.size',
      'service.yaml:12:30: topology_template.node_templates.web.properties.ports[0].get_input: get_input of an undeclared input "port"',
    ]);
  });

  it('a required input without a value', async () => {
    const t = `${HEAD}topology_template:\n  inputs:\n    port:\n      type: integer\n  node_templates:\n    web:\n      type: unikit.nodes.Unikernel\n      properties:\n        binary: $HELLO\n        ports: [{ get_input: port }]\n`;
    expect(await problems(t)).toEqual(['service.yaml:4:5: topology_template.inputs.port: input port is required and has no default: give it a value (unikit validate --input port=VALUE)']);
    expect(await problems(t, { port: 8080 })).toEqual([]);
  });

  it('cycles in requirements', async () => {
    const node = (name: string, to: string): string => `    ${name}:\n      type: unikit.nodes.Unikernel\n      properties: { binary: $HELLO }\n      requirements:\n        - connects_to: ${to}\n`;
    expect(await problems(`${HEAD}topology_template:\n  node_templates:\n${node('a', 'b')}${node('b', 'c')}${node('c', 'a')}`)).toEqual([
      'service.yaml:18:11: topology_template.node_templates.c.requirements[0]: requirements form a cycle: a → b → c → a',
    ]);
  });

  it('ConnectsTo a node without an endpoint capability, and to a node that does not exist', async () => {
    const t = `${HEAD}node_types:
  shop.nodes.Store:
    derived_from: tosca.nodes.Root
topology_template:
  node_templates:
    store:
      type: shop.nodes.Store
    web:
      type: unikit.nodes.Unikernel
      properties: { binary: $HELLO }
      requirements:
        - dependency: store
        - connects_to: store
        - connects_to: { node: stor }
`;
    expect(await problems(t)).toEqual([
      'service.yaml:14:24: topology_template.node_templates.web.requirements[1].connects_to: requirement connects_to needs a node of type unikit.nodes.Unikernel; store is a shop.nodes.Store',
      'service.yaml:15:32: topology_template.node_templates.web.requirements[2].connects_to.node: requirement connects_to names node template "stor", which does not exist (did you mean "store"?)',
    ]);
    const t2 = `${HEAD}node_types:
  shop.nodes.Thing:
    derived_from: tosca.nodes.Root
    requirements:
      - backend:
          capability: tosca.capabilities.Node
          relationship: tosca.relationships.ConnectsTo
topology_template:
  node_templates:
    a:
      type: shop.nodes.Thing
      requirements: [{ backend: b }]
    b:
      type: shop.nodes.Thing
      requirements: []
`;
    expect(await problems(t2)).toEqual([
      'service.yaml:13:33: topology_template.node_templates.a.requirements[0].backend: tosca.relationships.ConnectsTo connects to a capability of type tosca.capabilities.Endpoint; b\'s feature is a tosca.capabilities.Node: give the target an endpoint capability',
    ]);
  });

  it('an unknown level, a refused override, policy targets, scaling bounds, triggers', async () => {
    const t = one('        binary: $HELLO', `  policies:
    - sec:
        type: unikit.policies.Security
        targets: [web]
        properties: { level: paranoid }
    - low:
        type: unikit.policies.Security
        targets: [nothere]
        properties: { level: high, overrides: { isolation: false } }
    - scale:
        type: unikit.policies.Scaling
        targets: [web]
        properties: { min_instances: 3, max_instances: 2 }
    - raise:
        type: unikit.policies.Security
        targets: [web]
        properties: { level: high }
        triggers:
          t1:
            event: unikit.events.intrusion
            action:
              - call_operation: { operation: unikit.raise_level, inputs: { level: medium } }
          t2:
            action: [{ reboot: now }]
`);
    expect(await problems(t)).toEqual([
      'service.yaml:12:30: topology_template.policies[0].sec.properties.level: "paranoid" is not one of low, medium, high, strict',
      'service.yaml:15:19: topology_template.policies[1].low.targets[0]: target "nothere" is not a node template',
      'service.yaml:16:36: topology_template.policies[1].low.properties.overrides: isolation cannot be turned off at level high (only at low)',
      'service.yaml:20:23: topology_template.policies[2].scale.properties.min_instances: min_instances 3 is above max_instances 2',
      'service.yaml:23:9: topology_template.policies[3].raise.targets: web is already the target of Security policy sec',
      'service.yaml:30:11: topology_template.policies[3].raise.triggers.t2: a trigger needs an event (a name, or {type: name})',
      'service.yaml:31:22: topology_template.policies[3].raise.triggers.t2.action[0]: an activity is one of call_operation, set_state, delegate, inline',
    ]);
  });

  it('outputs: get_attribute of unknown nodes, attributes and capabilities', async () => {
    const t = one('        binary: $HELLO', `  outputs:
    a: { value: { get_attribute: [web, address] } }
    b: { value: { get_attribute: [web, adress] } }
    c: { value: { get_attribute: [db, address] } }
    d: { value: { get_attribute: [web, endpoint, ip_address] } }
    e: { value: { get_attribute: [web, endpoint, nope] } }
    f: { value: { get_input: nope } }
`);
    expect(await problems(t)).toEqual([
      'service.yaml:10:40: topology_template.outputs.b.value.get_attribute[1]: node type unikit.nodes.Unikernel has no attribute "adress" (did you mean "address"?)',
      'service.yaml:11:35: topology_template.outputs.c.value.get_attribute[0]: get_attribute names node template "db", which does not exist',
      'service.yaml:13:50: topology_template.outputs.e.value.get_attribute[2]: capability type unikit.capabilities.Endpoint has no attribute "nope"',
      'service.yaml:14:30: topology_template.outputs.f.value.get_input: get_input of an undeclared input "nope" (the template declares no inputs)',
    ]);
  });

  it('imports: a missing file, a URL, a type defined twice, a derived_from cycle, a bad property definition', async () => {
    expect(await problems({
      'service.yaml': `${HEAD}imports:\n  - types/a.yaml\n  - missing.yaml\n  - https://example.com/x.yaml\n${one('        binary: $HELLO').slice(HEAD.length)}`,
      'types/a.yaml': `${HEAD}node_types:
  x.A:
    derived_from: x.B
  x.B:
    derived_from: x.A
  unikit.nodes.Unikernel:
    derived_from: tosca.nodes.Root
  x.C:
    derived_from: tosca.nodes.Root
    properties:
      size:
        type: scalar-unit.sise
      count:
        type: integer
        default: many
`,
    })).toEqual([
      'service.yaml:4:5: imports[1]: imported file missing.yaml does not exist',
      'service.yaml:5:5: imports[2]: only local files can be imported, not https://example.com/x.yaml',
      'types/a.yaml:4:5: node_types["x.A"].derived_from: derived_from makes a cycle: x.A → x.B → x.A',
      'types/a.yaml:6:5: node_types["x.B"].derived_from: derived_from makes a cycle: x.B → x.A → x.B',
      expect.stringMatching(/^types\/a\.yaml:7:3: node_types\["unikit\.nodes\.Unikernel"\]: node type unikit\.nodes\.Unikernel is already defined at .*profiles\/unikit\.yaml:\d+:\d+$/),
      'types/a.yaml:13:9: node_types["x.C"].properties.size.type: unknown type "scalar-unit.sise" (did you mean "scalar-unit.size"?)',
      'types/a.yaml:16:9: node_types["x.C"].properties.count.default: default: expected an integer, got string "many"',
    ]);
  });

  it('the version, YAML syntax, unknown keys, a program unikit cannot run', async () => {
    expect(await problems('topology_template: {}\n')).toEqual([
      'service.yaml:1:1: tosca_definitions_version is missing: start the file with "tosca_definitions_version: tosca_simple_yaml_1_3"',
      'service.yaml:1:1: topology_template: there are no node_templates: a service needs at least one',
    ]);
    expect(await problems(`${HEAD}topology_template:\n  node_templates:\n    web: [unclosed\n`)).toEqual([
      expect.stringMatching(/^service\.yaml:5:1: YAML: /),
    ]);
    expect(await problems(one('        binary: /bin/sh', '  outptus: {}\n'))).toEqual([
      expect.stringMatching(/^service\.yaml:7:9: topology_template\.node_templates\.web\.properties\.binary: unikit cannot run \/bin\/sh: .*dynamically linked/),
      'service.yaml:8:3: topology_template.outptus: unknown key "outptus" (did you mean "outputs"?)',
    ]);
  });
});

