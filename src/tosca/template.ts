/**
 * Loading a TOSCA service template: the file and its imports (local files), the normative types
 * and the unikit profile, every definition and the topology checked, and a resolved model of the
 * topology (inputs substituted, defaults applied) for the orchestrator.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { projectRoot } from '../project/index.js';
import { NORMATIVE_FILE, NORMATIVE_TYPES } from './normative.js';
import { type KeyPath, type Problem, ToscaError, sortProblems } from './problems.js';
import { SourceFile } from './source.js';
import { TYPE_KINDS, TYPE_SECTIONS, TypeRegistry, checkTriggers, isMapValue, valueSpec } from './types.js';
import { type PropertySpec, type ValueSpec, checkValue, functionName, suggest } from './values.js';

export const TOSCA_VERSIONS = ['tosca_simple_yaml_1_3', 'tosca_simple_yaml_1_2', 'tosca_simple_yaml_1_1', 'tosca_simple_yaml_1_0'];

const TOP_KEYS = ['tosca_definitions_version', 'metadata', 'description', 'dsl_definitions', 'imports', 'repositories', ...Object.values(TYPE_SECTIONS), 'artifact_types', 'interface_types', 'group_types', 'topology_template'];
const TOPOLOGY_KEYS = ['description', 'inputs', 'node_templates', 'policies', 'outputs', 'relationship_templates', 'groups', 'substitution_mappings', 'workflows'];
const NODE_KEYS = ['type', 'description', 'metadata', 'directives', 'properties', 'attributes', 'requirements', 'capabilities', 'interfaces', 'artifacts', 'node_filter', 'copy'];
const POLICY_KEYS = ['type', 'description', 'metadata', 'properties', 'targets', 'triggers'];
const OUTPUT_KEYS = ['description', 'value', 'type', 'required', 'status'];

/** The unikit profile shipped with unikit: always loaded, like the normative types. */
export function unikitProfilePath(): string {
  return join(projectRoot(), 'profiles', 'unikit.yaml');
}

export interface NodeTemplate {
  name: string;
  type: string;
  /** The type and its ancestors, leaf first. */
  types: string[];
  /** Values with get_input substituted and defaults applied; other functions kept as written. */
  properties: Record<string, unknown>;
  capabilities: Record<string, { type: string; properties: Record<string, unknown> }>;
  requirements: { name: string; node: string; capability: string; relationship: string }[];
}

export interface PolicyTemplate {
  name: string;
  type: string;
  types: string[];
  targets: string[];
  properties: Record<string, unknown>;
  triggers: Record<string, { event: string; condition?: unknown; action: Record<string, unknown>[] }>;
}

export interface OutputDefinition {
  name: string;
  description?: string;
  /** As written: a literal or a function (get_attribute, get_input...). */
  value: unknown;
}

export interface ServiceTemplate {
  file: string;
  version: string;
  metadata: Record<string, unknown>;
  description?: string;
  inputs: Record<string, { type: string; value: unknown }>;
  nodes: NodeTemplate[];
  policies: PolicyTemplate[];
  outputs: OutputDefinition[];
  /** Node template names, each after the nodes it requires (the order to start them in). */
  order: string[];
  types: TypeRegistry;
}

export interface LoadOptions {
  /** Values for the template's inputs. */
  inputs?: Record<string, unknown>;
  /**
   * The main file's text, when it does not come from reading `file` (unikitd gets it in a
   * request); `file` still names it in problems and its directory resolves relative paths.
   */
  text?: string;
  /** Profiles loaded before the template; the unikit profile by default. */
  profiles?: string[];
  /** Further checks of the resolved template (the unikit profile's), adding problems. */
  check?: (t: ServiceTemplate, ctx: CheckContext) => void;
}

/** What a profile check gets: the main file's positions, to name places. */
export interface CheckContext {
  src: SourceFile;
  problem: (path: KeyPath, message: string) => void;
  /** Where each node template and policy is in the main file. */
  nodePath: (name: string) => KeyPath;
  policyPath: (name: string) => KeyPath;
}

export interface LoadResult {
  template?: ServiceTemplate;
  problems: Problem[];
}

