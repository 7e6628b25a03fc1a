/**
 * The unikit profile's own rules, beyond what its TOSCA types say: security levels and overrides
 * that make sense together, scaling bounds in order, network rules that name real ports and
 * nodes, programs unikit can run. And the services a template describes, in the form the
 * orchestrator deploys.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ElfError, parseElf } from '../elf/index.js';
import { LEVELS, type Level, type SecurityPlan, SecurityError, isLevel, planSecurity } from '../security/index.js';
import type { KeyPath } from './problems.js';
import type { CheckContext, NodeTemplate, PolicyTemplate, ServiceTemplate } from './template.js';
import { isMapValue } from './types.js';
import { functionName, parseScalarUnit } from './values.js';

export const UNIKERNEL = 'unikit.nodes.Unikernel';
export const SECURITY = 'unikit.policies.Security';
export const SCALING = 'unikit.policies.Scaling';
export const NETWORK = 'unikit.policies.Network';
export const RAISE_LEVEL = 'unikit.raise_level';
/** The level of a service no Security policy names. */
export const DEFAULT_LEVEL: Level = 'medium';

export interface IngressRule {
  from: string;
  ports?: number[];
}

export interface EgressRule {
  to: string;
  ports?: number[];
}

/** A rule of a Security policy: on `event`, raise the targets to `level`. */
export interface LevelRule {
  policy: string;
  trigger: string;
  event: string;
  level: Level;
}

/** One unikernel service of a template, as unikit deploys it. */
export interface UnikernelService {
  name: string;
  /** Absolute path of the program. */
  binary: string;
  args: string[];
  env: string[];
  /** HOST[:GUEST] with HOST absolute. */
  files: string[];
  /** Bytes. */
  memory: number;
  ports: number[];
  security: SecurityPlan;
  /** The Security policy that set the level, if one did. */
  securityPolicy?: string;
  rules: LevelRule[];
  scaling: { min: number; max: number; default: number; standby: boolean };
  ingress: IngressRule[];
  egress: EgressRule[];
  /** Services this one connects to (ConnectsTo requirements): name and port. */
  connectsTo: { node: string; port?: number }[];
}

const has = (types: readonly string[], t: string): boolean => types.includes(t);
/** The policies of `type` that apply to `node`: those naming it, and those with no targets (they apply to every unikernel). */
const policiesOf = (t: ServiceTemplate, node: string, type: string): PolicyTemplate[] =>
  t.policies.filter((p) => has(p.types, type) && (p.targets.length === 0 || p.targets.includes(node)));

