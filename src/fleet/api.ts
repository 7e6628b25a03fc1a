/**
 * The HTTP API of api/openapi.yaml on fastify: each operation's request schemas come from the
 * contract file; a handler per operationId; every error becomes {"error": {code, message, field}}.
 * Each request acts as one tenant (tenants.ts decides which, before routing; `tenantOf(req)`
 * says), and sees only that tenant's images and instances: another's answer 404, as if absent.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tapUnavailable } from '../vmm/index.js';
import { AmbiguousError, BadRequestError, type ErrorBody, FleetError, NotFoundError } from './errors.js';
import { appendAudit, listAudit } from './audit.js';
import { removeImage, registerImage, resolveImage, unsignedRefusal } from './images.js';
import { fileSize, followFile, lastLines, readConsole, readRange } from './logs.js';
import { type JsonSchema, type Operation, loadOperations } from './openapi.js';
import { type FleetPaths, instanceFiles } from './paths.js';
import { type InstanceNetwork, type InstanceRow, type PortSpec, type RestartPolicy, type Store } from './store.js';
import type { Supervisor } from './supervisor.js';
import {
  type RequestTenant, TENANT_HEADER, addTenant, checkQuota, checkTenantName, mustGetTenant, removeTenant, resolveRequestTenant, rotateToken,
} from './tenants.js';
import { imageView, instanceView, statsView, tenantView } from './view.js';

export interface ApiContext {
  store: Store;
  supervisor: Supervisor;
  paths: FleetPaths;
  /** The admin token (TCP, or the socket with a token). */
  token?: string;
  /** The host policy "signed images only". */
  requireSigned?: boolean;
  info: () => Record<string, unknown>;
  shutdown: () => void;
  /** Handlers of operations another module serves inside unikitd (the orchestrator's deployments). */
  extraHandlers?: Record<string, ApiHandler>;
}

const requestTenants = new WeakMap<object, RequestTenant>();

/** Who the request acts as (set for every request before its handler runs). */
export function tenantOf(req: FastifyRequest): RequestTenant {
  const t = requestTenants.get(req.raw);
  if (!t) throw new FleetError('INTERNAL', 'the request has no tenant');
  return t;
}

/** Refuses a request that does not come from the admin. */
export function requireAdmin(req: FastifyRequest, what: string): void {
  if (!tenantOf(req).admin) throw new FleetError('FORBIDDEN', `${what} is for the admin (the Unix socket or the admin token), not a tenant token`);
}

export type ApiRequest = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown>; Body: Record<string, unknown> }>;
export type ApiHandler = (req: ApiRequest, reply: FastifyReply) => Promise<unknown>;
type Req = ApiRequest;
type Handler = ApiHandler;

