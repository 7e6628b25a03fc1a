/**
 * How `unikit analyze` shows an Analysis: a text report for people (the syscall set with what
 * unikit does with each call, then what could not be resolved and where), and the JSON form for
 * tools, which is the Analysis object itself (its `format` field versions the shape).
 */
import type { Analysis, SyscallSite } from './analysis.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The text report of `unikit analyze <elf>`, ending with a newline. */
export function formatAnalysis(a: Analysis): string {
  const out: string[] = [];
  const resolved = a.sites.length - a.unresolvedSites;
  out.push(`${a.file}: ${a.kind === 'exec' ? 'static executable' : 'static PIE'}${a.stripped ? ', stripped' : ''}`);
  out.push(`  code:      ${count(a.code.instructions)} instructions in ${a.code.regions.map((r) => r.name).join(', ')}` +
    (a.code.invalid > 0 ? `, ${count(a.code.invalid)} undecodable` : '') +
    (a.code.misalignedTargets > 0 ? `, ${count(a.code.misalignedTargets)} branch targets inside other instructions (data in code?)` : ''));
  out.push(`  functions: ${count(a.functions.total)} (${count(a.functions.fromSymbols)} from symbols, ${count(a.functions.fromCallTargets)} from call targets and the entry point)`);
  out.push(`  sites:     ${a.sites.length} syscall instructions, ${resolved} resolved, ${a.unresolvedSites} not fully resolved` +
    `; ${a.unsupported.length} unsupported (int 0x80, sysenter)`);
  out.push(`  analyzed in ${a.durationMs} ms`);
  out.push('');

  const by = (s: string): number => a.syscalls.filter((c) => c.support === s).length;
  out.push(`syscalls: ${a.syscalls.length} (${by('implemented')} implemented, ${by('ignored')} ignored as no-ops, ${by('lacking')} lacking)`);
  if (a.syscalls.length > 0) {
    const width = Math.max(4, ...a.syscalls.map((s) => s.name.length));
    out.push(`  ${'nr'.padStart(4)}  ${'name'.padEnd(width)}  ${'unikit'.padEnd(11)}  sites`);
    for (const s of a.syscalls) {
      const support = s.support === 'lacking' ? 'LACKING' : s.support;
      out.push(`  ${String(s.number).padStart(4)}  ${s.name.padEnd(width)}  ${support.padEnd(11)}  ${s.sites.length}`);
    }
  }
  if (a.lacking.length > 0) {
    out.push('');
    out.push('lacking in unikit (the program fails with ENOSYS if it reaches them):');
    out.push(...wrap(a.lacking, 96).map((line) => `  ${line}`));
  }

  const wrappers = wrapperSummary(a.sites);
  if (wrappers.length > 0) {
    out.push('');
    out.push('numbers found at the callers of wrapper functions:');
    for (const w of wrappers) out.push(`  ${w.name}: ${w.sites} site${w.sites === 1 ? '' : 's'}, ${w.numbers} number${w.numbers === 1 ? '' : 's'}`);
  }

  const unresolved = a.sites.filter((s) => !s.resolved);
  out.push('');
  if (unresolved.length === 0) {
    out.push('unresolved sites: none (every site\'s number is known)');
  } else {
    out.push(`unresolved sites: ${unresolved.length} (the set above may miss what these call)`);
    for (const s of unresolved) {
      const partly = s.numbers.length > 0 ? `, partly resolved to ${s.numbers.join(', ')}` : '';
      out.push(`  ${hex(s.address)} in ${s.function ?? 'unknown function'}${partly}`);
      for (const u of s.unknown.slice(0, 3)) out.push(`      ${hex(u.address)}: ${u.why}`);
      if (s.unknown.length > 3) out.push(`      ... and ${s.unknown.length - 3} more paths`);
    }
  }
  if (a.unsupported.length > 0) {
    out.push('');
    out.push(`unsupported instructions: ${a.unsupported.length} (32-bit system calls unikit does not serve)`);
    for (const u of a.unsupported) out.push(`  ${hex(u.address)} in ${u.function ?? 'unknown function'}: ${u.instruction}`);
  }
  return out.join('\n') + '\n';
}

/** The JSON of `unikit analyze <elf> --json`: the Analysis as is, indented, ending with a newline. */
export function formatAnalysisJson(a: Analysis): string {
  return JSON.stringify(a, null, 2) + '\n';
}

interface WrapperLine {
  name: string;
  sites: number;
  numbers: number;
}

/** Each function whose callers supplied some site's number, with how much it accounts for. */
function wrapperSummary(sites: readonly SyscallSite[]): WrapperLine[] {
  const lines = new Map<string, { sites: number; numbers: Set<number> }>();
  for (const s of sites) {
    if (s.through.length === 0 || s.function === null) continue;
    const line = lines.get(s.function) ?? { sites: 0, numbers: new Set<number>() };
    line.sites++;
    for (const n of s.numbers) line.numbers.add(n);
    lines.set(s.function, line);
  }
  return [...lines.entries()].map(([name, l]) => ({ name, sites: l.sites, numbers: l.numbers.size }));
}

/** Joins `words` with ", " into lines of at most `width` characters. */
function wrap(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    const next = line === '' ? w : `${line}, ${w}`;
    if (next.length > width && line !== '') {
      lines.push(`${line},`);
      line = w;
    } else {
      line = next;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
