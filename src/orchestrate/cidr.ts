/**
 * IPv4 address blocks for the fronts' ingress checks: does a client's address fall in a
 * Network policy rule's `from` (an address, a CIDR block, or "any")? Pure.
 */
import { isEgressHost } from '../abi/index.js';

/** A parsed block: the network's 32-bit value and its mask. */
export interface Cidr {
  net: number;
  mask: number;
  /** As written, for messages. */
  text: string;
}

/** `A.B.C.D` as an unsigned 32-bit number, or null when it is not a dotted IPv4 address. */
export function ipv4Value(address: string): number | null {
  // A dual-stack listener shows IPv4 clients as ::ffff:A.B.C.D.
  const bare = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isEgressHost(bare) || bare.includes('/')) return null;
  return bare.split('.').reduce((v, o) => v * 256 + Number(o), 0) >>> 0;
}

/** `any`, `A.B.C.D` (a /32) or `A.B.C.D/LEN`; null when `text` is none of them (a node name). */
export function parseCidr(text: string): Cidr | null {
  if (text === 'any') return { net: 0, mask: 0, text };
  if (!isEgressHost(text)) return null;
  const [ip, len] = text.split('/') as [string, string | undefined];
  const bits = len === undefined ? 32 : Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: ((ipv4Value(ip) as number) & mask) >>> 0, mask, text };
}

/** Whether `address` (a socket's remoteAddress) is in `block`; a non-IPv4 address never is. */
export function inCidr(address: string, block: Cidr): boolean {
  const v = ipv4Value(address);
  return v !== null && ((v & block.mask) >>> 0) === block.net;
}

/** Whether every address of the block is a loopback one (127.0.0.0/8). */
export function isLoopbackBlock(block: Cidr): boolean {
  const loopback = parseCidr('127.0.0.0/8') as Cidr;
  return block.mask >>> 0 >= loopback.mask && ((block.net & loopback.mask) >>> 0) === loopback.net;
}
