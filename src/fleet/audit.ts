/**
 * The audit log: every security decision unikitd (and the orchestrator above it) takes, one row
 * each, in the store's `audit` table, which SQLite triggers keep append-only (an UPDATE or
 * DELETE aborts). Rows are numbered (`seq`), so a reader asks for what came after the last it saw.
 */
import type { AuditFilter, AuditRow, Store } from './store.js';

/** The kinds unikitd writes; others (the orchestrator's) are free-form strings. */
export const AUDIT_KINDS = [
  'tenant.created', 'tenant.removed', 'tenant.token',
  'image.registered', 'image.refused',
  'instance.refused', 'attack.blocked', 'level.changed',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export interface AuditEntry {
  tenant: string;
  /** Who asked or decided: "admin", "tenant:NAME", "unikitd", "orchestrator". */
  actor: string;
  kind: AuditKind | (string & {});
  /** What it is about: an image or instance name, a tenant, a service. */
  subject: string;
  detail?: Record<string, unknown>;
}

/** Appends one row; returns its sequence number. Listeners of `onAudit` hear it after the write. */
export function appendAudit(store: Store, e: AuditEntry): number {
  const row: Omit<AuditRow, 'seq'> = {
    at: new Date().toISOString(), tenant: e.tenant, actor: e.actor, kind: e.kind, subject: e.subject, detail: e.detail ?? {},
  };
  const seq = store.insertAudit(row);
  for (const l of listeners) l({ seq, ...row });
  return seq;
}

export function listAudit(store: Store, f: AuditFilter = {}): AuditRow[] {
  return store.listAudit(f);
}

type Listener = (row: AuditRow) => void;
const listeners = new Set<Listener>();

/** Calls `fn` with every row appended from now on (in this process); returns the unsubscribe. */
export function onAudit(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
