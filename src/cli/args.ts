/**
 * Command-line parsing for the unikit commands: options anywhere before "--", the program's own
 * arguments after it. Small on purpose: every command has a handful of options.
 */
import { UsageError } from './usage.js';

export interface OptionSpec {
  /** Long name without dashes ("mem"). */
  name: string;
  /** One-letter alias without the dash ("o"). */
  short?: string;
  /** Takes a value; repeatable ones collect every value. */
  kind: 'flag' | 'value' | 'list';
}

export interface ParsedArgs {
  positionals: string[];
  flags: Set<string>;
  values: Map<string, string>;
  lists: Map<string, string[]>;
  /** Everything after "--"; undefined when there was no "--". */
  rest: string[] | undefined;
}

export function parseArgs(command: string, argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map(), lists: new Map(), rest: undefined };
  const find = (token: string): OptionSpec | undefined =>
    token.startsWith('--') ? specs.find((s) => s.name === token.slice(2)) : specs.find((s) => s.short !== undefined && s.short === token.slice(1));
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      out.positionals.push(token);
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const spec = find(name);
    if (!spec) throw new UsageError(`unknown option ${name} for \`unikit ${command}\` (see \`unikit help\`)`);
    if (spec.kind === 'flag') {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      out.flags.add(spec.name);
      continue;
    }
    let value: string;
    if (eq > 0) value = token.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${name} needs a value`);
      value = next;
      i++;
    }
    if (spec.kind === 'value') out.values.set(spec.name, value);
    else out.lists.set(spec.name, [...(out.lists.get(spec.name) ?? []), value]);
  }
  return out;
}

/** Exactly one positional argument, the thing the command works on. */
export function onePositional(command: string, parsed: ParsedArgs, what: string): string {
  const [first, ...extra] = parsed.positionals;
  if (first === undefined) throw new UsageError(`\`unikit ${command}\` needs ${what}`);
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}: put the program's own arguments after --`);
  return first;
}
