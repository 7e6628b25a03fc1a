/** unikitd: the control plane for many VMs (state, API, lifecycle, boot at scale, reconciliation). */
export { startDaemon, defaultMemoryBudget, defaultBootConcurrency, DEFAULT_VM_OVERHEAD, DEFAULT_LOG_CAP } from './daemon.js';
export type { DaemonOptions, RunningDaemon } from './daemon.js';
export { FleetClient } from './client.js';
export type { ClientOptions } from './client.js';
export { FleetError, BadRequestError, NotFoundError, InsufficientMemoryError } from './errors.js';
export type { FleetErrorCode, ErrorBody } from './errors.js';
export { fleetPaths, instanceFiles } from './paths.js';
export type { FleetPaths, InstanceFiles } from './paths.js';
export type { ImageView, InstanceView, StatsView } from './view.js';
export type { InstanceState, RestartPolicy, PortSpec } from './store.js';
export { INSTANCE_STATES } from './store.js';
export { loadOperations, openapiPath } from './openapi.js';
export { OPERATION_IDS, describeValidation } from './api.js';
export { Slots } from './slots.js';
export { lastLines } from './logs.js';
