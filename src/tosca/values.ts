/**
 * TOSCA values: the primitive types (string, integer, float, boolean, timestamp, version, range,
 * list, map, scalar-unit.size/time/frequency/bitrate), complex data types, and constraints.
 */
import type { KeyPath } from './problems.js';

export const PRIMITIVE_TYPES = [
  'string', 'integer', 'float', 'boolean', 'timestamp', 'null', 'version', 'range', 'list', 'map',
  'scalar-unit.size', 'scalar-unit.time', 'scalar-unit.frequency', 'scalar-unit.bitrate',
] as const;

export function isPrimitiveType(t: string): boolean {
  return (PRIMITIVE_TYPES as readonly string[]).includes(t);
}

const UNITS: Record<string, Record<string, number>> = {
  'scalar-unit.size': {
    b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4,
  },
  'scalar-unit.time': { d: 86400, h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 },
  'scalar-unit.frequency': { hz: 1, khz: 1e3, mhz: 1e6, ghz: 1e9 },
  'scalar-unit.bitrate': {
    bps: 1, kbps: 1e3, kibps: 1024, mbps: 1e6, mibps: 1024 ** 2, gbps: 1e9, gibps: 1024 ** 3, tbps: 1e12, tibps: 1024 ** 4,
  },
};

/** "64 MiB" → bytes (or seconds, hertz, bits/s); undefined when `text` is not a scalar of that kind. */
export function parseScalarUnit(kind: string, text: unknown): number | undefined {
  const units = UNITS[kind];
  if (!units || typeof text !== 'string') return undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*$/.exec(text);
  if (!m) return undefined;
  const f = units[(m[2] as string).toLowerCase()];
  return f === undefined ? undefined : Number(m[1]) * f;
}

export function unitNames(kind: string): string {
  const shown: Record<string, string> = { 'scalar-unit.size': 'B, kB, KiB, MB, MiB, GB, GiB', 'scalar-unit.time': 'd, h, m, s, ms, us, ns', 'scalar-unit.frequency': 'Hz, kHz, MHz, GHz', 'scalar-unit.bitrate': 'bps, Kbps, Mbps, Gbps' };
  return shown[kind] ?? '';
}

/** The spec of a value: a type name and, for list and map, the entry schema; with constraints. */
export interface ValueSpec {
  type: string;
  entry_schema?: ValueSpec;
  constraints?: unknown[];
}

/** What checkValue needs from the type registry: complex data types. */
export interface DataTypes {
  /** Property definitions of a complex data type (derived ones merged), or undefined when it has none. */
  dataProperties(name: string): Map<string, PropertySpec> | undefined;
  /** The primitive a data type derives from (its constraints included), or undefined. */
  dataBase(name: string): ValueSpec | undefined;
  isDataType(name: string): boolean;
}

export interface PropertySpec extends ValueSpec {
  required: boolean;
  default?: unknown;
  hasDefault: boolean;
}

export interface ValueIssue {
  path: KeyPath;
  message: string;
}

/** A TOSCA function call (`{get_input: x}` and friends), which the template resolves, not this module. */
export const FUNCTIONS = ['get_input', 'get_property', 'get_attribute', 'get_operation_output', 'get_nodes_of_type', 'get_artifact', 'concat', 'join', 'token'] as const;

export function functionName(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && (FUNCTIONS as readonly string[]).includes(keys[0] as string) ? keys[0] : undefined;
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : `${typeof v} ${JSON.stringify(v)}`);

/**
 * Problems of `value` against `spec`, with paths relative to `path`. Function calls inside are
 * left to `onFunction` (which returns their value when known, to be checked in turn).
 */
