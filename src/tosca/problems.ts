/** What is wrong in a TOSCA file, and where: file, line, column and the key path. */

export type KeyPath = readonly (string | number)[];

export interface Problem {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** The offending key's path: `topology_template.node_templates.web.properties.memory`, `policies[0]`. */
  path: string;
  message: string;
}

/** `a.b[0].c`: keys joined by dots, list indexes in brackets; keys with dots or spaces quoted. */
export function pathText(path: KeyPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(p)) out += out ? `.${p}` : p;
    else out += out ? `[${JSON.stringify(p)}]` : JSON.stringify(p);
  }
  return out;
}

/** `file:line:column: path: message`, the way compilers print, one line. */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A template that does not validate: every problem found, in file order. */
export class ToscaError extends Error {
  readonly code = 'TOSCA_INVALID';
  constructor(readonly problems: readonly Problem[]) {
    super(problems.length === 1 ? formatProblem(problems[0] as Problem) : `${problems.length} problems, the first: ${formatProblem(problems[0] as Problem)}`);
    this.name = 'ToscaError';
  }
}

export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
