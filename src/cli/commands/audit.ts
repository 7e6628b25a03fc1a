/**
 * `unikit audit [--tenant T] [--since N] [--kind K] [--limit N] [--json]`: unikitd's append-only
 * audit log, oldest first. A tenant token reads its own tenant's rows; the admin reads every
 * tenant's, or T's.
 */
import type { AuditRow } from '../../fleet/index.js';
import { parseArgs } from '../args.js';
import type { FleetIo } from '../fleet-commands.js';
import { chosenTenant, connected, table } from '../fleet-util.js';
import { UsageError } from '../usage.js';

export async function auditCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('audit', argv, [
    { name: 'since', kind: 'value' }, { name: 'kind', kind: 'value' }, { name: 'limit', kind: 'value' }, { name: 'json', kind: 'flag' },
  ]);
  if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])} for \`unikit audit\``);
  const q = new URLSearchParams();
  for (const name of ['since', 'limit'] as const) {
    const v = p.values.get(name);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) throw new UsageError(`bad --${name} ${JSON.stringify(v)}: give a whole number`);
    q.set(name, v);
  }
  const kind = p.values.get('kind');
  if (kind !== undefined) q.set('kind', kind);
  // --tenant here filters the log (a query, not the header: the admin reads all without it).
  const tenant = chosenTenant();
  if (tenant !== undefined) q.set('tenant', tenant);
  const c = await connected({ tenant: null });
  const rows = await c.json<AuditRow[]>('GET', `/v1/audit${q.size ? `?${q.toString()}` : ''}`);
  if (p.flags.has('json')) io.out(JSON.stringify(rows, null, 2) + '\n');
  else {
    io.out(table(['SEQ', 'AT', 'TENANT', 'ACTOR', 'KIND', 'SUBJECT', 'DETAIL'], rows.map((r) => [
      String(r.seq), r.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), r.tenant, r.actor, r.kind, r.subject, summary(r.detail),
    ])));
  }
  return 0;
}

/** The detail on one line: key=value, JSON for what is not a plain value. */
function summary(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)}`)
    .join(' ');
}
