/**
 * The orchestrator: TOSCA service templates deployed onto unikitd (issue 6). It runs inside
 * unikitd, as an extension of src/fleet's daemon, so that events can act on deployments: the
 * image factory (program x level x tenant key, cached, signed), the deployment runtime (fronts,
 * instances, connections), all-or-nothing deploy, undeploy and status, and their API.
 */
import { rm } from 'node:fs/promises';
import { type ApiHandler, type DaemonExtension, type ExtensionContext, tenantOf } from '../fleet/index.js';
import { deploymentHandlers } from './api.js';
import { auditTo } from './audit.js';
import { factoryScratch } from './factory.js';
import { SecurityEvents, eventHandlers } from './events.js';
import { Orchestrator } from './orchestrator.js';
import { ServiceQueue } from './rollout.js';
import { Scaling, scalingHandlers } from './scaling.js';
import { DeploymentStore } from './store.js';

export { DEPLOYMENT_OPERATION_IDS, deploymentHandlers } from './api.js';
export { Deployment, HOST_FROM_GUEST, FRONT_HOST, envPrefix, endpointPort } from './deployment.js';
export type { RuntimeContext, ServiceRuntime } from './deployment.js';
export { imageFor, imageHash, planAt, tenantKey } from './factory.js';
export type { FactoryImage } from './factory.js';
export { EVENT_KINDS, SecurityEvents, planEvent } from './events.js';
export type { EventAccepted, EventPlan, LevelChange, SecurityEvent } from './events.js';
export { Front } from './front.js';
export type { Backend, BackendState } from './front.js';
export { RolloutError, ServiceQueue, rollOut } from './rollout.js';
export { Scaling } from './scaling.js';
export type { ScaleResult } from './scaling.js';
export { Orchestrator } from './orchestrator.js';
export type { DeployRequest, DeploymentStatus, IngressStatus, InstanceStatus, ServiceStatus } from './orchestrator.js';
export { DeploymentStore } from './store.js';
export type { DeploymentRow, InstanceRole, ServiceRow, ServiceSpec } from './store.js';

/** Started by unikitd (`unikit daemon`): opens the tables, restores running deployments, serves the API. */
export async function startOrchestrator(ctx: ExtensionContext): Promise<DaemonExtension & { orchestrator: Orchestrator }> {
  const Database = ((await import('better-sqlite3')) as unknown as { default: typeof import('better-sqlite3') }).default;
  // Builds a unikitd that went away left half-done: nothing there is registered, all of it goes.
  await rm(factoryScratch(ctx.paths), { recursive: true, force: true });
  const deployments = new DeploymentStore(Database, ctx.paths.db);
  const orchestrator = new Orchestrator({ ...ctx, deployments, audit: auditTo(ctx.store) });
  await orchestrator.restore();
  // Rollouts, scales and standby boots of one service run one after another.
  const queue = new ServiceQueue();
  const scaling = new Scaling(orchestrator, queue);
  const events = new SecurityEvents(orchestrator, queue, scaling);
  const deploymentApi = deploymentHandlers(orchestrator);
  for (const d of orchestrator.deploymentsOf()) scaling.prepare(d);
  return {
    orchestrator,
    handlers: {
      ...deploymentApi,
      // A Scaling policy with a standby: booted once the deploy is done.
      createDeployment: async (req, reply) => {
        const sent = await (deploymentApi.createDeployment as ApiHandler)(req, reply);
        for (const d of orchestrator.deploymentsOf(tenantOf(req).tenant)) scaling.prepare(d);
        return sent;
      },
      ...eventHandlers(events),
      ...scalingHandlers(scaling),
    },
    close: async () => {
      await orchestrator.close();
      deployments.close();
    },
  };
}
