/**
 * Audit entries for the orchestrator's security decisions (image build options, deploys,
 * undeploys, level changes). They go to unikitd's append-only audit table once src/fleet has one
 * (the 'tenants' work: appendAudit); until then to unikitd's log, one JSON line each.
 */
export interface AuditEntry {
  tenant: string;
  actor: string;
  kind: string;
  subject: string;
  detail: Record<string, unknown>;
}

export function auditToLog(log: (line: string) => void): (e: AuditEntry) => void {
  return (e) => log(`audit ${JSON.stringify(e)}`);
}
