/**
 * manifest.json: what an image holds and how to start it. Written by buildImage, read back by
 * loadImage, `unikit run` and `unikit inspect`.
 */
import { type NetworkPolicy, NetworkPolicyError, validateNetworkPolicy } from '../abi/index.js';
import type { PackedFile } from './rootfs.js';
import { ImageError } from './errors.js';

export const MANIFEST_FORMAT = 1;

export interface Manifest {
  format: number;
  /** abi/unikit_abi.h's UNIKIT_ABI_VERSION the image was built for. */
  abi: number;
  app: {
    name: string;
    /** Path of the program inside the image ("/hello"). */
    path: string;
    host: string;
    sha256: string;
    size: number;
    kind: 'exec' | 'static-pie';
    /** Page-aligned bytes its PT_LOAD segments cover. */
    memorySpan: number;
  };
  argv: string[];
  env: string[];
  cwd: string;
  /** Guest RAM in bytes. */
  memory: number;
  files: PackedFile[];
  kernel: {
    buildId: string;
    size: number;
    footprint: number;
    /** Code and read-only bytes, as size(1) counts "text". */
    textSize?: number;
    /** 'program': built for this program's syscall set (`syscalls` says which). */
    kind?: 'general' | 'program';
  };
  initrd: { size: number; sha256: string };
  created: string;
  /** Kernel flags `unikit build --strict/--fast` chose (docs/guest-abi.md); `unikit run` adds security.flags. */
  flags?: ('strict' | 'fast')[];
  /** The syscall set of a per-program kernel. */
  syscalls?: {
    /** Names the kernel serves (implements or ignores), ascending by number. */
    set: string[];
    /** Names in the program's set the kernel lacks (packed anyway with --force). */
    lacking: string[];
    /** Names a traced profile (--profile) added to the static analysis. */
    traced: string[];
    /** Sites whose number the analysis could not resolve: their calls may be outside the set. */
    unresolvedSites: number;
    /** sha256 of the kernel's configuration header: its cache key. */
    configHash: string;
  };
  /** Fast mode: how the program's syscall sites were rewritten. */
  fast?: {
    /** src/rewrite's REWRITE_VERSION. */
    rewriter: number;
    sites: number;
    rewritten: number;
    /** Of the rewritten, how many were `mov eax, imm32; syscall` pairs. */
    pairs: number;
    /** Sites left trapping, and why. */
    kept: { address: string; reason: string }[];
  };
  /** The security level the image was built for (src/security), and the kernel flags it boots with. */
  security?: ManifestSecurity;
  /** The network `unikit run` gives the image when its command line names none (build --net, -p). */
  network?: ManifestNetwork;
}

export interface ManifestNetwork {
  mode: 'user' | 'tap' | 'none';
  /** Host ports forwarded to the guest's (user networking, on 127.0.0.1). */
  ports: { proto: 'tcp' | 'udp'; host: number; guest: number }[];
  /** The network policy the guest kernel enforces (build --listen, --egress); run may replace it. */
  policy?: NetworkPolicy;
}

export interface ManifestSecurity {
  level: string;
  /** Kernel command-line flags `unikit run` passes (docs/guest-abi.md). */
  flags: string[];
  /** Each mechanism on or off, as the level and its overrides made them. */
  mechanisms: Record<string, boolean>;
  /** The image must carry a valid signature to boot. */
  signed: boolean;
}

/** Checks the shape of a parsed manifest.json; `where` names it in errors. */
/** The kernel flags an image may ask to boot with (docs/guest-abi.md). */
export const BOOT_FLAGS = ['fast', 'execdata', 'wx', 'aslr', 'ro', 'strict'] as const;
export type BootFlag = (typeof BOOT_FLAGS)[number];

/** The kernel flags an image boots with: its security level's (covered by its signature) and
 * those `build --strict/--fast` chose. An unknown flag is refused rather than dropped. */
export function bootFlags(m: Manifest): BootFlag[] {
  const all = [...new Set([...(m.security?.flags ?? []), ...(m.flags ?? [])])];
  for (const f of all) {
    if (!(BOOT_FLAGS as readonly string[]).includes(f)) {
      throw new ImageError('IMAGE_BAD_MANIFEST', `the image's kernel flag ${JSON.stringify(f)} is unknown to this unikit`);
    }
  }
  return all as BootFlag[];
}

export function validateManifest(value: unknown, where: string): Manifest {
  const bad = (what: string): never => {
    throw new ImageError('IMAGE_BAD_MANIFEST', `${where} is not a valid unikit manifest: ${what}`);
  };
  if (typeof value !== 'object' || value === null) return bad('not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) bad(`format is ${JSON.stringify(m.format)}, this unikit reads format ${MANIFEST_FORMAT}`);
  const app = m.app as Record<string, unknown> | undefined;
  if (typeof app !== 'object' || app === null || typeof app.path !== 'string' || typeof app.name !== 'string') bad('app.path or app.name is missing');
  const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (!isStrings(m.argv) || (m.argv as string[]).length === 0) bad('argv must be a non-empty list of strings');
  if (!isStrings(m.env)) bad('env must be a list of strings');
  if (typeof m.memory !== 'number' || !Number.isInteger(m.memory) || m.memory <= 0) bad('memory must be a positive whole number of bytes');
  if (typeof m.cwd !== 'string') bad('cwd must be a string');
  if (!Array.isArray(m.files)) bad('files must be a list');
  const kernel = m.kernel as Record<string, unknown> | undefined;
  if (typeof kernel !== 'object' || kernel === null || typeof kernel.buildId !== 'string') bad('kernel.buildId is missing');
  if (m.network !== undefined) {
    const n = m.network as Record<string, unknown> | null;
    const port = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
    if (typeof n !== 'object' || n === null || !['user', 'tap', 'none'].includes(n.mode as string)) bad('network.mode must be user, tap or none');
    const ports = (n as Record<string, unknown>).ports;
    if (!Array.isArray(ports) || !ports.every((p: Record<string, unknown>) => (p.proto === 'tcp' || p.proto === 'udp') && port(p.host) && port(p.guest))) {
      bad('network.ports must be a list of {proto: tcp|udp, host, guest} with ports 1 to 65535');
    }
    const policy = (n as Record<string, unknown>).policy;
    if (policy !== undefined) {
      try {
        validateNetworkPolicy(policy, 'network.policy');
      } catch (e) {
        if (e instanceof NetworkPolicyError) bad(e.message);
        throw e;
      }
    }
  }
  return value as Manifest;
}
