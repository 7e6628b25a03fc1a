/**
 * `unikit deploy FILE`, `unikit undeploy NAME`, `unikit status [NAME]`: clients of unikitd's
 * /v1/deployments (src/orchestrate runs inside unikitd). deploy sends the template's text and
 * directory (unikitd is on the same host and resolves the template's relative paths there) and
 * prints the template's outputs.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { FleetError } from '../../fleet/index.js';
import type { DeploymentStatus } from '../../orchestrate/index.js';
import { onePositional, parseArgs } from '../args.js';
import { connected, takeTenantOption } from '../fleet-util.js';
import { parseInputOptions } from '../template-inputs.js';
import { UsageError } from '../usage.js';

export interface DeployIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const DEPLOY_HELP = `
deployments (TOSCA service templates run by unikitd; docs/orchestrator.md):
  unikit deploy FILE [--tenant T] [--name N] [--input K=V]... [--json]
      check the template, build (or take from the cache) and sign each service's image at its
      level, boot its instances behind one front per service, wire ConnectsTo (<TARGET>_HOST and
      <TARGET>_PORT in the source's environment), print the outputs; all or nothing
  unikit undeploy NAME [--tenant T]     stop the instances, close the fronts (images stay cached)
  unikit status [NAME] [--tenant T] [--json]   services, level, instances and their state, fronts
--tenant defaults to $UNIKIT_TENANT, else the token's tenant ("default" for the admin).
`;

const JSON_FLAG = { name: 'json', kind: 'flag' } as const;

export async function deployCommands(command: 'deploy' | 'undeploy' | 'status', argv: readonly string[], io: DeployIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(DEPLOY_HELP.trimStart());
    return 0;
  }
  try {
    // --tenant (or UNIKIT_TENANT) picks the tenant as for every fleet command: X-Unikit-Tenant.
    const rest = takeTenantOption(argv);
    if (command === 'deploy') return await deploy(rest, io);
    if (command === 'undeploy') return await undeploy(rest, io);
    return await status(rest, io);
  } catch (e) {
    if (e instanceof FleetError) {
      io.err(`unikit: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function deploy(argv: readonly string[], io: DeployIo): Promise<number> {
  const p = parseArgs('deploy', argv, [{ name: 'name', kind: 'value' }, { name: 'input', kind: 'list' }, JSON_FLAG]);
  const file = onePositional('deploy', p, 'a TOSCA service template: unikit deploy <service.yaml>');
  const template = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const body = {
    template,
    dir: dirname(resolve(file)),
    file: basename(file),
    inputs: parseInputOptions(p.lists.get('input') ?? []),
    ...(p.values.has('name') ? { name: p.values.get('name') } : {}),
  };
  const c = await connected();
  const started = performance.now();
  const d = await c.json<DeploymentStatus>('POST', '/v1/deployments', body);
  if (p.flags.has('json')) {
    io.out(JSON.stringify(d, null, 2) + '\n');
    return 0;
  }
  io.out(`deployed ${d.name} (tenant ${d.tenant}) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  io.out(describe(d));
  return 0;
}

async function undeploy(argv: readonly string[], io: DeployIo): Promise<number> {
  const p = parseArgs('undeploy', argv, []);
  const name = onePositional('undeploy', p, 'the deployment to remove: unikit undeploy <name>');
  const c = await connected();
  await c.json('DELETE', `/v1/deployments/${encodeURIComponent(name)}`);
  io.out(`undeployed ${name}\n`);
  return 0;
}

async function status(argv: readonly string[], io: DeployIo): Promise<number> {
  const p = parseArgs('status', argv, [JSON_FLAG]);
  if (p.positionals.length > 1) throw new UsageError(`\`unikit status\` takes at most one deployment name, not ${p.positionals.length}`);
  const name = p.positionals[0];
  const c = await connected();
  const list = name === undefined
    ? await c.json<DeploymentStatus[]>('GET', '/v1/deployments')
    : [await c.json<DeploymentStatus>('GET', `/v1/deployments/${encodeURIComponent(name)}`)];
  if (p.flags.has('json')) {
    io.out(JSON.stringify(name === undefined ? list : list[0], null, 2) + '\n');
    return 0;
  }
  if (list.length === 0) io.out('no deployments\n');
  for (const d of list) io.out(`${d.name} (tenant ${d.tenant}): ${d.state}, from ${d.dir}/${d.file}\n${describe(d)}`);
  return 0;
}

/** Services (level, instances, front) and outputs, for people. */
function describe(d: DeploymentStatus): string {
  const lines: string[] = [];
  for (const s of d.services) {
    const serving = s.instances.filter((i) => i.role !== 'standby');
    const running = serving.filter((i) => i.state === 'running').length;
    const standbys = s.instances.length - serving.length;
    lines.push(`  ${s.name}: level ${s.level}, ${running}/${serving.length} running${standbys ? `, ${standbys} standby` : ''}, front ${s.front ?? 'none'}${s.connectsTo.length ? `, connects to ${s.connectsTo.join(', ')}` : ''}`);
    if (s.ingress) {
      const from = [...s.ingress.nodes.map((n) => `${n.source} (${n.front})`), ...s.ingress.admits];
      lines.push(`    ingress from ${from.join(', ') || 'nobody'}; external front on ${s.ingress.listen}${s.ingress.peersChecked ? '; nodes\' fronts check the client process' : ''}`);
    }
    for (const i of s.instances) lines.push(`    ${i.name}  ${i.state}${i.role === 'standby' ? '  standby' : ''}${i.address ? `  ${i.address}` : ''}${i.exit ? `  exit ${i.exit.status} (${i.exit.reason})` : ''}`);
  }
  const outputs = Object.entries(d.outputs);
  if (outputs.length) {
    lines.push('outputs:');
    for (const [k, v] of outputs) lines.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return lines.join('\n') + '\n';
}
