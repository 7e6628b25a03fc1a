/**
 * Binary rewriting for fast mode: `syscall` sites become direct calls of the kernel's entry,
 * through trampolines in a new segment; unsafe sites keep trapping and are reported.
 */
export { rewriteSyscalls, REWRITE_VERSION } from './rewrite.js';
export type { RewriteOptions, RewriteResult, RewrittenSite, KeptSite } from './rewrite.js';
export { planWindow } from './plan.js';
export type { PlanResult, Window } from './plan.js';
export { callSequence } from './trampoline.js';
