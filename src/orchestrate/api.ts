/**
 * The /v1/deployments operations of api/openapi.yaml, served by unikitd through its extension
 * hook. Every one is scoped to the request's tenant (src/fleet's tenantOf: its token, or the
 * admin's X-Unikit-Tenant): another tenant's deployment is "not found".
 */
import { type ApiHandler, tenantOf } from '../fleet/index.js';
import type { Orchestrator } from './orchestrator.js';

export function deploymentHandlers(o: Orchestrator): Record<string, ApiHandler> {
  return {
    createDeployment: async (req, reply) => {
      const b = req.body;
      const t = tenantOf(req);
      const status = await o.deploy({
        tenant: t.tenant,
        actor: t.actor,
        template: b.template as string,
        dir: b.dir as string,
        file: b.file as string | undefined,
        inputs: b.inputs as Record<string, unknown> | undefined,
        name: b.name as string | undefined,
      });
      return reply.code(201).send(status);
    },
    listDeployments: async (req) => o.list(tenantOf(req).tenant),
    getDeployment: async (req) => o.get(tenantOf(req).tenant, req.params.name as string),
    removeDeployment: async (req, reply) => {
      await o.undeploy(tenantOf(req).tenant, req.params.name as string, tenantOf(req).actor);
      return reply.code(204).send();
    },
  };
}

/** The operation ids served here: the contract test checks them against api/openapi.yaml. */
export const DEPLOYMENT_OPERATION_IDS = ['createDeployment', 'listDeployments', 'getDeployment', 'removeDeployment', 'postEvent', 'scaleDeployment'];