export interface Api {
  app: FastifyInstance;
  /** The request handler, for more servers (the TCP listener) than the one fastify made. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  server: Server;
}

export async function buildApi(ctx: ApiContext): Promise<Api> {
  const { default: Fastify } = await import('fastify');
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let server: Server | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    serverFactory: (h) => {
      handler = h;
      server = createServer(h);
      return server;
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false } },
  });

  // Query strings are text: turn "true", "1", "30" into what the operation's schema says.
  app.addHook('preValidation', async (req) => {
    const schema = (req.routeOptions.schema as { querystring?: JsonSchema } | undefined)?.querystring;
    const props = (schema?.properties ?? {}) as Record<string, { type?: string }>;
    const q = req.query as Record<string, unknown>;
    for (const [k, v] of Object.entries(q)) {
      const t = props[k]?.type;
      if (typeof v !== 'string') continue;
      if (t === 'boolean' && /^(true|false|1|0)$/.test(v)) q[k] = v === 'true' || v === '1';
      else if ((t === 'integer' || t === 'number') && /^-?\d+(\.\d+)?$/.test(v)) q[k] = Number(v);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    try {
      const header = req.headers[TENANT_HEADER];
      requestTenants.set(req.raw, resolveRequestTenant(ctx.store, {
        onSocket: req.socket.remoteAddress === undefined, // the Unix socket: its file mode decides
        bearer: /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1],
        adminToken: ctx.token,
        header: Array.isArray(header) ? header[0] : header,
      }));
    } catch (e) {
      if (!(e instanceof FleetError)) throw e;
      await reply.code(e.httpStatus).send(errorBody(e.code, e.message));
    }
  });

  app.setErrorHandler((err: Error & { validation?: AjvError[]; validationContext?: string; statusCode?: number; code?: string }, _req, reply) => {
    if (err.validation && err.validation.length) {
      const { field, message } = describeValidation(err.validation[0] as AjvError, err.validationContext ?? 'body');
      return reply.code(400).send(errorBody('BAD_REQUEST', `${field}: ${message}`, field));
    }
    if (err instanceof FleetError) return reply.code(err.httpStatus).send(errorBody(err.code, err.message, err.field));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody(err.statusCode === 400 ? 'BAD_REQUEST' : (err.code ?? 'BAD_REQUEST'), err.message));
    }
    return reply.code(500).send(errorBody('INTERNAL', `internal error: ${err.message}`));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('NOT_FOUND', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`)));

  const handlers = { ...makeHandlers(ctx), ...ctx.extraHandlers };
  for (const op of await loadOperations()) {
    const h = handlers[op.operationId];
    if (!h) throw new Error(`api/openapi.yaml: no handler for ${op.operationId}`);
    app.route({ method: op.method, url: op.url, schema: op.schema, handler: h as never });
  }
  await app.ready();
  if (!handler || !server) throw new Error('fastify made no server');
  return { app, handler, server };
}

export const OPERATION_IDS = (): string[] => Object.keys(makeHandlers({} as ApiContext));

function makeHandlers(ctx: ApiContext): Record<string, Handler> {
  const { store, supervisor, paths } = ctx;
  /** One of the request's tenant's instances; another tenant's is "not found". */
  const instance = (req: Req): InstanceRow => {
    const ref = req.params.ref as string;
    const found = store.findInstances(tenantOf(req).tenant, ref);
    if (found.length === 0) throw new NotFoundError('instance', ref);
    if (found.length > 1) throw new AmbiguousError('instance', ref, found.length);
    return found[0] as InstanceRow;
  };
  const view = (r: InstanceRow): unknown => instanceView(r, store);

