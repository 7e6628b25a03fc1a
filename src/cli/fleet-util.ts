/**
 * What the fleet commands share: the client for this home's unikitd (UNIKIT_HOST, UNIKIT_TOKEN,
 * and the tenant of `--tenant NAME` or UNIKIT_TENANT), and the table and size formats of their output.
 */
import { FleetClient } from '../fleet/index.js';
import { UsageError } from './usage.js';

let tenantChoice: string | undefined;

/**
 * Takes `--tenant NAME` (or `--tenant=NAME`) out of a fleet command's arguments (before "--"):
 * every fleet command acts as that tenant. Without it, UNIKIT_TENANT; without that, the token's
 * tenant (or `default` for the admin).
 */
export function takeTenantOption(argv: readonly string[]): string[] {
  tenantChoice = undefined;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--tenant' || a.startsWith('--tenant=')) {
      const v = a === '--tenant' ? argv[++i] : a.slice('--tenant='.length);
      if (v === undefined || v === '') throw new UsageError('--tenant needs a tenant name');
      tenantChoice = v;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The tenant chosen by --tenant or UNIKIT_TENANT, if any. */
export function chosenTenant(): string | undefined {
  return tenantChoice ?? (process.env.UNIKIT_TENANT || undefined);
}

export function fleetClient(o: { tenant?: string | null } = {}): FleetClient {
  const tenant = o.tenant === null ? undefined : (o.tenant ?? chosenTenant());
  return new FleetClient({ host: process.env.UNIKIT_HOST || undefined, token: process.env.UNIKIT_TOKEN || undefined, tenant });
}

/** A client whose daemon answers (started on demand for the home's socket). */
export async function connected(o: { tenant?: string | null } = {}): Promise<FleetClient> {
  const c = fleetClient(o);
  await c.ensureDaemon();
  return c;
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd() + '\n';
  return line(head) + rows.map(line).join('');
}

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${+(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} days`;
}

export function ago(isoTime: string): string {
  return `${duration(Date.now() - Date.parse(isoTime))} ago`;
}
