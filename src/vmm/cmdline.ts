/**
 * The kernel command line of docs/guest-abi.md: space-separated tokens, values percent-encoded
 * so that none holds a space.
 */
import { type NetworkPolicy, networkPolicyTokens } from '../abi/index.js';
import { CmdlineTooLongError } from './errors.js';

/**
 * The longest -append QEMU can be given. Linux limits one execve argument to MAX_ARG_STRLEN
 * (32 pages, with its NUL), and QEMU 7.2 on microvm hands the PVH guest all of it, as measured
 * with a guest that echoes its command line (131000 bytes came through intact).
 */
export const CMDLINE_MAX = 131072 - 1;

const PLAIN = /^[A-Za-z0-9._/:,+=-]$/;

/** Every byte outside [A-Za-z0-9._/:,+=-] of the UTF-8 encoding becomes %XX. */
export function encodeValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && PLAIN.test(ch) ? ch : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The inverse of encodeValue (for tests and for reading a command line back). */
export function decodeValue(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Kernel command-line flags (docs/guest-abi.md): hardening and execution modes. */
export type KernelFlag = 'verbose' | 'strict' | 'fast' | 'aslr' | 'wx' | 'ro' | 'trace' | 'execdata' | 'control';

export interface BootParams {
  prog: string;
  /** argv, argv[0] first; at least one entry. */
  argv: string[];
  env: string[];
  cwd?: string;
  tscKhz?: number;
  realtimeNs: bigint;
  /** 32 bytes. */
  seed: Buffer;
  verbose?: boolean;
  /** Further flags, each passed once as its own token. */
  flags?: readonly KernelFlag[];
  /** The guest's address (a.b.c.d/len) and gateway; the kernel defaults to QEMU user
   * networking's 10.0.2.15/24 via 10.0.2.2. */
  net?: { ip: string; gw?: string; dns?: string };
  /** Enforced by the kernel: `netpolicy`, `listen=`, `egress=` (docs/guest-abi.md). */
  networkPolicy?: NetworkPolicy;
}

export function buildCmdline(p: BootParams): string {
  if (p.argv.length === 0) throw new Error('buildCmdline: argv needs at least argv[0]');
  if (p.seed.length !== 32) throw new Error(`buildCmdline: the seed must be 32 bytes, not ${p.seed.length}`);
  const tokens = [`prog=${encodeValue(p.prog)}`];
  for (const a of p.argv) tokens.push(`arg=${encodeValue(a)}`);
  for (const e of p.env) tokens.push(`env=${encodeValue(e)}`);
  tokens.push(`cwd=${encodeValue(p.cwd ?? '/')}`);
  if (p.tscKhz !== undefined) tokens.push(`tsc_khz=${Math.round(p.tscKhz)}`);
  tokens.push(`realtime_ns=${p.realtimeNs}`, `seed=${p.seed.toString('hex')}`);
  if (p.net) {
    tokens.push(`ip=${encodeValue(p.net.ip)}`);
    if (p.net.gw !== undefined) tokens.push(`gw=${encodeValue(p.net.gw)}`);
    if (p.net.dns !== undefined) tokens.push(`dns=${encodeValue(p.net.dns)}`);
  }
  // `egress=A.B.C.D:*` goes out as `egress=A.B.C.D:%2A`, like any other value.
  for (const t of p.networkPolicy ? networkPolicyTokens(p.networkPolicy) : []) {
    const eq = t.indexOf('=');
    tokens.push(eq < 0 ? t : `${t.slice(0, eq)}=${encodeValue(t.slice(eq + 1))}`);
  }
  const flags = new Set<KernelFlag>(p.flags ?? []);
  if (p.verbose) flags.add('verbose');
  tokens.push(...flags);
  const line = tokens.join(' ');
  const length = Buffer.byteLength(line);
  if (length > CMDLINE_MAX) throw new CmdlineTooLongError(length, CMDLINE_MAX);
  return line;
}