/** The profile's checks, for LoadOptions.check. */
export function checkUnikitProfile(t: ServiceTemplate, ctx: CheckContext): void {
  const base = dirname(resolve(t.file));
  for (const node of t.nodes.filter((n) => has(n.types, UNIKERNEL))) checkUnikernel(node, base, ctx);
  for (const p of t.policies) {
    const path = ctx.policyPath(p.name);
    const prop = (k: string): KeyPath => [...path, 'properties', k];
    if (has(p.types, SECURITY)) {
      const level = p.properties.level;
      if (!isLevel(level)) continue; // the type's valid_values reported it
      try {
        planSecurity(level, isMapValue(p.properties.overrides) ? p.properties.overrides : {});
      } catch (e) {
        if (!(e instanceof SecurityError)) throw e;
        ctx.problem(prop('overrides'), e.message);
      }
      for (const [name, trig] of Object.entries(p.triggers)) {
        trig.action.forEach((a, i) => {
          const call = a.call_operation;
          const apath = [...path, 'triggers', name, 'action', i, 'call_operation'];
          const op = typeof call === 'string' ? call : isMapValue(call) ? call.operation : undefined;
          if (op !== RAISE_LEVEL) {
            ctx.problem(apath.slice(0, -1), `a Security policy's trigger acts with {call_operation: {operation: ${RAISE_LEVEL}, inputs: {level: LEVEL}}}`);
            return;
          }
          const to = isMapValue(call) && isMapValue(call.inputs) ? call.inputs.level : undefined;
          if (!isLevel(to)) ctx.problem([...apath, ...(isMapValue(call) && isMapValue(call.inputs) ? ['inputs', 'level'] : [])], `${RAISE_LEVEL} needs inputs.level, one of ${LEVELS.join(', ')}${to === undefined ? '' : `, not ${JSON.stringify(to)}`}`);
          else if (LEVELS.indexOf(to) <= LEVELS.indexOf(level)) ctx.problem([...apath, 'inputs', 'level'], `the trigger raises to ${to}, which is not above the policy's level ${level}`);
        });
      }
    }
    if (has(p.types, SCALING)) {
      const min = p.properties.min_instances as number;
      const max = p.properties.max_instances as number;
      const def = (p.properties.default_instances ?? min) as number;
      if (typeof min === 'number' && typeof max === 'number' && min > max) ctx.problem(prop('min_instances'), `min_instances ${min} is above max_instances ${max}`);
      else if (typeof def === 'number' && (def < min || def > max)) ctx.problem(prop('default_instances'), `default_instances ${def} is outside [min_instances ${min}, max_instances ${max}]`);
    }
    if (has(p.types, NETWORK)) {
      const names = new Set(t.nodes.map((n) => n.name));
      const ingress = Array.isArray(p.properties.ingress) ? (p.properties.ingress as IngressRule[]) : [];
      ingress.forEach((r, i) => {
        if (!isAddressOrAny(r.from) && !names.has(r.from)) ctx.problem([...prop('ingress'), i, 'from'], `from ${JSON.stringify(r.from)} is neither "any", an IPv4 address or CIDR, nor a node template`);
        for (const target of p.targets.length ? p.targets : t.nodes.filter((n) => has(n.types, UNIKERNEL)).map((n) => n.name)) {
          const ports = (t.nodes.find((n) => n.name === target)?.properties.ports ?? []) as unknown[];
          if (!ports.every((x) => typeof x === 'number')) continue; // an input without a usable value: said elsewhere
          for (const port of r.ports ?? []) {
            if (!ports.includes(port)) ctx.problem([...prop('ingress'), i, 'ports'], `port ${port} is not one of ${target}'s ports (${ports.join(', ') || 'none declared'})`);
          }
        }
      });
      const egress = Array.isArray(p.properties.egress) ? (p.properties.egress as EgressRule[]) : [];
      egress.forEach((r, i) => {
        if (!isAddressOrAny(r.to) && !names.has(r.to) && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(r.to)) {
          ctx.problem([...prop('egress'), i, 'to'], `to ${JSON.stringify(r.to)} is neither a node template, an IPv4 address or CIDR, nor a host name`);
        }
      });
    }
  }
  // One policy of each kind per service: two Security levels for one node make no sense.
  for (const node of t.nodes) {
    for (const type of [SECURITY, SCALING, NETWORK]) {
      const ps = policiesOf(t, node.name, type);
      if (ps.length > 1) ctx.problem([...ctx.policyPath((ps[1] as PolicyTemplate).name), 'targets'], `${node.name} is already the target of ${type.split('.').pop() as string} policy ${(ps[0] as PolicyTemplate).name}${(ps[0] as PolicyTemplate).targets.length === 0 ? ' (a policy without targets applies to every unikernel)' : ''}`);
    }
  }
}

