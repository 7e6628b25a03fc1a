/**
 * The /v1/deployments operations of api/openapi.yaml, served by unikitd through its extension
 * hook. Every one is scoped to the caller's tenant.
 */
import type { ApiHandler, ApiRequest } from '../fleet/index.js';
import type { Orchestrator } from './orchestrator.js';

/** The tenant a request acts for. Until unikitd has tenant tokens: `tenant` in the query or body, else "default". */
export function requestTenant(req: ApiRequest): string {
  const t = req.query.tenant ?? (req.body as Record<string, unknown> | undefined)?.tenant;
  return typeof t === 'string' && t !== '' ? t : DEFAULT_TENANT;
}

export const DEFAULT_TENANT = 'default';

export function deploymentHandlers(o: Orchestrator): Record<string, ApiHandler> {
  return {
    createDeployment: async (req, reply) => {
      const b = req.body;
      const status = await o.deploy({
        tenant: requestTenant(req),
        template: b.template as string,
        dir: b.dir as string,
        file: b.file as string | undefined,
        inputs: b.inputs as Record<string, unknown> | undefined,
        name: b.name as string | undefined,
      });
      return reply.code(201).send(status);
    },
    listDeployments: async (req) => o.list(requestTenant(req)),
    getDeployment: async (req) => o.get(requestTenant(req), req.params.name as string),
    removeDeployment: async (req, reply) => {
      await o.undeploy(requestTenant(req), req.params.name as string);
      return reply.code(204).send();
    },
  };
}

/** The operation ids served here: the contract test checks them against api/openapi.yaml. */
export const DEPLOYMENT_OPERATION_IDS = ['createDeployment', 'listDeployments', 'getDeployment', 'removeDeployment'];