  return {
    getInfo: async (req) => {
      const t = tenantOf(req);
      return { ...ctx.info(), requireSigned: ctx.requireSigned === true, tenant: t.tenant, admin: t.admin };
    },
    shutdown: async (req, reply) => {
      requireAdmin(req, 'stopping unikitd');
      setTimeout(ctx.shutdown, 50);
      return reply.code(202).send({ message: 'unikitd is stopping; instances keep running' });
    },

    listImages: async (req) => store.listImages(tenantOf(req).tenant).map(imageView),
    addImage: async (req, reply) => {
      const t = tenantOf(req);
      const { image, created } = await registerImage(store, paths, req.body.path as string, {
        tenant: t.tenant, name: req.body.name as string | undefined, actor: t.actor, requireSigned: ctx.requireSigned,
      });
      return reply.code(created ? 201 : 200).send(imageView(image));
    },
    getImage: async (req) => imageView(resolveImage(store, tenantOf(req).tenant, req.params.ref as string)),
    removeImage: async (req, reply) => {
      await removeImage(store, tenantOf(req).tenant, req.params.ref as string);
      return reply.code(204).send();
    },

    listInstances: async (req) => {
      const tenant = tenantOf(req).tenant;
      const names = new Map(store.listImages(tenant).map((i) => [i.id, i.name]));
      const state = req.query.state as string | undefined;
      return store.listInstances(tenant).filter((r) => state === undefined || r.state === state).map((r) => instanceView(r, store, names));
    },
    createInstance: async (req, reply) => {
      const t = tenantOf(req);
      const b = req.body;
      let image;
      try {
        image = resolveImage(store, t.tenant, b.image as string);
      } catch (e) {
        if (e instanceof FleetError) throw new FleetError(e.code, e.message, 'image');
        throw e;
      }
      const ports = ((b.ports ?? []) as Partial<PortSpec>[]).map((p) => ({
        proto: p.proto ?? 'tcp', hostIp: p.hostIp ?? '127.0.0.1', hostPort: p.hostPort as number, guestPort: p.guestPort as number,
      }));
      if ((b.network === 'none' || b.network === 'tap') && ports.length) throw new BadRequestError('ports', 'port forwards need network "user" (a tap instance is reached at its own address)');
      const network = ports.length ? 'user' : ((b.network as InstanceNetwork | undefined) ?? 'none');
      const noTap = network === 'tap' ? tapUnavailable() : undefined;
      if (noTap) throw new BadRequestError('network', `"tap" is not available to unikitd here: ${noTap.replace(/^--net tap /, 'it ')}`);
      const id = randomBytes(6).toString('hex');
      const now = Date.now();
      const row: InstanceRow = {
        id, tenant: t.tenant, name: (b.name as string | undefined) ?? `${image.name.slice(0, 48)}-${id.slice(0, 6)}`, imageId: image.id,
        memory: (b.memory as number | undefined) ?? image.memory, args: (b.args as string[] | undefined) ?? null,
        env: (b.env as string[] | undefined) ?? [], network, ports, ip: null,
        restartPolicy: (b.restart as RestartPolicy | undefined) ?? 'no', maxRetries: (b.maxRetries as number | undefined) ?? 0,
        state: 'created', pid: null, pidStart: null, accel: null, createdAt: now, startedAt: null, bootedAt: null, bootMs: null,
        finishedAt: null, exitStatus: null, exitReason: null, exitDetail: null, restartCount: 0, stopRequested: false,
      };
      if (ctx.requireSigned && !image.signed) {
        appendAudit(store, { tenant: t.tenant, actor: t.actor, kind: 'instance.refused', subject: row.name, detail: { reason: 'policy', policy: 'require-signed', image: image.name } });
        throw unsignedRefusal(`cannot create ${row.name}: its image ${image.name}`);
      }
      // Checked and inserted with no await between: two requests cannot both take the last place.
      checkQuota(store, row, { active: b.start === true, actor: t.actor });
      store.insertInstance(row);
      mkdirSync(instanceFiles(paths, id).dir, { recursive: true });
      // Refused at start (host memory, ports): the instance stays created, as `unikit create` would.
      const out = b.start === true ? await supervisor.start(id, { actor: t.actor }) : row;
      return reply.code(201).send(view(store.getInstance(out.id) ?? out));
    },
    getInstance: async (req) => view(instance(req)),
    removeInstance: async (req, reply) => {
      await supervisor.remove(instance(req).id, req.query.force === true);
      return reply.code(204).send();
    },
    startInstance: async (req) => view(await supervisor.start(instance(req).id, { wait: req.query.wait === true, actor: tenantOf(req).actor })),
    stopInstance: async (req) => view(await supervisor.stop(instance(req).id, (req.query.timeout as number | undefined) ?? 10)),

    getLogs: async (req, reply) => {
      const row = instance(req);
      const f = instanceFiles(paths, row.id);
      const stream = (req.query.stream as string | undefined) ?? 'console';
      const tail = req.query.tail as number | undefined;
      const [current, old] = stream === 'klog' ? [f.klog, f.klogPrev] : stream === 'qemu' ? [f.qemuLog, f.qemuLog + '.1'] : [f.console, f.consoleOld];
      // The previous run's kernel log is history, not part of this run's.
      const initial = stream === 'klog' ? (tail === undefined ? readRange(current, 0, Number.MAX_SAFE_INTEGER) : lastLines(readRange(current, 0, Number.MAX_SAFE_INTEGER), tail))
        : readConsole(current, old, tail);
      reply.type('application/octet-stream');
      if (req.query.follow !== true) return reply.send(initial);
      const out = new PassThrough();
      out.write(initial);
      const follower = followFile(current, fileSize(current), (b) => out.write(b));
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        follower.stop();
        out.end();
      };
      req.raw.on('close', finish);
      // A created instance may be started later: follow until it has run and ended.
      const ended = (r: InstanceRow): boolean => r.state === 'exited' || r.state === 'lost';
      if (ended(row)) setImmediate(finish);
      else void supervisor.waitFor(row.id, ended, 2 ** 31 - 1).then(() => setTimeout(finish, 100));
      return reply.send(out);
    },
    getStats: async (req) => statsView(instance(req)),
    listStats: async (req) => store.listInstances(tenantOf(req).tenant).filter((r) => r.pid !== null).map(statsView),

    getEvents: async (req, reply) => {
      const tenant = tenantOf(req).tenant;
      const out = new PassThrough();
      const onInstance = (r: InstanceRow): void => {
        if (r.tenant === tenant) out.write(JSON.stringify({ type: 'instance', instance: instanceView(r, store) }) + '\n');
      };
      const onRemoved = (id: string, owner: string): void => {
        if (owner === tenant) out.write(JSON.stringify({ type: 'removed', id }) + '\n');
      };
      supervisor.events.on('instance', onInstance);
      supervisor.events.on('removed', onRemoved);
      req.raw.on('close', () => {
        supervisor.events.off('instance', onInstance);
        supervisor.events.off('removed', onRemoved);
        out.end();
      });
      out.write(JSON.stringify({ type: 'hello', at: new Date().toISOString() }) + '\n');
      return reply.type('application/x-ndjson').send(out);
    },

