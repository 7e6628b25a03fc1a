/**
 * `unikit event KIND ...` (a security event: the affected services are raised to the level their
 * template's Security triggers name, and their instances replaced one at a time) and `unikit
 * scale NAME SERVICE N`: clients of unikitd's POST /v1/events and /v1/deployments/{name}/scale.
 */
import { FleetError } from '../../fleet/index.js';
import type { EventAccepted, ScaleResult } from '../../orchestrate/index.js';
import { parseArgs } from '../args.js';
import { connected, takeTenantOption } from '../fleet-util.js';
import { UsageError } from '../usage.js';

export interface EventIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const EVENT_HELP = `
security events and scaling (docs/orchestrator.md):
  unikit event KIND [--syscall S] [--instance ID] [--deployment D [--service S]] [--note TEXT]
               [--tenant T] [--json]
      report a security event: KIND vulnerability (--syscall: the services whose program can make
      it) or intrusion (--instance: that instance's service), or a kind a template's triggers
      name; the affected services are raised to the level of their Security policy's trigger
      (never lowered) and their instances replaced one at a time; prints what will change
  unikit scale NAME SERVICE N [--tenant T] [--json]
      run N instances of the service (within its Scaling policy's min and max): a scale-out
      promotes the standby or boots the image built at deploy; a scale-in drains the newest
--tenant defaults to $UNIKIT_TENANT, else the token's tenant ("default" for the admin).
`;

const JSON_FLAG = { name: 'json', kind: 'flag' } as const;

export async function eventCommands(command: 'event' | 'scale', argv: readonly string[], io: EventIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(EVENT_HELP.trimStart());
    return 0;
  }
  try {
    // --tenant (or UNIKIT_TENANT) picks the tenant as for every fleet command: X-Unikit-Tenant.
    const rest = takeTenantOption(argv);
    return command === 'event' ? await event(rest, io) : await scale(rest, io);
  } catch (e) {
    if (e instanceof FleetError) {
      io.err(`unikit: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function event(argv: readonly string[], io: EventIo): Promise<number> {
  const fields = ['syscall', 'instance', 'deployment', 'service', 'note'] as const;
  const p = parseArgs('event', argv, [JSON_FLAG, ...fields.map((name) => ({ name, kind: 'value' as const }))]);
  if (p.positionals.length !== 1) throw new UsageError('`unikit event` takes the event kind: unikit event vulnerability --syscall openat');
  const body: Record<string, string> = { kind: p.positionals[0] as string };
  for (const f of fields) {
    const v = p.values.get(f);
    if (v !== undefined) body[f] = v;
  }
  const c = await connected();
  const r = await c.json<EventAccepted>('POST', '/v1/events', body);
  if (p.flags.has('json')) {
    io.out(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  if (r.changes.length === 0) io.out('no service changes level\n');
  for (const ch of r.changes) io.out(`${ch.deployment}/${ch.service}: ${ch.from} -> ${ch.to} (${ch.policy}.${ch.trigger}; ${ch.reason}); replacing its instances\n`);
  for (const u of r.unchanged) io.out(`${u.deployment}/${u.service}: stays ${u.level} (${u.why})\n`);
  return 0;
}

async function scale(argv: readonly string[], io: EventIo): Promise<number> {
  const p = parseArgs('scale', argv, [JSON_FLAG]);
  const [name, service, count] = p.positionals;
  if (p.positionals.length !== 3 || name === undefined || service === undefined || count === undefined) {
    throw new UsageError('`unikit scale` takes a deployment, a service and a count: unikit scale NAME SERVICE N');
  }
  if (!/^\d+$/.test(count)) throw new UsageError(`the instance count must be a whole number, not ${JSON.stringify(count)}`);
  const body = { service, instances: Number(count) };
  const c = await connected();
  const r = await c.json<ScaleResult>('POST', `/v1/deployments/${encodeURIComponent(name)}/scale`, body);
  if (p.flags.has('json')) {
    io.out(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  const how = r.added.map((a) => `${a.id} ${a.how === 'standby' ? 'promoted from standby' : 'booted'}`).concat(r.removed.map((id) => `${id} drained and stopped`));
  io.out(`${r.deployment}/${r.service}: ${r.from} -> ${r.instances} instances in ${(r.ms / 1000).toFixed(2)} s${how.length ? ` (${how.join(', ')})` : ''}\n`);
  return 0;
}
