/**
 * api/openapi.yaml, the one API contract: loaded at daemon start, its request schemas turned into
 * the validation schemas of the HTTP routes, so the contract and the checks cannot drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project/index.js';

export type JsonSchema = Record<string, unknown>;

export interface Operation {
  operationId: string;
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** Fastify's form: /v1/instances/:ref */
  url: string;
  /** The OpenAPI path: /v1/instances/{ref} */
  path: string;
  schema: { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema };
}

export function openapiPath(): string {
  return join(projectRoot(), 'api', 'openapi.yaml');
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: JsonSchema;
  description?: string;
}

export async function loadOperations(file = openapiPath()): Promise<Operation[]> {
  const { parse } = await import('yaml');
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const deref = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(deref);
    if (typeof node !== 'object' || node === null) return node;
    const obj = node as Record<string, unknown>;
    if (typeof obj.$ref === 'string') {
      const parts = obj.$ref.replace(/^#\//, '').split('/');
      let target: unknown = doc;
      for (const p of parts) target = (target as Record<string, unknown>)[p];
      if (target === undefined) throw new Error(`openapi.yaml: unresolved $ref ${obj.$ref}`);
      return deref(target);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) if (k !== 'example' && k !== 'nullable') out[k] = deref(v);
    return out;
  };
  const ops: Operation[] = [];
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  for (const [path, item] of Object.entries(paths)) {
    const shared = (deref(item.parameters ?? []) as Parameter[]);
    for (const method of ['get', 'post', 'delete', 'put', 'patch'] as const) {
      const op = item[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const params = [...shared, ...(deref(op.parameters ?? []) as Parameter[])];
      const schema: Operation['schema'] = {};
      const group = (where: 'path' | 'query'): JsonSchema | undefined => {
        const ps = params.filter((p) => p.in === where);
        if (!ps.length) return undefined;
        return {
          type: 'object',
          additionalProperties: where === 'path',
          properties: Object.fromEntries(ps.map((p) => [p.name, p.schema ?? { type: 'string' }])),
          required: ps.filter((p) => p.required).map((p) => p.name),
        };
      };
      const pathSchema = group('path');
      if (pathSchema) schema.params = pathSchema;
      const querySchema = group('query');
      if (querySchema) schema.querystring = querySchema;
      const body = deref((op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema);
      if (body) schema.body = body as JsonSchema;
      ops.push({
        operationId: op.operationId as string,
        method: method.toUpperCase() as Operation['method'],
        path,
        url: path.replace(/\{(\w+)\}/g, ':$1'),
        schema,
      });
    }
  }
  return ops;
}
