/**
 * Tenants: who a request acts as, and what each may use.
 *
 * - A tenant's API token is `uk_` and 256 random bits (base64url), shown once when made; the
 *   store keeps only its SHA-256, and a presented token is compared with every stored hash in
 *   constant time (a few tenants: no index lookup that could leak timing is needed).
 * - The admin is whoever reaches the Unix socket without a token (its file mode is the access
 *   control) or presents the daemon's admin token on TCP. The admin acts as the tenant named by
 *   the X-Unikit-Tenant header, else as `default`. A tenant token acts as its tenant only; naming
 *   another tenant in the header is refused (403).
 * - Quotas: instances not exited, and the guest memory of active instances; a start or create
 *   beyond either is refused with QUOTA_EXCEEDED naming the quota and the numbers.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendAudit } from './audit.js';
import { FleetError } from './errors.js';
import { DEFAULT_TENANT, type InstanceRow, type Store, type TenantRow } from './store.js';
import { removeTenantBridge, tenantNetwork } from './tenant-net.js';

export { DEFAULT_TENANT };
export const TENANT_HEADER = 'x-unikit-tenant';
export const TENANT_NAME = /^[a-z0-9-]{1,32}$/;
const TOKEN_PREFIX = 'uk_';

/** Who a request acts as. */
export interface RequestTenant {
  /** The tenant whose resources the request sees and makes. */
  tenant: string;
  /** Reached the daemon as the admin (socket or admin token). */
  admin: boolean;
  /** For the audit log: "admin" or "tenant:NAME". */
  actor: string;
}

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function checkTenantName(name: string, field = 'name'): void {
  if (!TENANT_NAME.test(name)) {
    throw new FleetError('BAD_REQUEST', `${field}: tenant name ${JSON.stringify(name)} must be 1 to 32 of a-z, 0-9 and "-"`, field);
  }
}

/** The tenant whose token this is, or undefined; every stored hash is compared, in constant time. */
export function tenantByToken(store: Store, token: string): TenantRow | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const want = Buffer.from(hashToken(token), 'hex');
  let found: TenantRow | undefined;
  for (const t of store.listTenants()) {
    if (t.tokenHash === null) continue;
    const have = Buffer.from(t.tokenHash, 'hex');
    if (have.length === want.length && timingSafeEqual(have, want) && !found) found = t;
  }
  return found;
}

/**
 * Who a request acts as, from how it arrived: `onSocket` (no TCP peer), its bearer token, the
 * admin token, and the X-Unikit-Tenant header. Throws 401 or 403 FleetErrors.
 */
export function resolveRequestTenant(store: Store, o: { onSocket: boolean; bearer?: string; adminToken?: string; header?: string }): RequestTenant {
  const named = o.header === undefined || o.header === '' ? undefined : o.header;
  const bearer = o.bearer === undefined || o.bearer === '' ? undefined : o.bearer;
  let admin = false;
  let own: TenantRow | undefined;
  if (bearer !== undefined) {
    const want = o.adminToken;
    admin = want !== undefined && bearer.length === want.length && timingSafeEqual(Buffer.from(bearer), Buffer.from(want));
    if (!admin) own = tenantByToken(store, bearer);
    if (!admin && !own) throw new FleetError('UNAUTHORIZED', 'the bearer token is not valid: use the admin token (fleet/token) or a tenant token (unikit tenant add/token)');
  } else if (o.onSocket) {
    admin = true;
  } else {
    throw new FleetError('UNAUTHORIZED', 'a bearer token is required on TCP: set UNIKIT_TOKEN (unikitd printed where it keeps it, or a tenant token)');
  }
  if (own) {
    if (named !== undefined && named !== own.name) {
      throw new FleetError('FORBIDDEN', `this token belongs to tenant ${JSON.stringify(own.name)}: it cannot act as ${JSON.stringify(named)}`);
    }
    return { tenant: own.name, admin: false, actor: `tenant:${own.name}` };
  }
  const tenant = named ?? DEFAULT_TENANT;
  if (named !== undefined) {
    checkTenantName(named, 'X-Unikit-Tenant');
    if (!store.getTenant(named)) throw new FleetError('NOT_FOUND', `no tenant ${JSON.stringify(named)}: see \`unikit tenant ls\``);
  }
  return { tenant, admin: true, actor: 'admin' };
}