function checkUnikernel(node: NodeTemplate, base: string, ctx: CheckContext): void {
  const path = [...ctx.nodePath(node.name), 'properties'];
  const binary = node.properties.binary;
  if (typeof binary === 'string' && !functionName(binary)) {
    const full = isAbsolute(binary) ? binary : resolve(base, binary);
    let bytes: Buffer | undefined;
    try {
      bytes = readFileSync(full);
    } catch {
      ctx.problem([...path, 'binary'], `the program ${binary} does not exist (${full})`);
    }
    if (bytes) {
      try {
        parseElf(bytes, binary);
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        ctx.problem([...path, 'binary'], `unikit cannot run ${binary}: ${e.message}`);
      }
    }
  }
  const env = node.properties.env;
  if (isMapValue(env)) {
    for (const k of Object.keys(env)) if (k === '' || k.includes('=')) ctx.problem([...path, 'env', k], 'an environment name cannot be empty or hold "="');
  }
  const files = node.properties.files;
  if (Array.isArray(files)) {
    files.forEach((f, i) => {
      if (typeof f !== 'string') return;
      const host = f.split(':')[0] as string;
      try {
        readFileSync(isAbsolute(host) ? host : resolve(base, host), { flag: 'r' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') ctx.problem([...path, 'files', i], `file ${host} does not exist`);
      }
    });
  }
  const ports = node.properties.ports;
  if (Array.isArray(ports) && new Set(ports).size !== ports.length) ctx.problem([...path, 'ports'], 'a port is listed twice');
}

function isAddressOrAny(s: string): boolean {
  if (s === 'any') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/.exec(s);
  return m !== null && [1, 2, 3, 4].every((i) => Number(m[i]) <= 255) && (m[6] === undefined || Number(m[6]) <= 32);
}

/** The unikernel services of a loaded template (one that passed checkUnikitProfile). */
export function unikernelServices(t: ServiceTemplate): UnikernelService[] {
  const base = dirname(resolve(t.file));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return t.nodes.filter((n) => has(n.types, UNIKERNEL)).map((n) => {
    const sec = policiesOf(t, n.name, SECURITY)[0];
    const level = sec && isLevel(sec.properties.level) ? sec.properties.level : DEFAULT_LEVEL;
    const overrides = sec && isMapValue(sec.properties.overrides) ? sec.properties.overrides : {};
    const scale = policiesOf(t, n.name, SCALING)[0]?.properties;
    const net = policiesOf(t, n.name, NETWORK)[0]?.properties;
    const min = (scale?.min_instances as number | undefined) ?? 1;
    const rules: LevelRule[] = [];
    for (const [trigger, trig] of Object.entries(sec?.triggers ?? {})) {
      for (const a of trig.action) {
        const call = a.call_operation;
        if (isMapValue(call) && call.operation === RAISE_LEVEL && isMapValue(call.inputs) && isLevel(call.inputs.level)) {
          rules.push({ policy: (sec as PolicyTemplate).name, trigger, event: trig.event, level: call.inputs.level });
        }
      }
    }
    const env = isMapValue(n.properties.env) ? Object.entries(n.properties.env).map(([k, v]) => `${k}=${String(v)}`) : [];
    const service: UnikernelService = {
      name: n.name,
      binary: abs(String(n.properties.binary)),
      args: (n.properties.args as unknown[] | undefined ?? []).map(String),
      env,
      files: (n.properties.files as unknown[] | undefined ?? []).map((f) => {
        const [host, ...guest] = String(f).split(':');
        return [abs(host as string), ...guest].join(':');
      }),
      memory: parseScalarUnit('scalar-unit.size', n.properties.memory) ?? 64 * 1024 * 1024,
      ports: (n.properties.ports as number[] | undefined) ?? [],
      security: planSecurity(level, overrides),
      rules,
      scaling: {
        min,
        max: (scale?.max_instances as number | undefined) ?? Math.max(1, min),
        default: (scale?.default_instances as number | undefined) ?? min,
        standby: (scale?.standby as boolean | undefined) ?? false,
      },
      ingress: (net?.ingress as IngressRule[] | undefined) ?? [],
      egress: (net?.egress as EgressRule[] | undefined) ?? [],
      connectsTo: n.requirements.filter((r) => r.relationship.endsWith('ConnectsTo')).map((r) => {
        const target = t.nodes.find((x) => x.name === r.node);
        const port = target?.capabilities[r.capability]?.properties.port;
        return typeof port === 'number' ? { node: r.node, port } : { node: r.node };
      }),
    };
    if (sec) service.securityPolicy = sec.name;
    return service;
  });
}
