/**
 * TOSCA Simple Profile in YAML 1.3: service templates read, checked (every problem with its file,
 * line, column and key path) and resolved, with the unikit profile (profiles/unikit.yaml).
 */
import type { LoadOptions, LoadResult, ServiceTemplate } from './template.js';
import { loadServiceTemplate as load, parseServiceTemplate as parse } from './template.js';
import { checkUnikitProfile } from './unikit.js';

export { ToscaError, formatProblem, pathText } from './problems.js';
export type { KeyPath, Problem } from './problems.js';
export { SourceFile } from './source.js';
export type { Pos } from './source.js';
export { TypeRegistry, TYPE_KINDS } from './types.js';
export type { TypeKind, TypeDef } from './types.js';
export { parseScalarUnit } from './values.js';
export { TOSCA_VERSIONS, unikitProfilePath } from './template.js';
export type { CheckContext, LoadOptions, LoadResult, NodeTemplate, OutputDefinition, PolicyTemplate, ServiceTemplate } from './template.js';
export { DEFAULT_LEVEL, NETWORK, RAISE_LEVEL, SCALING, SECURITY, UNIKERNEL, checkUnikitProfile, unikernelServices } from './unikit.js';
export type { EgressRule, IngressRule, LevelRule, UnikernelService } from './unikit.js';

/** Loads and checks a service template with the unikit profile's rules; never throws for bad input. */
export function loadServiceTemplate(file: string, o: LoadOptions = {}): Promise<LoadResult> {
  return load(file, { check: checkUnikitProfile, ...o });
}

/** Like loadServiceTemplate, but throws ToscaError listing every problem. */
export function parseServiceTemplate(file: string, o: LoadOptions = {}): Promise<ServiceTemplate> {
  return parse(file, { check: checkUnikitProfile, ...o });
}