/** Adds a tenant and its token (returned once, never stored). */
export function addTenant(store: Store, o: { name: string; maxInstances?: number | null; maxMemory?: number | null; actor: string }): { tenant: TenantRow; token: string } {
  checkTenantName(o.name);
  const token = newToken();
  const tenant = store.insertTenant({
    name: o.name, tokenHash: hashToken(token), maxInstances: o.maxInstances ?? null, maxMemory: o.maxMemory ?? null, createdAt: Date.now(),
  });
  appendAudit(store, { tenant: o.name, actor: o.actor, kind: 'tenant.created', subject: o.name, detail: { maxInstances: tenant.maxInstances, maxMemory: tenant.maxMemory } });
  return { tenant, token };
}

/** A new token for the tenant; the old one stops working at once. */
export function rotateToken(store: Store, name: string, actor: string): string {
  mustGetTenant(store, name);
  const token = newToken();
  store.setTenantToken(name, hashToken(token));
  appendAudit(store, { tenant: name, actor, kind: 'tenant.token', subject: name, detail: {} });
  return token;
}

/** Removes a tenant that owns nothing; `default` stays. */
export function removeTenant(store: Store, name: string, actor: string): void {
  mustGetTenant(store, name);
  if (name === DEFAULT_TENANT) throw new FleetError('CONFLICT', 'the tenant "default" is built in and cannot be removed');
  const owned = store.owned(name);
  if (owned.images + owned.instances > 0) {
    throw new FleetError('IN_USE', `tenant ${name} still owns ${owned.instances} instance${owned.instances === 1 ? '' : 's'} and ${owned.images} image${owned.images === 1 ? '' : 's'}: remove them first (unikit --tenant ${name} rm / images rm)`);
  }
  const t = store.getTenant(name) as TenantRow;
  store.deleteTenant(name);
  removeTenantBridge(tenantNetwork(t.name, t.netIndex));
  appendAudit(store, { tenant: name, actor, kind: 'tenant.removed', subject: name, detail: {} });
}

export function mustGetTenant(store: Store, name: string): TenantRow {
  const t = store.getTenant(name);
  if (!t) throw new FleetError('NOT_FOUND', `no tenant ${JSON.stringify(name)}: see \`unikit tenant ls\``);
  return t;
}

/**
 * Refuses (QUOTA_EXCEEDED, and an `instance.refused` audit row) an instance that would take its
 * tenant past a quota: `counting` it among the not-exited ones and, when `active`, its memory
 * among the active ones. The row itself is left out of the current usage.
 */
export function checkQuota(store: Store, row: InstanceRow, o: { active: boolean; actor: string }): void {
  const t = store.getTenant(row.tenant);
  if (!t || (t.maxInstances === null && t.maxMemory === null)) return;
  const used = store.usage(row.tenant, row.id);
  let refusal: { quota: 'instances' | 'memory'; limit: number; used: number; requested: number } | undefined;
  if (t.maxInstances !== null && used.instances + 1 > t.maxInstances) {
    refusal = { quota: 'instances', limit: t.maxInstances, used: used.instances, requested: 1 };
  } else if (o.active && t.maxMemory !== null && used.memory + row.memory > t.maxMemory) {
    refusal = { quota: 'memory', limit: t.maxMemory, used: used.memory, requested: row.memory };
  }
  if (!refusal) return;
  appendAudit(store, { tenant: row.tenant, actor: o.actor, kind: 'instance.refused', subject: row.name, detail: { reason: 'quota', ...refusal } });
  const what = refusal.quota === 'instances'
    ? `tenant ${t.name} may have ${refusal.limit} instance${refusal.limit === 1 ? '' : 's'} not exited and has ${refusal.used}`
    : `tenant ${t.name} may use ${mib(refusal.limit)} of guest memory, its running instances use ${mib(refusal.used)} and ${row.name} asks ${mib(refusal.requested)}`;
  throw new FleetError('QUOTA_EXCEEDED', `cannot ${o.active ? 'start' : 'create'} ${row.name}: quota ${refusal.quota} exceeded: ${what}; remove or stop some instances, or raise the quota`);
}

function mib(n: number): string {
  return `${+(n / (1 << 20)).toFixed(1)} MiB`;
}
