/**
 * `analyzeElf`: the whole analysis of one static x86-64 program. Decodes its code, finds every
 * system-call instruction, resolves each `syscall` site's number by backward data-flow (through
 * libc wrappers' callers), and says for each number found whether unikit's kernel implements it.
 * The result is plain data (JSON-serializable) for the CLI, the kernel configuration and the
 * binary rewriter.
 */
import { readFileSync } from 'node:fs';
import { syscallTable } from '../abi/index.js';
import { hasSymbolTable, parseElf, readFunctionSymbols, readSectionsIfValid, type FunctionSymbol } from '../elf/index.js';
import { BackwardDataFlow, DEFAULT_SEARCH_BUDGET, type UnknownPath } from './dataflow.js';
import { codeRegions, Disassembly, type CodeRegion, type UnsupportedKind } from './decode.js';
import { RAX } from './effects.js';
import { AddressReferences, dataRanges, type DataRange } from './references.js';
import { FunctionIndex, functionLabel } from './functions.js';
import { siteNeighbourhood, type SiteNeighbourhood } from './sites.js';
import { kernelSupport, type KernelSupport, type SyscallSupport } from './support.js';

export const ANALYSIS_FORMAT = 1;

/** One `syscall` instruction and what it may call. */
export interface SyscallSite extends SiteNeighbourhood {
  address: number;
  fileOffset: number;
  length: number;
  /** The containing function's label (symbol or sub_<hex>), null before the first known start. */
  function: string | null;
  /** The syscall numbers found, ascending. */
  numbers: number[];
  /** True when every path to the site gives a constant: `numbers` is all the site can call. */
  resolved: boolean;
  /** The paths that did not give a constant, with where they stopped. */
  unknown: UnknownPath[];
  /** Functions whose callers supplied the number (the wrapper holding the site, and any above). */
  through: string[];
}

export interface SyscallUse {
  number: number;
  /** The Linux name, or `nr_<n>` for a number Linux does not define. */
  name: string;
  support: SyscallSupport;
  /** Addresses of the sites that may make this call. */
  sites: number[];
}

export interface UnsupportedSite {
  address: number;
  fileOffset: number;
  instruction: UnsupportedKind;
  function: string | null;
}

export interface Analysis {
  format: typeof ANALYSIS_FORMAT;
  file: string;
  kind: 'exec' | 'static-pie';
  entry: number;
  /** True when the file has no .symtab: functions are found from call targets alone. */
  stripped: boolean;
  /** `misalignedTargets`: direct branches into the middle of a decoded instruction (code the sweep may have missed). */
  code: { regions: CodeRegion[]; instructions: number; invalid: number; misalignedTargets: number };
  functions: { total: number; fromSymbols: number; fromCallTargets: number };
  /** The syscall set: every number some site may use, ascending. */
  syscalls: SyscallUse[];
  sites: SyscallSite[];
  /** Number of sites with at least one unknown path. */
  unresolvedSites: number;
  /** `int 0x80` and `sysenter`: 32-bit entries unikit does not serve. */
  unsupported: UnsupportedSite[];
  /** Names in the set that unikit's kernel lacks: the program fails if it reaches them. */
  lacking: string[];
  durationMs: number;
}

export interface AnalyzeOptions {
  /** How the file is named in the result (defaults to the path, or "<buffer>"). */
  name?: string;
  /** Overrides the kernel support table (tests). */
  support?: KernelSupport;
  /** States one site's search may visit (see DEFAULT_SEARCH_BUDGET). */
  searchBudget?: number;
}

