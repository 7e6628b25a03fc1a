/**
 * Who may reach a service, from its Network policy's ingress rules `{from, ports}`, and how its
 * fronts enforce it. Under QEMU user networking the guest sees every client as the host, so the
 * guest kernel can only check ports; `from` is checked on the host, at the fronts:
 *
 * - one front per allowed source node that connects to the service (ConnectsTo, or an egress rule
 *   naming it), on 127.0.0.1: that node's instances get its port in their environment and their
 *   egress policy, and no other node's policy names it (when a guest could get past that check,
 *   the front also admits only the QEMUs of the node's instances: Deployment.peerChecks,
 *   peer.ts). A node the rules do not allow gets no such front: its kernel refuses every port of
 *   the service;
 * - the external front (the outputs' address), which checks each client's address against the
 *   rules' addresses and CIDR blocks (`any`: everyone). It listens on 127.0.0.1 when every block
 *   it admits is loopback, else on 0.0.0.0 (a block of other hosts' addresses means clients from
 *   the network). Without a block it admits nobody.
 *
 * A service without ingress rules keeps one unchecked front on 127.0.0.1 for everyone.
 */
import type { AuditEntry } from '../fleet/index.js';
import { type Cidr, inCidr, isLoopbackBlock, parseCidr } from './cidr.js';
import type { ServiceSpec } from './store.js';

export interface IngressPlan {
  /** False without ingress rules: one front for everyone, as without a Network policy. */
  restricted: boolean;
  /** Source nodes that get a front of their own: allowed on the front's port, and connecting to it. */
  nodes: string[];
  /** The blocks the external front admits. */
  blocks: Cidr[];
  /** Where the external front listens. */
  host: string;
}

/** Whether a rule covers the front's guest port (a rule without ports covers every port). */
const covers = (r: { ports?: readonly number[] }, port: number): boolean => !r.ports || r.ports.length === 0 || r.ports.includes(port);

/** Whether `source` names `target` as a place it connects to. */
export function connectsTo(source: ServiceSpec, target: string): boolean {
  return source.connectsTo.some((c) => c.node === target) || source.egress.some((r) => r.to === target);
}

/** The fronts `target` (whose front forwards to guest `port`) needs, given the deployment's services. */
export function ingressPlan(target: ServiceSpec, port: number, services: readonly ServiceSpec[]): IngressPlan {
  if (target.ingress.length === 0) return { restricted: false, nodes: [], blocks: [], host: '127.0.0.1' };
  const rules = target.ingress.filter((r) => covers(r, port));
  const blocks: Cidr[] = [];
  const allowed = new Set<string>();
  for (const r of rules) {
    const block = parseCidr(r.from);
    if (block) blocks.push(block);
    if (r.from === 'any') for (const s of services) allowed.add(s.name);
    else if (!block) allowed.add(r.from);
  }
  const nodes = services.filter((s) => allowed.has(s.name) && connectsTo(s, target.name)).map((s) => s.name);
  const host = blocks.every(isLoopbackBlock) ? '127.0.0.1' : '0.0.0.0';
  return { restricted: true, nodes, blocks, host };
}

/** The external front's check: the client's address is in one of the plan's blocks. */
export function admitsAddress(plan: IngressPlan): (peer: { address: string }) => boolean {
  return (peer) => plan.blocks.some((b) => inCidr(peer.address, b));
}

/**
 * Audits refused connections as `network.refused` without letting a client flood the audit
 * table: the first refusal of a front is written at once, later ones within `windowMs` are
 * counted and written as one row (with the count and the last address) when the window ends.
 */
export class RefusalAudit {
  private last = -Infinity;
  private held = 0;
  private heldFrom = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly write: (e: AuditEntry) => void,
    private readonly row: { tenant: string; actor: string; subject: string; detail: Record<string, unknown> },
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  refused(address: string): void {
    const t = this.now();
    if (t - this.last >= this.windowMs && this.held === 0) {
      this.last = t;
      this.emit(address, 1);
      return;
    }
    this.held++;
    this.heldFrom = address;
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.last + this.windowMs - t)).unref();
  }

  /** Writes what is held (also when the front closes). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.held === 0) return;
    const n = this.held;
    this.held = 0;
    this.last = this.now();
    this.emit(this.heldFrom, n);
  }

  private emit(address: string, count: number): void {
    const { tenant, actor, subject, detail } = this.row;
    this.write({ tenant, actor, kind: 'network.refused', subject, detail: { ...detail, from: address, count } });
  }
}
