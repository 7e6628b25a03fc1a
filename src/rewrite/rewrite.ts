/**
 * Fast syscalls by binary rewriting: each resolved `syscall` site of a static x86-64 program
 * becomes a jump to a trampoline that calls the kernel's fast-mode entry directly (the program
 * then runs in ring 0 with the `fast` kernel flag). The trampolines live in a new executable
 * PT_LOAD segment after the program's highest one. A site that cannot be rewritten safely keeps
 * its `syscall` (which still works in fast mode) and is reported with the reason.
 */
import { UNIKIT_ABI } from '../abi/index.js';
import type { Analysis, SyscallSite } from '../analyze/index.js';
import { parseElf } from '../elf/index.js';
import { addSegment, anyIn, codeReferences, planSegment } from './elf-edit.js';
import { JMP_REL32_LENGTH, type Window, planWindow } from './plan.js';
import { encodeTrampoline, jmpRel32 } from './trampoline.js';

/** Bump when the rewriter's output changes for the same input (images cached by it go stale). */
export const REWRITE_VERSION = 1;

export interface RewrittenSite {
  address: number;
  kind: Window['kind'];
  /** The patched window [start, end) and where its trampoline is. */
  start: number;
  end: number;
  trampoline: number;
}

export interface KeptSite {
  address: number;
  reason: string;
}

export interface RewriteResult {
  /** The rewritten ELF; the input itself when no site was rewritten. */
  elf: Buffer;
  sites: number;
  rewritten: RewrittenSite[];
  kept: KeptSite[];
  /** The trampoline segment, when one was added. */
  segment: { vaddr: number; size: number; phdrsMoved: boolean } | null;
}

export interface RewriteOptions {
  /** The address the trampolines call (UNIKIT_FAST_SYSCALL_ENTRY by default). */
  entry?: bigint;
  /** `file` names the program in errors. */
  file?: string;
}

/** Rewrites the sites `analysis` found in `elf` (the analysis must be of these very bytes). */
export function rewriteSyscalls(elf: Buffer, analysis: Analysis, o: RewriteOptions = {}): RewriteResult {
  const program = parseElf(elf, o.file ?? analysis.file);
  const entry = o.entry ?? BigInt(UNIKIT_ABI.FAST_SYSCALL_ENTRY);
  const kept: KeptSite[] = [];
  const keep = (site: SyscallSite, reason: string): void => void kept.push({ address: site.address, reason });

  // Windows first, in address order; a window may not overlap the one before it.
  const planned: { site: SyscallSite; window: Window }[] = [];
  let lastEnd = -1;
  for (const site of [...analysis.sites].sort((a, b) => a.address - b.address)) {
    if (!site.resolved) {
      keep(site, 'its number is not resolved statically');
      continue;
    }
    const plan = planWindow(site);
    if (!plan.ok) {
      keep(site, plan.reason);
      continue;
    }
    if (plan.window.start < lastEnd) {
      keep(site, 'its window overlaps the window of the site before it');
      continue;
    }
    planned.push({ site, window: plan.window });
    lastEnd = plan.window.end;
  }

  // Code entered only at a window's first instruction: nothing stored in the file may point
  // inside one, and no relocation may write into one.
  const starts = (site: SyscallSite, w: Window): number[] =>
    [...w.before.map((i) => i.address), site.address, ...w.after.map((i) => i.address)].filter((a) => a > w.start);
  const interior = new Set(planned.flatMap(({ site, window }) => starts(site, window)));
  const refs = codeReferences(elf, program, interior);
  const safe = planned.filter(({ site, window }) => {
    if (anyIn(refs.relocated, window.start - 7, window.end)) {
      keep(site, 'a relocation writes into the bytes around it');
      return false;
    }
    const stored = starts(site, window).find((a) => refs.stored.has(a));
    if (stored !== undefined) {
      keep(site, `the address 0x${stored.toString(16)} inside its window is stored in the program's data (an indirect branch may land there)`);
      return false;
    }
    return true;
  });

  if (safe.length === 0) {
    return { elf, sites: analysis.sites.length, rewritten: [], kept: sortKept(kept), segment: null };
  }
  const layout = planSegment(elf, program);
  const patched = Buffer.from(elf);
  const code: Buffer[] = [];
  let at = layout.vaddr + layout.codeStart;
  const rewritten: RewrittenSite[] = [];
  for (const { site, window } of safe) {
    let trampoline: Buffer;
    try {
      trampoline = encodeTrampoline(window, at, entry);
    } catch (e) {
      keep(site, `its neighbouring instructions cannot be moved (${(e as Error).message})`);
      continue;
    }
    const jump = jmpRel32(window.start, at);
    if (!jump) {
      keep(site, 'the trampoline area is out of reach of a 32-bit jump');
      continue;
    }
    jump.copy(patched, window.fileOffset);
    patched.fill(0xcc, window.fileOffset + JMP_REL32_LENGTH, window.fileOffset + (window.end - window.start)); // int3: never reached
    rewritten.push({ address: site.address, kind: window.kind, start: window.start, end: window.end, trampoline: at });
    code.push(trampoline);
    at += trampoline.length;
  }
  const body = Buffer.concat(code);
  const out = rewritten.length > 0 ? addSegment(patched, program, layout, body) : elf;
  return {
    elf: out,
    sites: analysis.sites.length,
    rewritten,
    kept: sortKept(kept),
    segment: rewritten.length > 0 ? { vaddr: layout.vaddr, size: layout.codeStart + body.length, phdrsMoved: layout.phdrsMoved } : null,
  };
}

function sortKept(kept: KeptSite[]): KeptSite[] {
  return kept.sort((a, b) => a.address - b.address);
}
