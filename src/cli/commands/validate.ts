/**
 * `unikit validate <template> [--json] [--input NAME=VALUE]...`: check a TOSCA service template
 * (and its imports) against TOSCA 1.3 and the unikit profile, without deploying anything. Every
 * problem is one line `file:line:column: key.path: message`; exit 1 when there are any.
 */
import { type Problem, type ServiceTemplate, formatProblem, loadServiceTemplate, unikernelServices } from '../../tosca/index.js';
import { onePositional, parseArgs } from '../args.js';
import { parseInputOptions } from '../template-inputs.js';

export const VALIDATE_OPTIONS = [
  { name: 'json', kind: 'flag' },
  { name: 'input', kind: 'list' },
] as const;

export async function validateCommand(argv: readonly string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const p = parseArgs('validate', argv, VALIDATE_OPTIONS);
  const file = onePositional('validate', p, 'a TOSCA service template: unikit validate <file.yaml>');
  const inputs = parseInputOptions(p.lists.get('input') ?? []);
  const r = await loadServiceTemplate(file, { inputs });
  if (p.flags.has('json')) {
    io.out(JSON.stringify(r.template ? { file, valid: true, problems: [], ...summary(r.template) } : { file, valid: false, problems: r.problems }, null, 2) + '\n');
    return r.template ? 0 : 1;
  }
  if (!r.template) {
    for (const problem of r.problems) io.err(formatProblem(problem) + '\n');
    io.err(`unikit: ${file}: ${count(r.problems)}\n`);
    return 1;
  }
  io.out(describe(file, r.template));
  return 0;
}

function count(problems: readonly Problem[]): string {
  return `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
}

function summary(t: ServiceTemplate): Record<string, unknown> {
  return {
    version: t.version,
    metadata: t.metadata,
    inputs: t.inputs,
    order: t.order,
    nodes: t.nodes.map((n) => ({ name: n.name, type: n.type, properties: n.properties, requirements: n.requirements })),
    policies: t.policies.map((p) => ({ name: p.name, type: p.type, targets: p.targets, properties: p.properties, triggers: p.triggers })),
    outputs: t.outputs,
    services: unikernelServices(t),
  };
}

function describe(file: string, t: ServiceTemplate): string {
  const lines = [`${file}: valid (${t.version}): ${t.nodes.length} node template${t.nodes.length === 1 ? '' : 's'}, ${t.policies.length} polic${t.policies.length === 1 ? 'y' : 'ies'}, ${t.outputs.length} output${t.outputs.length === 1 ? '' : 's'}`];
  for (const s of unikernelServices(t)) {
    const sc = s.scaling;
    const parts = [
      `level ${s.security.level}${s.security.flags.length ? ` (${s.security.flags.join(' ')})` : ''}${s.security.weakened.length ? `, weakened: ${s.security.weakened.join(', ')}` : ''}`,
      sc.min === sc.max ? `${sc.min} instance${sc.min === 1 ? '' : 's'}` : `${sc.min}..${sc.max} instances (start ${sc.default})`,
    ];
    if (s.ports.length) parts.push(`ports ${s.ports.join(', ')}`);
    if (s.connectsTo.length) parts.push(`connects to ${s.connectsTo.map((c) => (c.port ? `${c.node}:${c.port}` : c.node)).join(', ')}`);
    if (s.rules.length) parts.push(s.rules.map((r) => `on ${r.event} raise to ${r.level}`).join(', '));
    lines.push(`  ${s.name}: ${s.binary}, ${parts.join(', ')}`);
  }
  lines.push(`  start order: ${t.order.join(', ')}`);
  return lines.join('\n') + '\n';
}
