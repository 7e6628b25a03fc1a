/**
 * The network policy a guest kernel enforces (docs/guest-abi.md: the `netpolicy` flag and the
 * `listen=` and `egress=` tokens): the ports the program may bind, and the destinations it may
 * connect or send to. Pure: parsing, validation and the kernel tokens. It lives beside the rest of
 * the guest ABI so that src/vmm (which boots with it) and src/image (which records it) can use it;
 * src/security re-exports it as part of the level table's `network` mechanism.
 */

/** One destination the program may reach: an IPv4 address or CIDR block, and a port or any. */
export interface EgressTarget {
  /** `A.B.C.D` or `A.B.C.D/LEN` (`0.0.0.0/0` is anywhere). Host names must be resolved first. */
  host: string;
  port: number | '*';
}

export interface NetworkPolicy {
  /** Ports the program may bind for TCP and UDP (and so accept connections on). */
  listen: number[];
  /** Where it may connect (TCP) or send (UDP). Loopback inside the guest is always allowed. */
  egress: EgressTarget[];
}

/** The kernel's limits (kernel/include/net.h NET_POLICY_MAX_*). */
export const NETWORK_POLICY_LIMITS = { listen: 64, egress: 64 } as const;

export class NetworkPolicyError extends Error {
  readonly code = 'NETWORK_POLICY_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'NetworkPolicyError';
  }
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

/** `A.B.C.D` or `A.B.C.D/LEN` with LEN 0..32. */
export function isEgressHost(s: string): boolean {
  const [ip, len, ...extra] = s.split('/');
  if (extra.length || ip === undefined || !isIpv4(ip)) return false;
  return len === undefined || (/^\d{1,2}$/.test(len) && Number(len) <= 32);
}

function isPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** A port as written on a command line (`--listen 8080`). */
export function parseListenPort(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!isPort(n)) throw new NetworkPolicyError(`bad listen port ${JSON.stringify(text)}: give a port from 1 to 65535`);
  return n;
}

/** `HOST:PORT`, `HOST:*`, `A.B.C.D/LEN:PORT` as written on a command line (`--egress 10.0.2.2:8080`). */
export function parseEgressTarget(text: string): EgressTarget {
  const colon = text.lastIndexOf(':');
  const host = colon < 0 ? '' : text.slice(0, colon);
  const portText = colon < 0 ? '' : text.slice(colon + 1);
  const hint = 'write A.B.C.D:PORT, A.B.C.D:* or A.B.C.D/LEN:PORT, e.g. 10.0.2.2:8080';
  if (!isEgressHost(host)) {
    const why = colon < 0 ? 'no :PORT' : /[a-z]/i.test(host) ? 'a host name: resolve it to an IPv4 address first' : `${JSON.stringify(host)} is not an IPv4 address or CIDR block`;
    throw new NetworkPolicyError(`bad egress target ${JSON.stringify(text)}: ${why}; ${hint}`);
  }
  if (portText === '*') return { host, port: '*' };
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!isPort(port)) throw new NetworkPolicyError(`bad egress target ${JSON.stringify(text)}: the port must be 1 to 65535 or *; ${hint}`);
  return { host, port };
}

/** Checks a policy read from JSON (a manifest, an API request); `where` names it in errors. */
export function validateNetworkPolicy(value: unknown, where: string): NetworkPolicy {
  const bad = (what: string): never => {
    throw new NetworkPolicyError(`${where}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('a network policy must be an object {listen, egress}');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== 'listen' && k !== 'egress') bad(`unknown key ${JSON.stringify(k)} (a network policy has listen and egress)`);
  if (!Array.isArray(v.listen)) return bad('listen must be a list of ports');
  if (!Array.isArray(v.egress)) return bad('egress must be a list of {host, port}');
  v.listen.forEach((p, i) => {
    if (!isPort(p)) bad(`listen[${i}] is ${JSON.stringify(p)}, not a port from 1 to 65535`);
  });
  v.egress.forEach((t: unknown, i) => {
    const e = t as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return bad(`egress[${i}] must be {host, port}`);
    if (typeof e.host !== 'string' || !isEgressHost(e.host)) bad(`egress[${i}].host is ${JSON.stringify(e.host)}, not an IPv4 address or CIDR block (A.B.C.D or A.B.C.D/LEN)`);
    if (e.port !== '*' && !isPort(e.port)) bad(`egress[${i}].port is ${JSON.stringify(e.port)}, not a port from 1 to 65535 or "*"`);
  });
  const policy = { listen: dedupe(v.listen as number[]), egress: dedupeEgress(v.egress as EgressTarget[]) };
  if (policy.listen.length > NETWORK_POLICY_LIMITS.listen) bad(`more than ${NETWORK_POLICY_LIMITS.listen} listen ports`);
  if (policy.egress.length > NETWORK_POLICY_LIMITS.egress) bad(`more than ${NETWORK_POLICY_LIMITS.egress} egress targets`);
  return policy;
}

/** `policy` with more listen ports (those -p forwards to count as declared), without repeats. */
export function withListenPorts(policy: NetworkPolicy, ports: readonly number[]): NetworkPolicy {
  return { listen: dedupe([...policy.listen, ...ports]), egress: policy.egress };
}

/** The kernel command-line tokens that enforce `policy` (docs/guest-abi.md), in order. */
export function networkPolicyTokens(policy: NetworkPolicy): string[] {
  const p = validateNetworkPolicy(policy, 'the network policy');
  const tokens = ['netpolicy'];
  if (p.listen.length) tokens.push(`listen=${p.listen.join(',')}`);
  if (p.egress.length) tokens.push(`egress=${p.egress.map((e) => `${e.host}:${e.port}`).join(',')}`);
  return tokens;
}

/** One line for people: "listen 80, 443; egress 10.0.2.2:8080" ("none" for empty lists). */
export function describeNetworkPolicy(p: NetworkPolicy): string {
  const listen = p.listen.length ? p.listen.join(', ') : 'none';
  const egress = p.egress.length ? p.egress.map((e) => `${e.host}:${e.port}`).join(', ') : 'none';
  return `listen ${listen}; egress ${egress}`;
}

function dedupe(ports: readonly number[]): number[] {
  return [...new Set(ports)];
}

function dedupeEgress(targets: readonly EgressTarget[]): EgressTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = `${t.host}:${t.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
