/**
 * The type system of a TOSCA service: node, capability, relationship, policy and data types
 * from every loaded file, with derived_from chains, merged property, attribute, capability and
 * requirement definitions, and the checks of the definitions themselves.
 */
import type { KeyPath, Problem } from './problems.js';
import type { SourceFile } from './source.js';
import { type DataTypes, type PropertySpec, type ValueSpec, badConstraint, checkValue, isPrimitiveType, suggest } from './values.js';

export const TYPE_KINDS = ['node', 'capability', 'relationship', 'policy', 'data'] as const;
export type TypeKind = (typeof TYPE_KINDS)[number];

export const TYPE_SECTIONS: Record<TypeKind, string> = {
  node: 'node_types', capability: 'capability_types', relationship: 'relationship_types', policy: 'policy_types', data: 'data_types',
};

const KIND_WORD: Record<TypeKind, string> = { node: 'node type', capability: 'capability type', relationship: 'relationship type', policy: 'policy type', data: 'data type' };

/** Keys each kind of type definition may have. */
const TYPE_KEYS: Record<TypeKind, readonly string[]> = {
  node: ['derived_from', 'version', 'metadata', 'description', 'properties', 'attributes', 'requirements', 'capabilities', 'interfaces', 'artifacts'],
  capability: ['derived_from', 'version', 'metadata', 'description', 'properties', 'attributes', 'valid_source_types'],
  relationship: ['derived_from', 'version', 'metadata', 'description', 'properties', 'attributes', 'interfaces', 'valid_target_types'],
  policy: ['derived_from', 'version', 'metadata', 'description', 'properties', 'targets', 'triggers'],
  data: ['derived_from', 'version', 'metadata', 'description', 'properties', 'constraints', 'key_schema', 'entry_schema'],
};

const PROPERTY_KEYS = ['type', 'description', 'required', 'default', 'value', 'status', 'constraints', 'key_schema', 'entry_schema', 'metadata', 'external-schema'];

export interface TypeDef {
  kind: TypeKind;
  name: string;
  src: SourceFile;
  /** Where the definition is in its file: [section, name]. */
  path: KeyPath;
  raw: Record<string, unknown>;
}

export interface PropertyDef extends PropertySpec {
  /** The definition's place, for problems about the definition itself. */
  src: SourceFile;
  path: KeyPath;
}

export interface CapabilityDef {
  type: string;
  properties: Record<string, unknown>;
}

export interface RequirementDef {
  capability: string;
  node?: string;
  relationship?: string;
  occurrences?: [number, number];
}

