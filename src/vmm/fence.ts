/**
 * The host-side fence of `--net tap` (nftables): the guest kernel enforces a network policy, but
 * a program in ring 0 (level low) could bypass it, so the host enforces it too, outside the
 * guest, on the tap. And the host keeps unikit's bridges apart even when it routes (ip_forward 1).
 *
 * - `bridge unikit` (the bridge family: its hooks see frames between two taps of one bridge,
 *   which the inet hooks see only with br_netfilter, and name the tap a frame came in or goes
 *   out by): per fenced tap T, a chain `from_T` for what the guest sends (input and forward
 *   hooks) and `to_T` for what it is sent (forward and output hooks), reached through the maps
 *   `from_guest` and `to_guest` keyed by the tap's name, and a set `peers_T` of the flows the
 *   policy let start. Bridge conntrack is not in every kernel (not in this one), so the set is
 *   the state: a flow the guest opens to a declared target, or a peer opens to a declared listen
 *   port, is recorded (remote address, protocol, remote port, guest port; refreshed by every
 *   packet, forgotten after an hour idle), and only recorded flows pass the other way. From the
 *   guest: its own MAC and address only (no spoofing), its ARP, declared targets and recorded
 *   flows; to it: ARP, declared listen ports and recorded flows; everything else is dropped and
 *   counted.
 * - `inet unikit`: per bridge B, a chain `leave_B` on the forward hook (map `bridges`) that drops
 *   what the host would route from B to another unikit bridge (unikit0 or a tenant's uk-*).
 *   Bridged traffic inside B (iif = oif = B under br_netfilter) passes.
 *
 * Everything is keyed by the tap's or bridge's name and made in one nft transaction (atomic, so
 * concurrent unikit processes cannot see half a fence). A tap's objects go when its lease is
 * released; those of a tap without a live lease are reaped with the lease (tap.ts), so a crash
 * leaves nothing once the next tap is leased or unikitd starts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { NetworkPolicy } from '../abi/index.js';
import { NetworkUnavailableError } from './net.js';

const BRIDGE_TABLE = 'bridge unikit';
const INET_TABLE = 'inet unikit';
/** A flow recorded in peers_T is forgotten after this long without a packet. */
const FLOW_IDLE = '1h';

let availability: string | undefined | null = null;