/** Analyzes an ELF file or its bytes. Throws an ElfError (src/elf) when it is not a static x86-64 program. */
export function analyzeElf(input: string | Buffer, options: AnalyzeOptions = {}): Analysis {
  const started = performance.now();
  const file = options.name ?? (typeof input === 'string' ? input : '<buffer>');
  const buf = typeof input === 'string' ? readFileSync(input) : input;
  const program = parseElf(buf, file);
  // The program headers (checked above) are enough to analyze a program: a section table that
  // cannot be read costs precision (whole segments decoded, no names), not the analysis.
  const sections = readSectionsIfValid(buf, file);
  const found = findSites(
    {
      file: buf, regions: codeRegions(program, sections), data: dataRanges(program, sections),
      symbols: readFunctionSymbols(buf, sections), entry: program.entry,
    },
    options.searchBudget,
  );
  const syscalls = syscallSet(found.sites, options.support ?? kernelSupport());
  return {
    format: ANALYSIS_FORMAT,
    file,
    kind: program.kind,
    entry: program.entry,
    stripped: !hasSymbolTable(sections),
    code: found.code,
    functions: found.functions,
    syscalls,
    sites: found.sites,
    unresolvedSites: found.sites.filter((s) => !s.resolved).length,
    unsupported: found.unsupported,
    lacking: syscalls.filter((s) => s.support === 'lacking').map((s) => s.name),
    durationMs: Math.round(performance.now() - started),
  };
}

/** The code to analyze: bytes holding the regions (a whole file, or bare code in tests). */
export interface CodeInput {
  file: Buffer;
  regions: CodeRegion[];
  /** Where pointers to functions may be stored (see references.ts). */
  data: DataRange[];
  symbols: FunctionSymbol[];
  entry: number;
}

export interface FoundSites {
  sites: SyscallSite[];
  unsupported: UnsupportedSite[];
  code: Analysis['code'];
  functions: Analysis['functions'];
}

/** Decodes the regions and resolves every syscall site: the part of analysis that is not ELF. */
export function findSites(input: CodeInput, searchBudget = DEFAULT_SEARCH_BUDGET): FoundSites {
  const code = new Disassembly(input.file, input.regions);
  try {
    const functions = new FunctionIndex(code, input.symbols, input.entry);
    const references = new AddressReferences(input.file, input.regions, input.data);
    const dataflow = new BackwardDataFlow(code, functions, references, searchBudget);
    const labelAt = (address: number): string | null => {
      const f = functions.containing(address);
      return f ? functionLabel(f) : null;
    };
    const sites: SyscallSite[] = code.syscallSites.map((index) => {
      const address = code.address[index] as number;
      const value = dataflow.valueBefore(index, RAX);
      return {
        address,
        fileOffset: code.fileOffset(index),
        length: code.length[index] as number,
        function: labelAt(address),
        numbers: [...value.values].sort((a, b) => a - b),
        resolved: value.unknown.length === 0,
        unknown: value.unknown,
        through: [...value.throughCallers].sort((a, b) => a - b).map((start) => functionLabel({ start, name: functions.nameOf(start) })),
        ...siteNeighbourhood(code, functions, index),
      };
    });
    const unsupported: UnsupportedSite[] = code.unsupportedSites.map(({ index, kind }) => ({
      address: code.address[index] as number,
      fileOffset: code.fileOffset(index),
      instruction: kind,
      function: labelAt(code.address[index] as number),
    }));
    return {
      sites,
      unsupported,
      code: { regions: [...code.regions], instructions: code.count, invalid: code.invalidCount, misalignedTargets: code.misalignedTargets },
      functions: { total: functions.starts.length, fromSymbols: functions.fromSymbols, fromCallTargets: functions.fromCallTargets },
    };
  } finally {
    code.dispose();
  }
}

/** Groups the sites' numbers into the syscall set, named and checked against the kernel. */
function syscallSet(sites: readonly SyscallSite[], support: KernelSupport): SyscallUse[] {
  const byNumber = new Map<number, number[]>();
  for (const site of sites) {
    for (const n of site.numbers) {
      const list = byNumber.get(n);
      if (list) list.push(site.address);
      else byNumber.set(n, [site.address]);
    }
  }
  const names = syscallTable();
  return [...byNumber.entries()]
    .sort(([a], [b]) => a - b)
    .map(([number, siteAddresses]) => {
      const name = names.name(number) ?? `nr_${number}`;
      return { number, name, support: support.of(name), sites: siteAddresses };
    });
}