export const isMapValue = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export class TypeRegistry implements DataTypes {
  private readonly defs = new Map<TypeKind, Map<string, TypeDef>>(TYPE_KINDS.map((k) => [k, new Map()]));

  /** Registers a definition; a second definition of a name from another file is a problem. */
  add(def: TypeDef, problems: Problem[]): void {
    const existing = this.defs.get(def.kind)?.get(def.name);
    if (existing) {
      if (existing.src.file === def.src.file) return;
      const at = existing.src.pos(existing.path);
      problems.push(def.src.problem(def.path, `${KIND_WORD[def.kind]} ${def.name} is already defined at ${existing.src.file}:${at.line}:${at.column}`));
      return;
    }
    this.defs.get(def.kind)?.set(def.name, def);
  }

  get(kind: TypeKind, name: string): TypeDef | undefined {
    return this.defs.get(kind)?.get(name);
  }

  names(kind: TypeKind): string[] {
    return [...(this.defs.get(kind)?.keys() ?? [])];
  }

  /** "unknown node type X (did you mean Y?)". */
  unknown(kind: TypeKind, name: unknown): string {
    return `unknown ${KIND_WORD[kind]} ${JSON.stringify(name)}${typeof name === 'string' ? suggest(name, this.names(kind)) : ''}`;
  }

  /** The definitions from `name` up to its root, leaf first; stops before a cycle or unknown parent. */
  chain(kind: TypeKind, name: string): TypeDef[] {
    const out: TypeDef[] = [];
    const seen = new Set<string>();
    let cur: string | undefined = name;
    while (cur !== undefined && !seen.has(cur)) {
      seen.add(cur);
      const d = this.get(kind, cur);
      if (!d) break;
      out.push(d);
      cur = typeof d.raw.derived_from === 'string' ? d.raw.derived_from : undefined;
    }
    return out;
  }

  /** True when type `name` is `base` or derives from it. */
  derivesFrom(kind: TypeKind, name: string, base: string): boolean {
    return this.chain(kind, name).some((d) => d.name === base);
  }

  private section(kind: TypeKind, name: string, key: string): { def: TypeDef; value: unknown }[] {
    return this.chain(kind, name).reverse().filter((d) => d.raw[key] !== undefined).map((d) => ({ def: d, value: d.raw[key] }));
  }

  /** Property (or attribute) definitions of a type, its ancestors' first, refinements merged. */
  properties(kind: TypeKind, name: string, key: 'properties' | 'attributes' = 'properties'): Map<string, PropertyDef> {
    const out = new Map<string, PropertyDef>();
    for (const { def, value } of this.section(kind, name, key)) {
      if (!isMapValue(value)) continue;
      for (const [p, raw] of Object.entries(value)) {
        if (!isMapValue(raw)) continue;
        const prev = out.get(p);
        const type = typeof raw.type === 'string' ? raw.type : prev?.type ?? 'string';
        const entry = raw.entry_schema !== undefined ? valueSpec(raw.entry_schema) : prev?.entry_schema;
        const spec: PropertyDef = {
          type,
          required: typeof raw.required === 'boolean' ? raw.required : prev?.required ?? (key === 'properties'),
          hasDefault: 'default' in raw || (prev?.hasDefault ?? false),
          default: 'default' in raw ? raw.default : prev?.default,
          constraints: [...(prev?.constraints ?? []), ...(Array.isArray(raw.constraints) ? raw.constraints : [])],
          src: def.src,
          path: [...def.path, key, p],
        };
        if (entry) spec.entry_schema = entry;
        out.set(p, spec);
      }
    }
    return out;
  }

  /** Capability definitions of a node type, by name. */
  capabilities(nodeType: string): Map<string, CapabilityDef> {
    const out = new Map<string, CapabilityDef>();
    for (const { value } of this.section('node', nodeType, 'capabilities')) {
      if (!isMapValue(value)) continue;
      for (const [c, raw] of Object.entries(value)) {
        if (typeof raw === 'string') out.set(c, { type: raw, properties: {} });
        else if (isMapValue(raw)) {
          const type = typeof raw.type === 'string' ? raw.type : out.get(c)?.type;
          if (type) out.set(c, { type, properties: isMapValue(raw.properties) ? raw.properties : {} });
        }
      }
    }
    return out;
  }

  /** Requirement definitions of a node type, by name. */
  requirements(nodeType: string): Map<string, RequirementDef> {
    const out = new Map<string, RequirementDef>();
    for (const { value } of this.section('node', nodeType, 'requirements')) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        if (!isMapValue(item) || Object.keys(item).length !== 1) continue;
        const [r, raw] = Object.entries(item)[0] as [string, unknown];
        if (typeof raw === 'string') out.set(r, { capability: raw });
        else if (isMapValue(raw) && typeof raw.capability === 'string') {
          const def: RequirementDef = { capability: raw.capability };
          if (typeof raw.node === 'string') def.node = raw.node;
          if (typeof raw.relationship === 'string') def.relationship = raw.relationship;
          else if (isMapValue(raw.relationship) && typeof raw.relationship.type === 'string') def.relationship = raw.relationship.type;
          const occ = occurrences(raw.occurrences);
          if (occ) def.occurrences = occ;
          out.set(r, def);
        }
      }
    }
    return out;
  }

  /** The nearest `key` list (targets of a policy type, valid_target_types of a relationship type). */
  nearestList(kind: TypeKind, name: string, key: string): string[] | undefined {
    for (const d of this.chain(kind, name)) {
      if (Array.isArray(d.raw[key])) return (d.raw[key] as unknown[]).filter((s): s is string => typeof s === 'string');
    }
    return undefined;
  }

  // DataTypes, for checkValue.
  isDataType(name: string): boolean {
    return this.get('data', name) !== undefined;
  }

  dataBase(name: string): ValueSpec | undefined {
    const chain = this.chain('data', name);
    const root = chain[chain.length - 1];
    const base = root && typeof root.raw.derived_from === 'string' ? root.raw.derived_from : undefined;
    if (!base || !isPrimitiveType(base)) return undefined;
    const spec: ValueSpec = { type: base, constraints: chain.flatMap((d) => (Array.isArray(d.raw.constraints) ? d.raw.constraints : [])) };
    const entry = chain.find((d) => d.raw.entry_schema !== undefined)?.raw.entry_schema;
    if (entry !== undefined) spec.entry_schema = valueSpec(entry);
    return spec;
  }

  dataProperties(name: string): Map<string, PropertySpec> {
    return this.properties('data', name);
  }

  /** Problems in the definitions: unknown parents, cycles, bad property definitions and so on. */
  checkDefinitions(): Problem[] {
    const problems: Problem[] = [];
    for (const kind of TYPE_KINDS) {
      for (const d of this.defs.get(kind)?.values() ?? []) problems.push(...this.checkDefinition(d));
    }
    return problems;
  }

  private checkDefinition(d: TypeDef): Problem[] {
    const problems: Problem[] = [];
    const at = (rel: KeyPath, message: string): void => void problems.push(d.src.problem([...d.path, ...rel], message));
    for (const k of Object.keys(d.raw)) {
      if (!TYPE_KEYS[d.kind].includes(k)) at([k], `a ${KIND_WORD[d.kind]} has no key ${JSON.stringify(k)}${suggest(k, TYPE_KEYS[d.kind])}`);
    }
    const parent = d.raw.derived_from;
    if (parent !== undefined) {
      if (typeof parent !== 'string') at(['derived_from'], 'derived_from must be a type name');
      else if (!this.get(d.kind, parent) && !(d.kind === 'data' && isPrimitiveType(parent))) at(['derived_from'], this.unknown(d.kind, parent));
      else {
        // A cycle: following derived_from comes back to this type.
        const seen = new Set<string>([d.name]);
        let cur: unknown = parent;
        while (typeof cur === 'string') {
          if (seen.has(cur)) {
            if (cur === d.name) at(['derived_from'], `derived_from makes a cycle: ${[...seen, cur].join(' → ')}`);
            break;
          }
          seen.add(cur);
          cur = this.get(d.kind, cur)?.raw.derived_from;
        }
      }
    }
    for (const key of ['properties', 'attributes'] as const) {
      const section = d.raw[key];
      if (section === undefined || section === null) continue;
      if (!isMapValue(section)) {
        at([key], `${key} must be a map of definitions`);
        continue;
      }
      for (const [p, raw] of Object.entries(section)) problems.push(...this.checkPropertyDefinition(d.src, [...d.path, key, p], raw, key === 'attributes'));
    }
    if (d.kind === 'node') {
      const caps = d.raw.capabilities;
      if (caps !== undefined && caps !== null) {
        if (!isMapValue(caps)) at(['capabilities'], 'capabilities must be a map of name: capability type');
        else {
          for (const [c, raw] of Object.entries(caps)) {
            const type = typeof raw === 'string' ? raw : isMapValue(raw) ? raw.type : undefined;
            if (typeof type !== 'string') at(['capabilities', c], 'a capability definition needs a type');
            else if (!this.get('capability', type)) at(['capabilities', c, ...(typeof raw === 'string' ? [] : ['type'])], this.unknown('capability', type));
          }
        }
      }
      const reqs = d.raw.requirements;
      if (reqs !== undefined && reqs !== null) {
        if (!Array.isArray(reqs)) at(['requirements'], 'requirements must be a list of single-key maps');
        else {
          reqs.forEach((item, i) => {
            if (!isMapValue(item) || Object.keys(item).length !== 1) {
              at(['requirements', i], 'each requirement definition is a map with one key, the requirement name');
              return;
            }
            const [r, raw] = Object.entries(item)[0] as [string, unknown];
            const rel: KeyPath = ['requirements', i, r];
            const cap = typeof raw === 'string' ? raw : isMapValue(raw) ? raw.capability : undefined;
            if (typeof cap !== 'string') {
              at(rel, 'a requirement definition needs a capability type');
              return;
            }
            if (!this.get('capability', cap)) at(typeof raw === 'string' ? rel : [...rel, 'capability'], this.unknown('capability', cap));
            if (isMapValue(raw)) {
              if (raw.node !== undefined && (typeof raw.node !== 'string' || !this.get('node', raw.node))) at([...rel, 'node'], this.unknown('node', raw.node));
              const relType = isMapValue(raw.relationship) ? raw.relationship.type : raw.relationship;
              if (relType !== undefined && (typeof relType !== 'string' || !this.get('relationship', relType))) at([...rel, 'relationship'], this.unknown('relationship', relType));
              if (raw.occurrences !== undefined && !occurrences(raw.occurrences)) at([...rel, 'occurrences'], 'occurrences is [min, max], max an integer or UNBOUNDED');
            }
          });
        }
      }
    }
    for (const [key, kind] of [['targets', 'node'], ['valid_target_types', 'capability'], ['valid_source_types', 'node']] as const) {
      const list = d.raw[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) at([key], `${key} must be a list of type names`);
      else list.forEach((t, i) => {
        if (typeof t !== 'string' || !this.get(kind, t)) at([key, i], this.unknown(kind, t));
      });
    }
    if (d.kind === 'policy' && d.raw.triggers !== undefined) problems.push(...checkTriggers(d.src, [...d.path, 'triggers'], d.raw.triggers));
    if (d.kind === 'data' && Array.isArray(d.raw.constraints)) {
      d.raw.constraints.forEach((c, i) => {
        const why = badConstraint(c);
        if (why) at(['constraints', i], why);
      });
    }
    return problems;
  }

  /** Problems of one property (or attribute) definition, its default included. */
  checkPropertyDefinition(src: SourceFile, path: KeyPath, raw: unknown, attribute = false, inheritedType?: string): Problem[] {
    const problems: Problem[] = [];
    const at = (rel: KeyPath, message: string): void => void problems.push(src.problem([...path, ...rel], message));
    if (!isMapValue(raw)) {
      at([], `a ${attribute ? 'attribute' : 'property'} definition is a map with at least a type`);
      return problems;
    }
    for (const k of Object.keys(raw)) {
      if (!PROPERTY_KEYS.includes(k)) at([k], `a ${attribute ? 'attribute' : 'property'} definition has no key ${JSON.stringify(k)}${suggest(k, PROPERTY_KEYS)}`);
    }
    const type = raw.type ?? inheritedType;
    if (typeof type !== 'string') {
      if (raw.type === undefined && path.includes('properties') === false && attribute) return problems;
      at(raw.type === undefined ? [] : ['type'], raw.type === undefined ? 'the definition needs a type' : 'type must be a type name');
      return problems;
    }
    if (!isPrimitiveType(type) && !this.isDataType(type)) {
      at(['type'], `unknown type ${JSON.stringify(type)}${suggest(type, [...this.names('data'), ...['string', 'integer', 'float', 'boolean', 'list', 'map', 'scalar-unit.size', 'scalar-unit.time', 'range', 'version', 'timestamp']])}`);
      return problems;
    }
    if (raw.required !== undefined && typeof raw.required !== 'boolean') at(['required'], 'required must be true or false');
    let constraintsOk = true;
    if (raw.constraints !== undefined) {
      if (!Array.isArray(raw.constraints)) {
        at(['constraints'], 'constraints must be a list');
        constraintsOk = false;
      } else raw.constraints.forEach((c, i) => {
        const why = badConstraint(c);
        if (why) {
          at(['constraints', i], why);
          constraintsOk = false;
        }
      });
    }
    if (raw.entry_schema !== undefined) {
      if (type !== 'list' && type !== 'map') at(['entry_schema'], 'entry_schema is for list and map types');
      const entry = typeof raw.entry_schema === 'string' ? { type: raw.entry_schema } : raw.entry_schema;
      problems.push(...this.checkPropertyDefinition(src, [...path, 'entry_schema'], entry).filter((p) => !p.message.startsWith('a property definition has no key')));
    }
    if ('default' in raw && constraintsOk) {
      const spec: ValueSpec = { type, constraints: Array.isArray(raw.constraints) ? raw.constraints : [] };
      if (raw.entry_schema !== undefined) spec.entry_schema = valueSpec(raw.entry_schema);
      for (const issue of checkValue(raw.default, spec, [...path, 'default'], this)) at(issue.path.slice(path.length), `default: ${issue.message}`);
    }
    return problems;
  }
}