    listTenants: async (req) => {
      requireAdmin(req, 'listing tenants');
      return store.listTenants().map((t) => tenantView(t, store.usage(t.name)));
    },
    addTenant: async (req, reply) => {
      requireAdmin(req, 'adding a tenant');
      const b = req.body;
      const { tenant, token } = addTenant(store, {
        name: b.name as string, maxInstances: b.maxInstances as number | undefined, maxMemory: b.maxMemory as number | undefined, actor: tenantOf(req).actor,
      });
      return reply.code(201).send({ ...tenantView(tenant, store.usage(tenant.name)), token });
    },
    getTenant: async (req) => {
      const name = req.params.name as string;
      const t = tenantOf(req);
      if (!t.admin && name !== t.tenant) throw new FleetError('FORBIDDEN', `this token belongs to tenant ${JSON.stringify(t.tenant)}: it cannot read ${JSON.stringify(name)}`);
      checkTenantName(name);
      return tenantView(mustGetTenant(store, name), store.usage(name));
    },
    removeTenant: async (req, reply) => {
      requireAdmin(req, 'removing a tenant');
      removeTenant(store, req.params.name as string, tenantOf(req).actor);
      return reply.code(204).send();
    },
    rotateTenantToken: async (req) => {
      requireAdmin(req, "replacing a tenant's token");
      const name = req.params.name as string;
      const token = rotateToken(store, name, tenantOf(req).actor);
      return { ...tenantView(mustGetTenant(store, name), store.usage(name)), token };
    },

    listAudit: async (req) => {
      const t = tenantOf(req);
      const asked = req.query.tenant as string | undefined;
      if (asked !== undefined && !t.admin && asked !== t.tenant) {
        throw new FleetError('FORBIDDEN', `this token belongs to tenant ${JSON.stringify(t.tenant)}: it cannot read the audit log of ${JSON.stringify(asked)}`);
      }
      // The admin sees every tenant's rows unless it names one (query or header).
      const named = req.headers[TENANT_HEADER] !== undefined ? t.tenant : undefined;
      const tenant = t.admin ? (asked ?? named) : t.tenant;
      return listAudit(store, {
        tenant, since: req.query.since as number | undefined, kind: req.query.kind as string | undefined, limit: req.query.limit as number | undefined,
      });
    },
    appendAudit: async (req, reply) => {
      requireAdmin(req, 'writing to the audit log');
      const b = req.body;
      mustGetTenant(store, b.tenant as string);
      const seq = appendAudit(store, {
        tenant: b.tenant as string, actor: (b.actor as string | undefined) ?? tenantOf(req).actor, kind: b.kind as string,
        subject: b.subject as string, detail: (b.detail as Record<string, unknown> | undefined) ?? {},
      });
      return reply.code(201).send(listAudit(store, { since: seq - 1, limit: 1 })[0]);
    },
  };
}

// ---- errors ----

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "ports[0].hostPort" from "/ports/0/hostPort", plus a message that says what is expected. */
export function describeValidation(e: AjvError, context: string): { field: string; message: string } {
  const parts = e.instancePath.split('/').filter((p) => p !== '');
  let field = parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  const join = (name: string): string => (field ? `${field}.${name}` : name);
  let message = e.message ?? 'is not valid';
  if (e.keyword === 'required') {
    field = join(String(e.params.missingProperty));
    message = 'is required';
  } else if (e.keyword === 'additionalProperties') {
    field = join(String(e.params.additionalProperty));
    message = `is not a known ${context === 'querystring' ? 'query parameter' : 'field'}`;
  } else if (e.keyword === 'enum') {
    message = `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (e.keyword === 'pattern' && field === 'name') {
    message = 'must start with a letter or digit and hold only letters, digits, "_", "." and "-"';
  } else if (e.keyword === 'pattern' && /^env\[\d+\]$/.test(field)) {
    message = 'must be KEY=VALUE';
  }
  if (!field) field = context === 'querystring' ? 'query' : context;
  return { field, message };
}

function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