export function checkValue(value: unknown, spec: ValueSpec, path: KeyPath, types: DataTypes, onFunction?: (v: unknown, path: KeyPath) => unknown): ValueIssue[] {
  const issues: ValueIssue[] = [];
  const fn = functionName(value);
  if (fn) {
    const resolved = onFunction?.(value, path);
    if (resolved === undefined) return issues;
    value = resolved;
  }
  const t = spec.type;
  const bad = (why: string): ValueIssue[] => [...issues, { path, message: why }];
  switch (t) {
    case 'string':
      if (typeof value !== 'string') return bad(`expected a string, got ${describe(value)}`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad(`expected an integer, got ${describe(value)}`);
      break;
    case 'float':
      if (typeof value !== 'number') return bad(`expected a float, got ${describe(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return bad(`expected true or false, got ${describe(value)}`);
      break;
    case 'null':
      if (value !== null) return bad(`expected null, got ${describe(value)}`);
      break;
    case 'timestamp':
      if (!(value instanceof Date) && !(typeof value === 'string' && !Number.isNaN(Date.parse(value)))) return bad(`expected a timestamp, got ${describe(value)}`);
      break;
    case 'version':
      if (!(typeof value === 'number' || (typeof value === 'string' && /^\d+\.\d+(\.\d+)?(\.[A-Za-z0-9]+(-\d+)?)?$/.test(value)))) return bad(`expected a version like 1.2.3, got ${describe(value)}`);
      break;
    case 'range':
      if (!Array.isArray(value) || value.length !== 2 || !Number.isInteger(value[0]) || !(Number.isInteger(value[1]) || value[1] === 'UNBOUNDED') || (typeof value[1] === 'number' && value[1] < value[0])) {
        return bad(`expected a range [min, max] of integers (max may be UNBOUNDED), got ${describe(value)}`);
      }
      break;
    case 'list':
      if (!Array.isArray(value)) return bad(`expected a list, got ${describe(value)}`);
      if (spec.entry_schema) value.forEach((v, i) => issues.push(...checkValue(v, spec.entry_schema as ValueSpec, [...path, i], types, onFunction)));
      break;
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`expected a map, got ${describe(value)}`);
      if (spec.entry_schema) {
        for (const [k, v] of Object.entries(value)) issues.push(...checkValue(v, spec.entry_schema, [...path, k], types, onFunction));
      }
      break;
    default:
      if (t.startsWith('scalar-unit.')) {
        if (parseScalarUnit(t, value) === undefined) return bad(`expected a ${t} like ${t === 'scalar-unit.size' ? '"64 MiB"' : t === 'scalar-unit.time' ? '"30 s"' : '"1 GHz"'} (units: ${unitNames(t)}), got ${describe(value)}`);
        break;
      }
      if (!types.isDataType(t)) return bad(`unknown type ${JSON.stringify(t)}`);
      {
        const base = types.dataBase(t);
        if (base) {
          issues.push(...checkValue(value, base, path, types, onFunction));
          break;
        }
        const props = types.dataProperties(t) ?? new Map<string, PropertySpec>();
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(`expected a map of ${t}, got ${describe(value)}`);
        const given = value as Record<string, unknown>;
        for (const k of Object.keys(given)) {
          if (!props.has(k)) issues.push({ path: [...path, k], message: `${t} has no property ${JSON.stringify(k)}${suggest(k, [...props.keys()])}` });
        }
        for (const [k, p] of props) {
          if (k in given) issues.push(...checkValue(given[k], p, [...path, k], types, onFunction));
          else if (p.required && !p.hasDefault) issues.push({ path, message: `missing required property ${JSON.stringify(k)} of ${t}` });
        }
      }
  }
  if (issues.length === 0 && spec.constraints) {
    for (const c of spec.constraints) {
      const why = violates(value, c, t);
      if (why) issues.push({ path, message: why });
    }
  }
  return issues;
}

/** " (did you mean x?)" when a known name is close. */
export function suggest(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

export const CONSTRAINT_OPERATORS = [
  'equal', 'greater_than', 'greater_or_equal', 'less_than', 'less_or_equal', 'in_range', 'valid_values', 'length', 'min_length', 'max_length', 'pattern',
] as const;

/** Why a constraint clause is malformed, or undefined. */
export function badConstraint(c: unknown): string | undefined {
  if (typeof c !== 'object' || c === null || Array.isArray(c) || Object.keys(c).length !== 1) return 'a constraint is a map with one operator, e.g. {greater_or_equal: 1}';
  const [op, arg] = Object.entries(c)[0] as [string, unknown];
  if (!(CONSTRAINT_OPERATORS as readonly string[]).includes(op)) return `unknown constraint operator ${JSON.stringify(op)}${suggest(op, CONSTRAINT_OPERATORS)}`;
  if (op === 'in_range' && (!Array.isArray(arg) || arg.length !== 2)) return 'in_range takes a list of two values [min, max]';
  if (op === 'valid_values' && !Array.isArray(arg)) return 'valid_values takes a list';
  if (['length', 'min_length', 'max_length'].includes(op) && !(Number.isInteger(arg) && (arg as number) >= 0)) return `${op} takes a non-negative integer`;
  if (op === 'pattern') {
    if (typeof arg !== 'string') return 'pattern takes a string';
    try {
      new RegExp(arg);
    } catch {
      return `pattern ${JSON.stringify(arg)} is not a valid regular expression`;
    }
  }
  return undefined;
}

/** Comparable form: scalar units normalized, versions as padded text. */
function comparable(v: unknown, type: string): number | string | undefined {
  if (type.startsWith('scalar-unit.')) return parseScalarUnit(type, v);
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.getTime();
  return undefined;
}

function size(v: unknown): number | undefined {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length;
  return undefined;
}

/** Why `value` fails constraint `c`, or undefined. */
function violates(value: unknown, c: unknown, type: string): string | undefined {
  if (badConstraint(c)) return undefined; // reported where the constraint is defined
  const [op, arg] = Object.entries(c as Record<string, unknown>)[0] as [string, unknown];
  const v = comparable(value, type);
  const show = JSON.stringify(value);
  const cmp = (a: unknown): number | string | undefined => comparable(a, type);
  const lt = (a: number | string | undefined, b: number | string | undefined): boolean => a !== undefined && b !== undefined && a < b;
  switch (op) {
    case 'equal':
      return JSON.stringify(value) === JSON.stringify(arg) || (v !== undefined && v === cmp(arg)) ? undefined : `${show} must equal ${JSON.stringify(arg)}`;
    case 'greater_than':
      return lt(cmp(arg), v) ? undefined : `${show} must be greater than ${JSON.stringify(arg)}`;
    case 'greater_or_equal':
      return lt(v, cmp(arg)) ? `${show} must be at least ${JSON.stringify(arg)}` : undefined;
    case 'less_than':
      return lt(v, cmp(arg)) ? undefined : `${show} must be less than ${JSON.stringify(arg)}`;
    case 'less_or_equal':
      return lt(cmp(arg), v) ? `${show} must be at most ${JSON.stringify(arg)}` : undefined;
    case 'in_range': {
      const [lo, hi] = arg as [unknown, unknown];
      const tooLow = lt(v, cmp(lo));
      const tooHigh = hi !== 'UNBOUNDED' && lt(cmp(hi), v);
      return tooLow || tooHigh ? `${show} must be in the range [${JSON.stringify(lo)}, ${JSON.stringify(hi)}]` : undefined;
    }
    case 'valid_values':
      return (arg as unknown[]).some((a) => JSON.stringify(a) === JSON.stringify(value)) ? undefined : `${show} is not one of ${(arg as unknown[]).map((a) => typeof a === 'string' ? a : JSON.stringify(a)).join(', ')}`;
    case 'length':
      return size(value) === arg ? undefined : `${show} must have length ${String(arg)}`;
    case 'min_length':
      return (size(value) ?? 0) >= (arg as number) ? undefined : `${show} must have length at least ${String(arg)}`;
    case 'max_length':
      return (size(value) ?? 0) <= (arg as number) ? undefined : `${show} must have length at most ${String(arg)}`;
    case 'pattern':
      return typeof value === 'string' && new RegExp(`^(?:${arg as string})$`).test(value) ? undefined : `${show} does not match the pattern ${JSON.stringify(arg)}`;
    default:
      return undefined;
  }
}
