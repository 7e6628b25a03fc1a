/**
 * `unikit tenant add NAME [--max-instances N] [--max-memory SIZE] [--json]` (prints the API token,
 * once), `tenant ls [--json]`, `tenant rm NAME` (refused while it owns images or instances),
 * `tenant token NAME` (a new token; the old one stops working). Admin only, as the API says.
 */
import type { TenantView } from '../../fleet/index.js';
import { parseArgs } from '../args.js';
import type { FleetIo } from '../fleet-commands.js';
import { bytes, connected, table } from '../fleet-util.js';
import { parseSize } from '../size.js';
import { UsageError } from '../usage.js';

type WithToken = TenantView & { token: string };

export async function tenantCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const [sub, ...rest] = argv[0] !== undefined && !argv[0].startsWith('-') ? argv : ['ls', ...argv];
  // Tenant management names its tenant in the path; no X-Unikit-Tenant header.
  const c = await connected({ tenant: null });
  const name = (what: string): string => {
    const p = parseArgs(`tenant ${sub}`, rest, []);
    const [n, ...extra] = p.positionals;
    if (n === undefined) throw new UsageError(`\`unikit tenant ${sub}\` needs ${what}`);
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} for \`unikit tenant ${sub}\``);
    return n;
  };
  switch (sub) {
    case 'ls':
    case 'list': {
      const p = parseArgs('tenant ls', rest, [{ name: 'json', kind: 'flag' }]);
      if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])} for \`unikit tenant ls\``);
      const tenants = await c.json<TenantView[]>('GET', '/v1/tenants');
      if (p.flags.has('json')) io.out(JSON.stringify(tenants, null, 2) + '\n');
      else {
        io.out(table(['NAME', 'INSTANCES', 'MEMORY', 'BRIDGE', 'SUBNET', 'TOKEN'], tenants.map((t) => [
          t.name, `${t.usage.instances}/${t.maxInstances ?? '-'}`, `${bytes(t.usage.memory)}/${t.maxMemory === null ? '-' : bytes(t.maxMemory)}`,
          t.network.bridge, t.network.subnet, t.hasToken ? 'yes' : 'no',
        ])));
      }
      return 0;
    }
    case 'add': {
      const p = parseArgs('tenant add', rest, [{ name: 'max-instances', kind: 'value' }, { name: 'max-memory', kind: 'value' }, { name: 'json', kind: 'flag' }]);
      const [n, ...extra] = p.positionals;
      if (n === undefined) throw new UsageError('`unikit tenant add` needs a name: unikit tenant add NAME');
      if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} for \`unikit tenant add\``);
      const body: Record<string, unknown> = { name: n };
      const maxI = p.values.get('max-instances');
      if (maxI !== undefined) {
        if (!/^\d+$/.test(maxI)) throw new UsageError(`bad --max-instances ${JSON.stringify(maxI)}: give a whole number`);
        body.maxInstances = Number(maxI);
      }
      const maxM = p.values.get('max-memory');
      if (maxM !== undefined) body.maxMemory = parseSize(maxM, '--max-memory');
      const t = await c.json<WithToken>('POST', '/v1/tenants', body);
      if (p.flags.has('json')) io.out(JSON.stringify(t, null, 2) + '\n');
      else {
        io.out(`${t.token}\n`);
        io.err(`tenant ${t.name} added (bridge ${t.network.bridge}, ${t.network.subnet}); its API token is above and is not shown again: UNIKIT_TOKEN=<token>\n`);
      }
      return 0;
    }
    case 'rm':
    case 'remove': {
      const n = name('a tenant name');
      await c.json('DELETE', `/v1/tenants/${encodeURIComponent(n)}`);
      io.out(`${n}\n`);
      return 0;
    }
    case 'token': {
      const n = name('a tenant name');
      const t = await c.json<WithToken>('POST', `/v1/tenants/${encodeURIComponent(n)}/token`);
      io.out(`${t.token}\n`);
      io.err(`tenant ${t.name} has a new API token (above, not shown again); the old one no longer works\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown \`unikit tenant\` command ${JSON.stringify(sub)}: use add, ls, rm or token`);
  }
}
