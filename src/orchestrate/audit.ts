/**
 * The orchestrator's security decisions in unikitd's append-only audit table (src/fleet's
 * appendAudit): each image it builds with its options, deploys, failed deploys, undeploys,
 * level changes and connections a front refused. Kinds: image.built, deployment.created,
 * deployment.failed, deployment.removed, level.changed, network.refused.
 */
import { type AuditEntry, type Store, appendAudit } from '../fleet/index.js';

export type { AuditEntry };

export function auditTo(store: Store): (e: AuditEntry) => void {
  return (e) => void appendAudit(store, e);
}
