/**
 * Which bytes around a `syscall` site become the 5-byte `jmp rel32` to its trampoline. The
 * 2-byte instruction cannot hold the jump, so a window of whole neighbouring instructions on the
 * site's straight-line path is moved along with it: the `mov eax, imm32; syscall` pair when
 * there is one, else the fewest instructions before and after that give 5 bytes. Code may enter
 * the window only at its first instruction: a window whose later instructions are branch
 * targets (or function starts) is never chosen.
 */
import { Decoder, DecoderOptions, FlowControl, type Instruction } from 'iced-x86';
import type { SiteInstruction, SyscallSite } from '../analyze/index.js';

export const JMP_REL32_LENGTH = 5;

/** The instructions moved into one trampoline, and the window they leave behind. */
export interface Window {
  start: number;
  end: number;
  fileOffset: number;
  /** Moved instructions that run before the call, in order (the site itself excluded). */
  before: SiteInstruction[];
  after: SiteInstruction[];
  kind: 'mov-eax-pair' | 'relocated';
}

export type PlanResult = { ok: true; window: Window } | { ok: false; reason: string };

/** Picks the window for one site, or says why there is none. */
export function planWindow(site: SyscallSite): PlanResult {
  if (site.movEaxPair && site.before.length > 0) {
    const mov = site.before[site.before.length - 1] as SiteInstruction;
    if (mov.address === site.movEaxPair.address) {
      return { ok: true, window: { start: mov.address, end: site.address + site.length, fileOffset: mov.fileOffset, before: [mov], after: [], kind: 'mov-eax-pair' } };
    }
  }
  const before = contiguousBefore(site);
  const after = straightAfter(site);
  let best: Window | undefined;
  let bestCount = Infinity;
  for (let k = 0; k <= before.length; k++) {
    for (let m = 0; m <= after.length; m++) {
      const b = before.slice(before.length - k);
      const a = after.slice(0, m);
      const first = b[0] ?? null;
      const start = first ? first.address : site.address;
      const last = a[a.length - 1];
      const end = last ? last.address + last.length : site.address + site.length;
      if (end - start < JMP_REL32_LENGTH) continue;
      // Only the first instruction of the window may be entered from elsewhere.
      const interior = [...b.slice(1), ...(first ? [site] : []), ...a];
      if (interior.some((i) => i.branchTarget)) continue;
      const count = k + m;
      if (count < bestCount || (count === bestCount && best && a.length < best.after.length)) {
        best = { start, end, fileOffset: first ? first.fileOffset : site.fileOffset, before: b, after: a, kind: 'relocated' };
        bestCount = count;
      }
    }
  }
  if (best) return { ok: true, window: best };
  const room = windowRoom(before, after, site);
  return { ok: false, reason: room < JMP_REL32_LENGTH
    ? `too little room: ${room} bytes of straight-line code around it, a jump needs ${JMP_REL32_LENGTH}`
    : 'a branch lands inside every window of 5 bytes around it' };
}

/** The instructions just before the site, each followed directly by the next (no gap). */
function contiguousBefore(site: SyscallSite): SiteInstruction[] {
  const out: SiteInstruction[] = [];
  let next = site.address;
  for (let i = site.before.length - 1; i >= 0; i--) {
    const ins = site.before[i] as SiteInstruction;
    if (ins.address + ins.length !== next) break;
    out.unshift(ins);
    next = ins.address;
  }
  return out;
}

/**
 * The instructions after the site on its straight-line path: up to and including the first one
 * that does not simply fall through (a branch, call, return): what follows it may be other code.
 */
function straightAfter(site: SyscallSite): SiteInstruction[] {
  const out: SiteInstruction[] = [];
  let next = site.address + site.length;
  for (const ins of site.after) {
    if (ins.address !== next) break;
    out.push(ins);
    next += ins.length;
    const decoded = decodeOne(ins);
    const flow = decoded.flowControl;
    decoded.free();
    if (flow !== FlowControl.Next) break;
  }
  return out;
}

function windowRoom(before: SiteInstruction[], after: SiteInstruction[], site: SyscallSite): number {
  return before.reduce((n, i) => n + i.length, 0) + site.length + after.reduce((n, i) => n + i.length, 0);
}

/** Decodes one neighbouring instruction at its own address; the caller frees it. */
export function decodeOne(ins: SiteInstruction): Instruction {
  const decoder = new Decoder(64, Buffer.from(ins.bytes, 'hex'), DecoderOptions.None);
  decoder.ip = BigInt(ins.address);
  const decoded = decoder.decode();
  decoder.free();
  return decoded;
}