/** A value spec from an entry_schema: "string" or {type, constraints, entry_schema}. */
export function valueSpec(raw: unknown): ValueSpec {
  if (typeof raw === 'string') return { type: raw };
  if (isMapValue(raw)) {
    const spec: ValueSpec = { type: typeof raw.type === 'string' ? raw.type : 'string' };
    if (Array.isArray(raw.constraints)) spec.constraints = raw.constraints;
    if (raw.entry_schema !== undefined) spec.entry_schema = valueSpec(raw.entry_schema);
    return spec;
  }
  return { type: 'string' };
}

function occurrences(v: unknown): [number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 2 || !Number.isInteger(v[0]) || (v[0] as number) < 0) return undefined;
  if (v[1] === 'UNBOUNDED') return [v[0] as number, Infinity];
  if (!Number.isInteger(v[1]) || (v[1] as number) < (v[0] as number)) return undefined;
  return [v[0] as number, v[1] as number];
}

export const ACTIVITIES = ['call_operation', 'set_state', 'delegate', 'inline'];
const TRIGGER_KEYS = ['description', 'event', 'schedule', 'target_filter', 'condition', 'action'];

/** Problems of a triggers section (policy types and policies): event and action each trigger needs. */
export function checkTriggers(src: SourceFile, path: KeyPath, triggers: unknown): Problem[] {
  const problems: Problem[] = [];
  if (!isMapValue(triggers)) return [src.problem(path, 'triggers must be a map of name: trigger definition')];
  for (const [name, t] of Object.entries(triggers)) {
    const at = (rel: KeyPath, message: string): void => void problems.push(src.problem([...path, name, ...rel], message));
    if (!isMapValue(t)) {
      at([], 'a trigger is a map with an event and an action');
      continue;
    }
    for (const k of Object.keys(t)) if (!TRIGGER_KEYS.includes(k)) at([k], `a trigger has no key ${JSON.stringify(k)}${suggest(k, TRIGGER_KEYS)}`);
    const event = isMapValue(t.event) ? t.event.type : t.event;
    if (typeof event !== 'string' || event === '') at(t.event === undefined ? [] : ['event'], 'a trigger needs an event (a name, or {type: name})');
    if (!Array.isArray(t.action) || t.action.length === 0) {
      at(t.action === undefined ? [] : ['action'], 'a trigger needs an action: a list of activities (call_operation, set_state, delegate, inline)');
      continue;
    }
    t.action.forEach((a, i) => {
      const key = isMapValue(a) && Object.keys(a).length === 1 ? (Object.keys(a)[0] as string) : undefined;
      if (!key || !ACTIVITIES.includes(key)) at(['action', i], `an activity is one of ${ACTIVITIES.join(', ')}${key ? suggest(key, ACTIVITIES) : ''}`);
    });
  }
  return problems;
}
