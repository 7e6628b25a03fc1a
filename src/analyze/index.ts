/**
 * Static analysis of a program's system calls: which syscalls a static x86-64 ELF can make,
 * which sites could not be resolved, and what unikit's kernel does with each call.
 */
export { analyzeElf, ANALYSIS_FORMAT } from './analysis.js';
export type { Analysis, AnalyzeOptions, SyscallSite, SyscallUse, UnsupportedSite } from './analysis.js';
export type { UnknownPath } from './dataflow.js';
export type { CodeRegion, UnsupportedKind } from './decode.js';
export type { MovEaxSyscallPair, SiteInstruction, SiteNeighbourhood } from './sites.js';
export { kernelSupport, parseKernelTable, kernelTablePath, KernelTableError } from './support.js';
export type { KernelSupport, SyscallSupport } from './support.js';
export { formatAnalysis, formatAnalysisJson } from './report.js';