/** Why the host fence cannot be made here (nft missing, not root, nf_tables refused), or undefined when it can. */
export function fenceUnavailable(): string | undefined {
  if (availability !== null) return availability;
  if (process.getuid?.() !== 0) availability = 'not root';
  else {
    // A dry run (nft -c: the kernel checks the transaction, nothing is committed) of a whole
    // fence: nft present, permitted, and the kernel has what the rules use (bridge family, sets).
    const sample = tapFenceScript({ tap: 'ukprobe', ip: '192.0.2.2', mac: '52:54:c0:00:02:02' }, { listen: [1], egress: [{ host: '192.0.2.1', port: 1 }] });
    const r = spawnSync('nft', ['-c', '-f', '-'], { input: sample, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    if (r.error) availability = 'nft is missing: install nftables';
    else if (r.status !== 0) availability = `nft cannot make the fence here: ${(r.stderr || '').trim().split('\n')[0] ?? ''}`;
    else availability = undefined;
  }
  return availability;
}

export interface GuestOnTap {
  tap: string;
  ip: string;
  mac: string;
}

/** The nft commands that fence `guest` by `policy` (pure; for tests and installTapFence). */
export function tapFenceScript(guest: GuestOnTap, policy: NetworkPolicy): string {
  const { tap, ip, mac } = guest;
  checkName(tap);
  const t = BRIDGE_TABLE;
  const peers = `@peers_${tap}`;
  const out = 'ip daddr . meta l4proto . th dport . th sport';
  const inn = 'ip saddr . meta l4proto . th sport . th dport';
  const lines = [
    ...bridgeBase(),
    `add set ${t} peers_${tap} { type ipv4_addr . inet_proto . inet_service . inet_service; flags dynamic,timeout; timeout ${FLOW_IDLE}; size 65536; }`,
    `add chain ${t} from_${tap}`,
    `flush chain ${t} from_${tap}`,
    `add rule ${t} from_${tap} ether saddr != ${mac} counter drop`,
    `add rule ${t} from_${tap} arp saddr ip ${ip} return`,
    `add rule ${t} from_${tap} ip saddr ${ip} ${out} ${peers} update ${peers} { ${out} } return`,
    ...policy.egress.map((e) =>
      `add rule ${t} from_${tap} ip saddr ${ip} ip daddr ${e.host} meta l4proto { tcp, udp }${e.port === '*' ? '' : ` th dport ${e.port}`} update ${peers} { ${out} } return`),
    `add rule ${t} from_${tap} counter drop`,
    `add chain ${t} to_${tap}`,
    `flush chain ${t} to_${tap}`,
    `add rule ${t} to_${tap} ether type arp return`,
    `add rule ${t} to_${tap} ip daddr ${ip} ${inn} ${peers} update ${peers} { ${inn} } return`,
    ...(policy.listen.length ? [`add rule ${t} to_${tap} ip daddr ${ip} meta l4proto { tcp, udp } th dport { ${policy.listen.join(', ')} } update ${peers} { ${inn} } return`] : []),
    `add rule ${t} to_${tap} counter drop`,
    `add element ${t} from_guest { "${tap}" : jump from_${tap} }`,
    `add element ${t} to_guest { "${tap}" : jump to_${tap} }`,
  ];
  return lines.join('\n') + '\n';
}

/** Fences a tap (before QEMU makes it: the rules match its name). Replaces an older fence of the same tap. */
export function installTapFence(guest: GuestOnTap, policy: NetworkPolicy): void {
  removeTapFences([guest.tap]);
  nft(tapFenceScript(guest, policy), `fencing ${guest.tap}`);
}

/** Removes the fences of these taps (those that have one); never throws (called on exit paths). */
export function removeTapFences(taps: readonly string[]): void {
  if (fenceUnavailable()) return;
  const have = fencedTaps();
  const script = taps.filter((tap) => have.has(tap)).flatMap((tap) => [
    ...(have.get(tap)?.inMaps ? [`delete element ${BRIDGE_TABLE} from_guest { "${tap}" }`, `delete element ${BRIDGE_TABLE} to_guest { "${tap}" }`] : []),
    ...(have.get(tap)?.chains ?? []).flatMap((c) => [`flush chain ${BRIDGE_TABLE} ${c}`, `delete chain ${BRIDGE_TABLE} ${c}`]),
    ...(have.get(tap)?.set ? [`delete set ${BRIDGE_TABLE} peers_${tap}`] : []),
  ]);
  if (script.length) nft(script.join('\n') + '\n', `unfencing ${taps.join(', ')}`, true);
}

/** Removes the fence of every tap whose name starts with `prefix` and is not in `live`. */
export function reapTapFences(prefix: string, live: ReadonlySet<string>): void {
  if (fenceUnavailable()) return;
  removeTapFences([...fencedTaps().keys()].filter((tap) => tap.startsWith(prefix) && !live.has(tap)));
}

/** The taps that have fence objects, and which. */
export function fencedTaps(): Map<string, { chains: string[]; set: boolean; inMaps: boolean }> {
  const found = new Map<string, { chains: string[]; set: boolean; inMaps: boolean }>();
  const entry = (tap: string): { chains: string[]; set: boolean; inMaps: boolean } => {
    let e = found.get(tap);
    if (!e) found.set(tap, (e = { chains: [], set: false, inMaps: false }));
    return e;
  };
  for (const o of listTable(BRIDGE_TABLE)) {
    const chain = o.chain as { name?: string } | undefined;
    const set = o.set as { name?: string } | undefined;
    const map = o.map as { name?: string; elem?: unknown[] } | undefined;
    const m = chain?.name && /^(from|to)_(.+)$/.exec(chain.name);
    if (m) entry(m[2] as string).chains.push(chain.name as string);
    if (set?.name?.startsWith('peers_')) entry(set.name.slice('peers_'.length)).set = true;
    if (map?.name === 'from_guest') for (const el of map.elem ?? []) if (Array.isArray(el) && typeof el[0] === 'string') entry(el[0]).inMaps = true;
  }
  return found;
}

/** Packets a tap's fence dropped so far (both directions), or undefined when it has no fence. */
export function fenceDrops(tap: string): number | undefined {
  if (fenceUnavailable()) return undefined;
  let drops: number | undefined;
  for (const o of listTable(BRIDGE_TABLE)) {
    const rule = o.rule as { chain?: string; expr?: Array<Record<string, unknown>> } | undefined;
    if (rule?.chain !== `from_${tap}` && rule?.chain !== `to_${tap}`) continue;
    for (const x of rule.expr ?? []) {
      const c = x.counter as { packets?: number } | undefined;
      if (c && typeof c.packets === 'number') drops = (drops ?? 0) + c.packets;
    }
  }
  return drops;
}

/** Keeps the host from routing between `bridge` and the other unikit bridges. Idempotent. */
export function isolateBridge(bridge: string): void {
  checkName(bridge);
  const t = INET_TABLE;
  nft([
    `add table ${t}`,
    `add map ${t} bridges { type ifname : verdict; }`,
    `add chain ${t} forward { type filter hook forward priority 0; policy accept; }`,
    `flush chain ${t} forward`,
    `add rule ${t} forward iifname vmap @bridges`,
    `add chain ${t} leave_${bridge}`,
    `flush chain ${t} leave_${bridge}`,
    `add rule ${t} leave_${bridge} oifname "${bridge}" return`,
    `add rule ${t} leave_${bridge} oifname "uk-*" counter drop`,
    `add rule ${t} leave_${bridge} oifname "unikit0" counter drop`,
    `add element ${t} bridges { "${bridge}" : jump leave_${bridge} }`,
  ].join('\n') + '\n', `isolating ${bridge}`);
}

/** Removes a deleted bridge's isolation chain; never throws. */
export function unisolateBridge(bridge: string): void {
  if (fenceUnavailable()) return;
  const objects = listTable(INET_TABLE);
  const chains = new Set(objects.map((o) => (o.chain as { name?: string } | undefined)?.name));
  if (!chains.has(`leave_${bridge}`)) return;
  const inMap = objects.some((o) => {
    const map = o.map as { name?: string; elem?: unknown[] } | undefined;
    return map?.name === 'bridges' && (map.elem ?? []).some((el) => Array.isArray(el) && el[0] === bridge);
  });
  nft([
    ...(inMap ? [`delete element ${INET_TABLE} bridges { "${bridge}" }`] : []),
    `flush chain ${INET_TABLE} leave_${bridge}`,
    `delete chain ${INET_TABLE} leave_${bridge}`,
  ].join('\n') + '\n', `unisolating ${bridge}`, true);
}

/** The bridge table, its maps and base chains (idempotent: flush and refill in one transaction). */
function bridgeBase(): string[] {
  const t = BRIDGE_TABLE;
  return [
    `add table ${t}`,
    `add map ${t} from_guest { type ifname : verdict; }`,
    `add map ${t} to_guest { type ifname : verdict; }`,
    `add chain ${t} input { type filter hook input priority 0; policy accept; }`,
    `add chain ${t} forward { type filter hook forward priority 0; policy accept; }`,
    `add chain ${t} output { type filter hook output priority 0; policy accept; }`,
    `flush chain ${t} input`,
    `flush chain ${t} forward`,
    `flush chain ${t} output`,
    `add rule ${t} input iifname vmap @from_guest`,
    `add rule ${t} forward iifname vmap @from_guest`,
    `add rule ${t} forward oifname vmap @to_guest`,
    `add rule ${t} output oifname vmap @to_guest`,
  ];
}

/** Interface names go into nft identifiers: letters, digits, '-' and '_' only. */
function checkName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,14}$/.test(name)) throw new NetworkUnavailableError(`cannot fence the interface ${JSON.stringify(name)}: unexpected characters in its name`);
}

function listTable(table: string): Array<Record<string, unknown>> {
  const r = spawnSync('nft', ['-j', 'list', 'table', ...table.split(' ')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as { nftables?: Array<Record<string, unknown>> }).nftables ?? [];
  } catch {
    return [];
  }
}

function nft(script: string, what: string, tolerant = false): void {
  try {
    execFileSync('nft', ['-f', '-'], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    if (tolerant) return;
    const err = e as { stderr?: string; message: string };
    throw new NetworkUnavailableError(`host network fence: nft failed ${what}: ${(err.stderr ?? err.message).trim().split('\n')[0] ?? ''}`);
  }
}
