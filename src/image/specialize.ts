/**
 * What `unikit build` does with the program before packing it: analyze its syscalls, refuse a
 * program that needs calls unikit lacks (unless forced), build the kernel for its syscall set
 * (static analysis, plus a traced profile), and rewrite its syscall sites for fast mode.
 */
import { syscallTable } from '../abi/index.js';
import type { Analysis, KernelSupport } from '../analyze/index.js';
import { ImageError } from './errors.js';
import { type KernelConfig, kernelConfig, specializedKernel } from './kernel.js';
import type { Manifest } from './manifest.js';

export interface SpecializeOptions {
  /** Build the kernel for the program's syscall set (else the general kernel is packed). */
  perProgramKernel?: boolean;
  /** Syscall numbers a traced run made, added to the static set. */
  profile?: readonly number[];
  /** Pack a program whose set holds calls unikit lacks. */
  force?: boolean;
  /** A syscall outside the set stops the VM (the `strict` kernel flag). */
  strict?: boolean;
  /** Rewrite the syscall sites and run the program in ring 0 (the `fast` kernel flag). */
  fast?: boolean;
  /** Where per-program kernels are cached ($UNIKIT_HOME/kernels by default). */
  kernelCache?: string;
}

export interface Specialized {
  /** The program bytes to pack (rewritten in fast mode). */
  program: Buffer;
  /** The kernel to pack, when not the general one. */
  kernelPath?: string;
  manifest: Partial<Pick<Manifest, 'syscalls' | 'flags' | 'fast'>>;
  kernelConfig?: KernelConfig;
}

export class LackingSyscallsError extends ImageError {
  constructor(readonly app: string, readonly lacking: readonly string[]) {
    super('IMAGE_LACKING_SYSCALLS',
      `${app} may make ${lacking.length} syscall${lacking.length === 1 ? '' : 's'} unikit lacks, which will fail if reached: ` +
      `${lacking.join(', ')} (build with --force to accept that, or --general)`);
  }
}

/** Everything about the program that depends on its analysis; no VM is started. */
export async function specializeProgram(appBytes: Buffer, app: string, o: SpecializeOptions): Promise<Specialized> {
  const flags: ('strict' | 'fast')[] = [];
  if (o.strict) flags.push('strict');
  if (o.fast) flags.push('fast');
  if (!o.perProgramKernel && !o.fast) return { program: appBytes, manifest: flags.length ? { flags } : {} };

  // Loaded here, not up front: the decoder (iced-x86, WebAssembly) costs every `unikit run` 30 ms.
  const { analyzeElf, kernelSupport } = await import('../analyze/index.js');
  const analysis = analyzeElf(appBytes, { name: app });
  const out: Specialized = { program: appBytes, manifest: flags.length ? { flags } : {} };
  if (o.perProgramKernel) {
    const set = syscallSet(analysis, o.profile ?? [], kernelSupport());
    if (set.lacking.length > 0 && !o.force) throw new LackingSyscallsError(app, set.lacking);
    const config = kernelConfig(set.served);
    const kernel = await specializedKernel(config, o.kernelCache);
    out.kernelPath = kernel.path;
    out.kernelConfig = config;
    out.manifest.syscalls = {
      set: set.served,
      lacking: set.lacking,
      traced: set.traced,
      unresolvedSites: analysis.unresolvedSites,
      configHash: config.hash,
    };
  }
  if (o.fast) {
    const { REWRITE_VERSION, rewriteSyscalls } = await import('../rewrite/index.js');
    const r = rewriteSyscalls(appBytes, analysis, { file: app });
    out.program = r.elf;
    out.manifest.fast = {
      rewriter: REWRITE_VERSION,
      sites: r.sites,
      rewritten: r.rewritten.length,
      pairs: r.rewritten.filter((s) => s.kind === 'mov-eax-pair').length,
      kept: r.kept.map((k) => ({ address: `0x${k.address.toString(16)}`, reason: k.reason })),
    };
  }
  return out;
}

interface SyscallSet {
  /** Names the kernel implements or ignores: what it is built with. */
  served: string[];
  /** Names (or nr_<n>) it lacks. */
  lacking: string[];
  /** Names only the profile added. */
  traced: string[];
}

function syscallSet(analysis: Analysis, profile: readonly number[], support: KernelSupport): SyscallSet {
  const table = syscallTable();
  const fromAnalysis = new Set(analysis.syscalls.map((s) => s.number));
  const numbers = [...new Set([...fromAnalysis, ...profile])].sort((a, b) => a - b);
  const name = (n: number): string => table.name(n) ?? `nr_${n}`;
  return {
    served: numbers.map(name).filter((n) => support.of(n) !== 'lacking'),
    lacking: numbers.map(name).filter((n) => support.of(n) === 'lacking'),
    traced: numbers.filter((n) => !fromAnalysis.has(n)).map(name),
  };
}