/** Loads and checks `file`; `template` is there when there were no problems. */
export async function loadServiceTemplate(file: string, o: LoadOptions = {}): Promise<LoadResult> {
  const problems: Problem[] = [];
  const types = new TypeRegistry();
  const sources: SourceFile[] = [];
  const seen = new Set<string>();

  const take = (src: SourceFile, isMain: boolean): void => {
    sources.push(src);
    problems.push(...src.problems);
    checkTopLevel(src, isMain, problems);
    if (!isMapValue(src.data)) return;
    for (const kind of TYPE_KINDS) {
      const section = src.data[TYPE_SECTIONS[kind]];
      if (section === undefined || section === null) continue;
      if (!isMapValue(section)) {
        problems.push(src.problem([TYPE_SECTIONS[kind]], `${TYPE_SECTIONS[kind]} must be a map of name: definition`));
        continue;
      }
      for (const [name, raw] of Object.entries(section)) {
        const path = [TYPE_SECTIONS[kind], name];
        if (raw !== null && !isMapValue(raw)) {
          problems.push(src.problem(path, 'a type definition is a map'));
          continue;
        }
        types.add({ kind, name, src, path, raw: raw ?? {} }, problems);
      }
    }
  };

  const load = async (path: string, shownAs: string, isMain: boolean, from?: { src: SourceFile; path: KeyPath }): Promise<SourceFile | undefined> => {
    const abs = resolve(path);
    if (seen.has(abs)) return undefined;
    seen.add(abs);
    let src: SourceFile;
    try {
      src = isMain && o.text !== undefined ? SourceFile.parse(abs, o.text) : await SourceFile.read(abs);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(e as Error).message}`;
      if (from) problems.push(from.src.problem(from.path, `imported file ${shownAs} ${why}`, 'value'));
      else problems.push({ file: shownAs, line: 1, column: 1, path: '', message: `the service template ${why}` });
      return undefined;
    }
    Object.defineProperty(src, 'file', { value: shownAs });
    take(src, isMain);
    if (isMapValue(src.data) && src.data.imports !== undefined) {
      if (!Array.isArray(src.data.imports)) problems.push(src.problem(['imports'], 'imports must be a list of files'));
      else {
        for (const [i, imp] of src.data.imports.entries()) {
          const target = typeof imp === 'string' ? imp : isMapValue(imp) ? imp.file : undefined;
          const at: KeyPath = typeof imp === 'string' ? ['imports', i] : ['imports', i, 'file'];
          if (typeof target !== 'string' || target === '') {
            problems.push(src.problem(['imports', i], 'an import is a file path, or {file: path}'));
            continue;
          }
          if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) || (isMapValue(imp) && imp.repository !== undefined)) {
            problems.push(src.problem(at, `only local files can be imported, not ${target}`, 'value'));
            continue;
          }
          const base = dirname(resolve(path));
          const full = isAbsolute(target) ? target : join(base, target);
          const shown = isAbsolute(target) ? target : join(dirname(shownAs), target);
          await load(full, shown, false, { src, path: at });
        }
      }
    }
    return src;
  };

  take(SourceFile.parse(NORMATIVE_FILE, NORMATIVE_TYPES), false);
  for (const p of o.profiles ?? [unikitProfilePath()]) {
    if (existsSync(p)) await load(p, p, false);
  }
  const main = await load(file, file, true);
  // A template that is not valid YAML is not looked at further: what was read of it may be anything.
  if (main && main.problems.length) return { problems: sortProblems(problems) };
  problems.push(...types.checkDefinitions());
  if (!main || !isMapValue(main.data)) {
    if (main && problems.length === 0) problems.push(main.problem([], 'a service template is a YAML map'));
    return { problems: sortProblems(problems) };
  }
  const template = checkTopology(main, types, o, problems);
  if (template && o.check) {
    const topo = ['topology_template'];
    const policyIndex = new Map<string, number>();
    const pol = (main.data.topology_template as Record<string, unknown> | undefined)?.policies;
    if (Array.isArray(pol)) pol.forEach((p, i) => isMapValue(p) && policyIndex.set(Object.keys(p)[0] as string, i));
    o.check(template, {
      src: main,
      problem: (path, message) => void problems.push(main.problem(path, message)),
      nodePath: (name) => [...topo, 'node_templates', name],
      policyPath: (name) => [...topo, 'policies', policyIndex.get(name) ?? 0, name],
    });
  }
  return problems.length ? { problems: sortProblems(problems) } : { template, problems };
}

/** Like loadServiceTemplate, but throws ToscaError listing every problem. */
export async function parseServiceTemplate(file: string, o: LoadOptions = {}): Promise<ServiceTemplate> {
  const r = await loadServiceTemplate(file, o);
  if (!r.template) throw new ToscaError(r.problems);
  return r.template;
}

function checkTopLevel(src: SourceFile, isMain: boolean, problems: Problem[]): void {
  const d = src.data;
  if (!isMapValue(d)) {
    if (src.problems.length === 0) problems.push(src.problem([], 'a TOSCA file is a YAML map'));
    return;
  }
  const v = d.tosca_definitions_version;
  if (v === undefined) problems.push(src.problem([], `tosca_definitions_version is missing: start the file with "tosca_definitions_version: ${TOSCA_VERSIONS[0]}"`));
  else if (typeof v !== 'string' || !TOSCA_VERSIONS.includes(v)) problems.push(src.problem(['tosca_definitions_version'], `unsupported version ${JSON.stringify(v)}: use ${TOSCA_VERSIONS[0]}`));
  for (const k of Object.keys(d)) {
    if (!TOP_KEYS.includes(k)) problems.push(src.problem([k], `unknown key ${JSON.stringify(k)}${suggest(k, TOP_KEYS)}`));
  }
  if (d.metadata !== undefined && d.metadata !== null) {
    if (!isMapValue(d.metadata)) problems.push(src.problem(['metadata'], 'metadata must be a map of name: value'));
    else for (const [k, val] of Object.entries(d.metadata)) {
      if (typeof val === 'object' && val !== null) problems.push(src.problem(['metadata', k], 'metadata values are strings, numbers or booleans'));
    }
  }
  if (d.repositories !== undefined) problems.push(src.problem(['repositories'], 'repositories are not supported: import local files'));
  for (const k of ['artifact_types', 'interface_types', 'group_types']) {
    if (d[k] !== undefined) problems.push(src.problem([k], `${k} are not supported by unikit yet`));
  }
  if (!isMain && d.topology_template !== undefined) problems.push(src.problem(['topology_template'], 'an imported file may hold definitions only, not a topology_template'));
}

/** The topology: inputs, node templates, requirements, policies, outputs. */
function checkTopology(src: SourceFile, types: TypeRegistry, o: LoadOptions, problems: Problem[]): ServiceTemplate | undefined {
  const d = src.data as Record<string, unknown>;
  const at = (path: KeyPath, message: string, prefer: 'key' | 'value' = 'key'): void => void problems.push(src.problem(path, message, prefer));
  const t: ServiceTemplate = {
    file: src.file,
    version: String(d.tosca_definitions_version),
    metadata: isMapValue(d.metadata) ? d.metadata : {},
    inputs: {},
    nodes: [],
    policies: [],
    outputs: [],
    order: [],
    types,
  };
  if (typeof d.description === 'string') t.description = d.description;
  const topo = d.topology_template;
  if (topo === undefined || topo === null) {
    at([], 'there is no topology_template: this file holds definitions only');
    return undefined;
  }
  const T = ['topology_template'];
  if (!isMapValue(topo)) {
    at(T, 'topology_template must be a map');
    return undefined;
  }
  for (const k of Object.keys(topo)) {
    if (!TOPOLOGY_KEYS.includes(k)) at([...T, k], `unknown key ${JSON.stringify(k)}${suggest(k, TOPOLOGY_KEYS)}`);
    else if (['relationship_templates', 'groups', 'substitution_mappings', 'workflows'].includes(k)) at([...T, k], `${k} are not supported by unikit yet`);
  }

  // Inputs: parameter definitions, and the values given for them.
  const inputDefs = new Map<string, PropertySpec>();
  const given = o.inputs ?? {};
  const badInputs = new Set<string>();
  const usableInputs = (): Record<string, { value: unknown }> => Object.fromEntries(Object.entries(t.inputs).filter(([k]) => !badInputs.has(k)));
  const inputs = topo.inputs;
  if (inputs !== undefined && inputs !== null) {
    if (!isMapValue(inputs)) at([...T, 'inputs'], 'inputs must be a map of name: definition');
    else for (const [name, raw] of Object.entries(inputs)) {
      const path = [...T, 'inputs', name];
      const defProblems = types.checkPropertyDefinition(src, path, raw);
      problems.push(...defProblems);
      if (!isMapValue(raw) || typeof raw.type !== 'string') continue;
      const spec: PropertySpec = {
        type: raw.type,
        required: raw.required !== false,
        hasDefault: 'default' in raw,
        default: raw.default,
        constraints: Array.isArray(raw.constraints) ? raw.constraints : [],
      };
      if (raw.entry_schema !== undefined) spec.entry_schema = valueSpec(raw.entry_schema);
      inputDefs.set(name, spec);
      let value: unknown = spec.default;
      if (name in given) {
        value = given[name];
        const issues = checkValue(value, spec, path, types);
        for (const issue of issues) at(path, `the value given for input ${name}: ${issue.message}`);
        if (issues.length) badInputs.add(name); // said once here, not again at every use
      } else if (spec.required && !spec.hasDefault) {
        at(path, `input ${name} is required and has no default: give it a value (unikit validate --input ${name}=VALUE)`);
      }
      t.inputs[name] = { type: spec.type, value };
    }
  }
  for (const name of Object.keys(given)) {
    if (!inputDefs.has(name)) problems.push({ file: '<inputs>', line: 1, column: 1, path: `inputs.${name}`, message: `the template declares no input ${JSON.stringify(name)}${suggest(name, [...inputDefs.keys()])}` });
  }

  /** Resolves TOSCA functions found in property values: checks them; returns get_input's value. */
  const onFunction = (v: unknown, path: KeyPath, spec?: ValueSpec): unknown => {
    const fn = functionName(v) as string;
    const arg = (v as Record<string, unknown>)[fn];
    const fpath = [...path, fn];
    if (fn === 'get_input') {
      const name = Array.isArray(arg) ? arg[0] : arg;
      if (typeof name !== 'string') {
        at(fpath, 'get_input takes the name of an input', 'value');
        return undefined;
      }
      const def = inputDefs.get(name);
      if (!def) {
        at(fpath, `get_input of an undeclared input ${JSON.stringify(name)}${suggest(name, [...inputDefs.keys()])}${inputDefs.size ? '' : ' (the template declares no inputs)'}`, 'value');
        return undefined;
      }
      if (spec && def.type !== spec.type && !(spec.type === 'float' && def.type === 'integer')) {
        const dataOk = types.isDataType(spec.type) && types.dataBase(spec.type)?.type === def.type;
        if (!dataOk) at(fpath, `input ${name} is of type ${def.type}, but this value must be ${spec.type}`, 'value');
        return undefined;
      }
      return badInputs.has(name) ? undefined : t.inputs[name]?.value;
    }
    if (fn === 'get_property' || fn === 'get_attribute') {
      if (!Array.isArray(arg) || arg.length < 2 || !arg.every((a) => typeof a === 'string')) {
        at(fpath, `${fn} takes a list: [node template or SELF, (capability,) name]`, 'value');
      }
      return undefined;
    }
    if (fn === 'concat' || fn === 'join') {
      if (!Array.isArray(arg)) at(fpath, `${fn} takes a list`, 'value');
      return undefined;
    }
    return undefined;
  };

  const valueOf = (raw: unknown, spec: ValueSpec, path: KeyPath): unknown => {
    for (const issue of checkValue(raw, spec, path, types, (fv, fp) => onFunction(fv, fp, fp === path ? spec : undefined))) at(issue.path, issue.message, 'value');
    return substituteInputs(raw, usableInputs());
  };

  /** Checks an assignment of properties against definitions; returns the values with defaults. */
  const assignProperties = (raw: unknown, defs: Map<string, PropertySpec>, path: KeyPath, owner: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (raw !== undefined && raw !== null && !isMapValue(raw)) {
      at(path, 'properties must be a map of name: value');
      return out;
    }
    const values = (raw ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(values)) {
      if (!defs.has(k)) at([...path, k], `${owner} has no property ${JSON.stringify(k)}${suggest(k, [...defs.keys()])}`);
    }
    for (const [k, spec] of defs) {
      if (k in values) out[k] = valueOf(values[k], spec, [...path, k]);
      else if (spec.hasDefault) out[k] = spec.default;
      else if (spec.required) at(path, `missing required property ${JSON.stringify(k)} of ${owner}`);
    }
    return out;
  };

  // Node templates.
  const nodes = topo.node_templates;
  const NT = [...T, 'node_templates'];
  const nodeRaw = new Map<string, Record<string, unknown>>();
  if (nodes === undefined || nodes === null) at(T, 'there are no node_templates: a service needs at least one');
  else if (!isMapValue(nodes)) at(NT, 'node_templates must be a map of name: node template');
  else for (const [name, raw] of Object.entries(nodes)) {
    if (!isMapValue(raw)) {
      at([...NT, name], 'a node template is a map with a type');
      continue;
    }
    nodeRaw.set(name, raw);
  }
  for (const [name, raw] of nodeRaw) {
    const path = [...NT, name];
    for (const k of Object.keys(raw)) if (!NODE_KEYS.includes(k)) at([...path, k], `a node template has no key ${JSON.stringify(k)}${suggest(k, NODE_KEYS)}`);
    if (typeof raw.type !== 'string') {
      at(raw.type === undefined ? path : [...path, 'type'], 'a node template needs a type (a node type name)');
      continue;
    }
    if (!types.get('node', raw.type)) {
      at([...path, 'type'], types.unknown('node', raw.type), 'value');
      continue;
    }
    const node: NodeTemplate = {
      name,
      type: raw.type,
      types: types.chain('node', raw.type).map((x) => x.name),
      properties: assignProperties(raw.properties, types.properties('node', raw.type), [...path, 'properties'], `node type ${raw.type}`),
      capabilities: {},
      requirements: [],
    };
    const capDefs = types.capabilities(raw.type);
    for (const [c, def] of capDefs) node.capabilities[c] = { type: def.type, properties: {} };
    if (raw.capabilities !== undefined && raw.capabilities !== null) {
      if (!isMapValue(raw.capabilities)) at([...path, 'capabilities'], 'capabilities must be a map of name: {properties: ...}');
      else for (const [c, ca] of Object.entries(raw.capabilities)) {
        const def = capDefs.get(c);
        if (!def) {
          at([...path, 'capabilities', c], `node type ${raw.type} has no capability ${JSON.stringify(c)}${suggest(c, [...capDefs.keys()])}`);
          continue;
        }
        if (ca !== null && !isMapValue(ca)) {
          at([...path, 'capabilities', c], 'a capability assignment is a map with properties and attributes');
          continue;
        }
        for (const k of Object.keys(ca ?? {})) if (!['properties', 'attributes', 'occurrences'].includes(k)) at([...path, 'capabilities', c, k], `a capability assignment has no key ${JSON.stringify(k)}`);
        const capProps = types.properties('capability', def.type);
        node.capabilities[c] = { type: def.type, properties: assignProperties(ca?.properties, capProps, [...path, 'capabilities', c, 'properties'], `capability type ${def.type}`) };
      }
    }
    // Defaults of capability properties that were not assigned.
    for (const [c, cap] of Object.entries(node.capabilities)) {
      if (Object.keys(cap.properties).length === 0 && !(isMapValue(raw.capabilities) && c in raw.capabilities)) {
        for (const [k, spec] of types.properties('capability', cap.type)) if (spec.hasDefault) cap.properties[k] = spec.default;
      }
    }
    t.nodes.push(node);
  }
  const byName = new Map(t.nodes.map((n) => [n.name, n]));

  // Requirements: each names a node template with a capability the requirement accepts.
  for (const node of t.nodes) {
    const raw = nodeRaw.get(node.name) as Record<string, unknown>;
    const path = [...NT, node.name, 'requirements'];
    if (raw.requirements === undefined || raw.requirements === null) continue;
    if (!Array.isArray(raw.requirements)) {
      at(path, 'requirements must be a list of single-key maps: - name: node template');
      continue;
    }
    const reqDefs = types.requirements(node.type);
    const counts = new Map<string, number>();
    raw.requirements.forEach((item, i) => {
      if (!isMapValue(item) || Object.keys(item).length !== 1) {
        at([...path, i], 'each requirement is a map with one key, the requirement name');
        return;
      }
      const [r, ra] = Object.entries(item)[0] as [string, unknown];
      const rp = [...path, i, r];
      const def = reqDefs.get(r);
      if (!def) {
        at(rp, `node type ${node.type} has no requirement ${JSON.stringify(r)}${suggest(r, [...reqDefs.keys()])}`);
        return;
      }
      counts.set(r, (counts.get(r) ?? 0) + 1);
      const targetName = typeof ra === 'string' ? ra : isMapValue(ra) ? ra.node : undefined;
      const tp = typeof ra === 'string' ? rp : [...rp, 'node'];
      if (typeof targetName !== 'string') {
        at(rp, 'a requirement assignment names a node template: `- name: node` or `- name: {node: ..., capability: ..., relationship: ...}`');
        return;
      }
      if (isMapValue(ra)) for (const k of Object.keys(ra)) if (!['node', 'capability', 'relationship', 'node_filter', 'occurrences'].includes(k)) at([...rp, k], `a requirement assignment has no key ${JSON.stringify(k)}`);
      const target = byName.get(targetName);
      if (!target) {
        at(tp, `requirement ${r} names node template ${JSON.stringify(targetName)}, which does not exist${suggest(targetName, [...byName.keys()])}`, 'value');
        return;
      }
      if (target.name === node.name) {
        at(tp, `requirement ${r} of ${node.name} names ${node.name} itself`, 'value');
        return;
      }
      if (def.node && !types.derivesFrom('node', target.type, def.node)) {
        at(tp, `requirement ${r} needs a node of type ${def.node}; ${target.name} is a ${target.type}`, 'value');
        return;
      }
      const relName = isMapValue(ra) && typeof ra.relationship === 'string' ? ra.relationship : def.relationship ?? 'tosca.relationships.DependsOn';
      if (!types.get('relationship', relName)) {
        at([...rp, 'relationship'], types.unknown('relationship', relName), 'value');
        return;
      }
      // The capability: a name on the target, or a type; it must be (derived from) the requirement's.
      const wanted = isMapValue(ra) && typeof ra.capability === 'string' ? ra.capability : def.capability;
      let capName: string | undefined;
      if (target.capabilities[wanted]) capName = wanted;
      else {
        const capType = types.get('capability', wanted) ? wanted : def.capability;
        capName = Object.keys(target.capabilities).find((c) => types.derivesFrom('capability', (target.capabilities[c] as { type: string }).type, capType));
        if (!types.get('capability', wanted) && isMapValue(ra) && typeof ra.capability === 'string') capName = undefined;
      }
      if (!capName) {
        at(isMapValue(ra) && ra.capability !== undefined ? [...rp, 'capability'] : tp, `requirement ${r} needs a capability of type ${wanted}, and ${target.name} (${target.type}) has none${Object.keys(target.capabilities).length ? ` (it has ${Object.entries(target.capabilities).map(([c, v]) => `${c}: ${v.type}`).join(', ')})` : ''}`, 'value');
        return;
      }
      const capType = (target.capabilities[capName] as { type: string }).type;
      if (!types.derivesFrom('capability', capType, def.capability)) {
        at(tp, `requirement ${r} needs a capability of type ${def.capability}; ${target.name}'s ${capName} is a ${capType}`, 'value');
        return;
      }
      const validTargets = types.nearestList('relationship', relName, 'valid_target_types');
      if (validTargets && !validTargets.some((v) => types.derivesFrom('capability', capType, v))) {
        at(tp, `${relName} connects to a capability of type ${validTargets.join(' or ')}; ${target.name}'s ${capName} is a ${capType}${relName.endsWith('ConnectsTo') ? ': give the target an endpoint capability' : ''}`, 'value');
        return;
      }
      node.requirements.push({ name: r, node: target.name, capability: capName, relationship: relName });
    });
    for (const [r, def] of reqDefs) {
      const n = counts.get(r) ?? 0;
      if (def.occurrences && n > def.occurrences[1]) at(path, `requirement ${r} is given ${n} times, at most ${def.occurrences[1]} allowed`);
      if (def.occurrences && n < def.occurrences[0]) at(path, `requirement ${r} is needed at least ${def.occurrences[0]} time${def.occurrences[0] === 1 ? '' : 's'}`);
    }
  }

  // Cycles in requirements: no order to start the nodes in.
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    const node = byName.get(name) as NodeTemplate;
    for (const [ri, req] of node.requirements.entries()) {
      const s = state.get(req.node);
      if (s === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(req.node)), req.node];
        const key = [...cycle].sort().join(',');
        if (!reported.has(key)) {
          reported.add(key);
          const raw = (nodeRaw.get(name) as Record<string, unknown>).requirements as unknown[];
          const index = raw.findIndex((it, i) => i >= 0 && isMapValue(it) && Object.keys(it)[0] === req.name && (typeof it[req.name] === 'string' ? it[req.name] : (it[req.name] as Record<string, unknown>)?.node) === req.node);
          at([...NT, name, 'requirements', index >= 0 ? index : ri], `requirements form a cycle: ${cycle.join(' → ')}`);
        }
      } else if (s === undefined) visit(req.node);
    }
    stack.pop();
    state.set(name, 'done');
    t.order.push(name);
  };
  for (const n of t.nodes) if (!state.has(n.name)) visit(n.name);

  // Policies.
  const policies = topo.policies;
  const PT = [...T, 'policies'];
  const policyNames = new Set<string>();
  if (policies !== undefined && policies !== null) {
    if (!Array.isArray(policies)) at(PT, 'policies must be a list of single-key maps: - name: {type: ...}');
    else policies.forEach((item, i) => {
      if (!isMapValue(item) || Object.keys(item).length !== 1) {
        at([...PT, i], 'each policy is a map with one key, the policy name');
        return;
      }
      const [name, raw] = Object.entries(item)[0] as [string, unknown];
      const path = [...PT, i, name];
      if (policyNames.has(name)) at(path, `policy ${name} is defined twice`);
      policyNames.add(name);
      if (!isMapValue(raw)) {
        at(path, 'a policy is a map with a type');
        return;
      }
      for (const k of Object.keys(raw)) if (!POLICY_KEYS.includes(k)) at([...path, k], `a policy has no key ${JSON.stringify(k)}${suggest(k, POLICY_KEYS)}`);
      if (typeof raw.type !== 'string') {
        at(raw.type === undefined ? path : [...path, 'type'], 'a policy needs a type (a policy type name)');
        return;
      }
      if (!types.get('policy', raw.type)) {
        at([...path, 'type'], types.unknown('policy', raw.type), 'value');
        return;
      }
      const policy: PolicyTemplate = {
        name,
        type: raw.type,
        types: types.chain('policy', raw.type).map((x) => x.name),
        targets: [],
        properties: assignProperties(raw.properties, types.properties('policy', raw.type), [...path, 'properties'], `policy type ${raw.type}`),
        triggers: {},
      };
      const allowed = types.nearestList('policy', raw.type, 'targets');
      if (raw.targets !== undefined) {
        if (!Array.isArray(raw.targets)) at([...path, 'targets'], 'targets must be a list of node template names');
        else raw.targets.forEach((tg, j) => {
          const target = typeof tg === 'string' ? byName.get(tg) : undefined;
          if (!target) {
            at([...path, 'targets', j], `target ${JSON.stringify(tg)} is not a node template${typeof tg === 'string' ? suggest(tg, [...byName.keys()]) : ''}`, 'value');
            if (typeof tg === 'string') policy.targets.push(tg); // still a named target: the policy does not apply to all
            return;
          }
          if (allowed && allowed.length && !allowed.some((a) => types.derivesFrom('node', target.type, a))) {
            at([...path, 'targets', j], `policy type ${raw.type} applies to ${allowed.join(' or ')}; ${target.name} is a ${target.type}`, 'value');
            return;
          }
          policy.targets.push(target.name);
        });
      }
      if (raw.triggers !== undefined) {
        const before = problems.length;
        problems.push(...checkTriggers(src, [...path, 'triggers'], raw.triggers));
        if (problems.length === before && isMapValue(raw.triggers)) {
          for (const [tn, tr] of Object.entries(raw.triggers)) {
            const trig = tr as Record<string, unknown>;
            const event = isMapValue(trig.event) ? trig.event.type : trig.event;
            policy.triggers[tn] = { event: event as string, action: trig.action as Record<string, unknown>[] };
            if (trig.condition !== undefined) (policy.triggers[tn] as { condition?: unknown }).condition = trig.condition;
          }
        }
      }
      t.policies.push(policy);
    });
  }

  // Outputs: values, usually get_attribute of a node template's attribute.
  const outputs = topo.outputs;
  const OT = [...T, 'outputs'];
  if (outputs !== undefined && outputs !== null) {
    if (!isMapValue(outputs)) at(OT, 'outputs must be a map of name: {value: ...}');
    else for (const [name, raw] of Object.entries(outputs)) {
      const path = [...OT, name];
      if (!isMapValue(raw) || !('value' in raw)) {
        at(path, 'an output is a map with a value');
        continue;
      }
      for (const k of Object.keys(raw)) if (!OUTPUT_KEYS.includes(k)) at([...path, k], `an output has no key ${JSON.stringify(k)}${suggest(k, OUTPUT_KEYS)}`);
      checkOutputValue(raw.value, [...path, 'value']);
      const out: OutputDefinition = { name, value: substituteInputs(raw.value, usableInputs()) };
      if (typeof raw.description === 'string') out.description = raw.description;
      t.outputs.push(out);
    }
  }

  function checkOutputValue(v: unknown, path: KeyPath): void {
    const fn = functionName(v);
    if (!fn) {
      if (Array.isArray(v)) v.forEach((x, i) => checkOutputValue(x, [...path, i]));
      return;
    }
    const arg = (v as Record<string, unknown>)[fn];
    const fpath = [...path, fn];
    if (fn === 'get_input') return void onFunction(v, path);
    if (fn === 'concat' || fn === 'join') {
      if (!Array.isArray(arg)) at(fpath, `${fn} takes a list`, 'value');
      else (fn === 'join' ? (Array.isArray(arg[0]) ? arg[0] : []) : arg).forEach((x: unknown, i: number) => checkOutputValue(x, [...fpath, ...(fn === 'join' ? [0] : []), i]));
      return;
    }
    if (fn === 'get_attribute' || fn === 'get_property') {
      if (!Array.isArray(arg) || arg.length < 2 || arg.length > 3 || !arg.every((a) => typeof a === 'string')) {
        at(fpath, `${fn} takes [node template, attribute] or [node template, capability, attribute]`, 'value');
        return;
      }
      const [nodeName, a1, a2] = arg as string[];
      const node = byName.get(nodeName as string);
      if (!node) {
        at([...fpath, 0], `${fn} names node template ${JSON.stringify(nodeName)}, which does not exist${nodeName === 'SELF' ? ' (SELF has no meaning in outputs)' : suggest(nodeName as string, [...byName.keys()])}`, 'value');
        return;
      }
      const key = fn === 'get_attribute' ? 'attributes' : 'properties';
      if (a2 === undefined) {
        const defs = types.properties('node', node.type, key);
        // An attribute may also be read from a property of the same name (TOSCA 1.3 3.6.11.1).
        const known = fn === 'get_attribute' ? new Set([...defs.keys(), ...types.properties('node', node.type).keys()]) : new Set(defs.keys());
        if (!known.has(a1 as string)) at([...fpath, 1], `node type ${node.type} has no ${key === 'attributes' ? 'attribute' : 'property'} ${JSON.stringify(a1)}${suggest(a1 as string, [...known])}`, 'value');
      } else {
        const cap = node.capabilities[a1 as string];
        if (!cap) {
          at([...fpath, 1], `${node.name} (${node.type}) has no capability ${JSON.stringify(a1)}${suggest(a1 as string, Object.keys(node.capabilities))}`, 'value');
          return;
        }
        const defs = types.properties('capability', cap.type, key);
        const known = fn === 'get_attribute' ? new Set([...defs.keys(), ...types.properties('capability', cap.type).keys()]) : new Set(defs.keys());
        if (!known.has(a2)) at([...fpath, 2], `capability type ${cap.type} has no ${key === 'attributes' ? 'attribute' : 'property'} ${JSON.stringify(a2)}${suggest(a2, [...known])}`, 'value');
      }
      return;
    }
    at(fpath, `${fn} is not supported in outputs`, 'value');
  }

  return t;
}

/** `raw` with every {get_input: name} replaced by the input's value (when it has one). */
function substituteInputs(raw: unknown, inputs: Record<string, { value: unknown }>): unknown {
  const fn = functionName(raw);
  if (fn === 'get_input') {
    const a = (raw as Record<string, unknown>).get_input;
    const name = Array.isArray(a) ? a[0] : a;
    const v = typeof name === 'string' ? inputs[name]?.value : undefined;
    return v === undefined ? raw : v;
  }
  if (fn) return raw;
  if (Array.isArray(raw)) return raw.map((x) => substituteInputs(x, inputs));
  if (isMapValue(raw)) return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, substituteInputs(v, inputs)]));
  return raw;
}
