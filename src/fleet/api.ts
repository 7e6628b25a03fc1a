/**
 * The HTTP API of api/openapi.yaml on fastify: each operation's request schemas come from the
 * contract file; a handler per operationId; every error becomes {"error": {code, message, field}}.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AmbiguousError, BadRequestError, type ErrorBody, FleetError, NotFoundError } from './errors.js';
import { removeImage, registerImage, resolveImage } from './images.js';
import { fileSize, followFile, lastLines, readConsole, readRange } from './logs.js';
import { type JsonSchema, type Operation, loadOperations } from './openapi.js';
import { type FleetPaths, instanceFiles } from './paths.js';
import { type InstanceRow, type PortSpec, type RestartPolicy, type Store } from './store.js';
import type { Supervisor } from './supervisor.js';
import { imageView, instanceView, statsView } from './view.js';

export interface ApiContext {
  store: Store;
  supervisor: Supervisor;
  paths: FleetPaths;
  token?: string;
  info: () => Record<string, unknown>;
  shutdown: () => void;
  /** Handlers of operations another module serves inside unikitd (the orchestrator's deployments). */
  extraHandlers?: Record<string, ApiHandler>;
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
    if (req.socket.remoteAddress === undefined) return; // the Unix socket: its file mode decides
    const want = ctx.token;
    const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const ok = want !== undefined && got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
    if (!ok) {
      await reply.code(401).send(errorBody('UNAUTHORIZED', 'a bearer token is required on TCP: set UNIKIT_TOKEN (unikitd printed where it keeps it)'));
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
  const instance = (ref: string): InstanceRow => {
    const found = store.findInstances(ref);
    if (found.length === 0) throw new NotFoundError('instance', ref);
    if (found.length > 1) throw new AmbiguousError('instance', ref, found.length);
    return found[0] as InstanceRow;
  };
  const view = (r: InstanceRow): unknown => instanceView(r, store);

  return {
    getInfo: async () => ctx.info(),
    shutdown: async (_req, reply) => {
      setTimeout(ctx.shutdown, 50);
      return reply.code(202).send({ message: 'unikitd is stopping; instances keep running' });
    },

    listImages: async () => store.listImages().map(imageView),
    addImage: async (req, reply) => {
      const { image, created } = await registerImage(store, paths, req.body.path as string, req.body.name as string | undefined);
      return reply.code(created ? 201 : 200).send(imageView(image));
    },
    getImage: async (req) => imageView(resolveImage(store, req.params.ref as string)),
    removeImage: async (req, reply) => {
      await removeImage(store, req.params.ref as string);
      return reply.code(204).send();
    },

    listInstances: async (req) => {
      const names = new Map(store.listImages().map((i) => [i.id, i.name]));
      const state = req.query.state as string | undefined;
      return store.listInstances().filter((r) => state === undefined || r.state === state).map((r) => instanceView(r, store, names));
    },
    createInstance: async (req, reply) => {
      const b = req.body;
      let image;
      try {
        image = resolveImage(store, b.image as string);
      } catch (e) {
        if (e instanceof FleetError) throw new FleetError(e.code, e.message, 'image');
        throw e;
      }
      const ports = ((b.ports ?? []) as Partial<PortSpec>[]).map((p) => ({
        proto: p.proto ?? 'tcp', hostIp: p.hostIp ?? '127.0.0.1', hostPort: p.hostPort as number, guestPort: p.guestPort as number,
      }));
      if (b.network === 'none' && ports.length) throw new BadRequestError('ports', 'port forwards need network "user"');
      const network = ports.length ? 'user' : ((b.network as 'none' | 'user' | undefined) ?? 'none');
      const id = randomBytes(6).toString('hex');
      const now = Date.now();
      const row: InstanceRow = {
        id, name: (b.name as string | undefined) ?? `${image.name.slice(0, 48)}-${id.slice(0, 6)}`, imageId: image.id,
        memory: (b.memory as number | undefined) ?? image.memory, args: (b.args as string[] | undefined) ?? null,
        env: (b.env as string[] | undefined) ?? [], network, ports,
        restartPolicy: (b.restart as RestartPolicy | undefined) ?? 'no', maxRetries: (b.maxRetries as number | undefined) ?? 0,
        state: 'created', pid: null, pidStart: null, accel: null, createdAt: now, startedAt: null, bootedAt: null, bootMs: null,
        finishedAt: null, exitStatus: null, exitReason: null, exitDetail: null, restartCount: 0, stopRequested: false,
      };
      store.insertInstance(row);
      mkdirSync(instanceFiles(paths, id).dir, { recursive: true });
      const out = b.start === true ? await supervisor.start(id) : row;
      return reply.code(201).send(view(store.getInstance(out.id) ?? out));
    },
    getInstance: async (req) => view(instance(req.params.ref as string)),
    removeInstance: async (req, reply) => {
      await supervisor.remove(instance(req.params.ref as string).id, req.query.force === true);
      return reply.code(204).send();
    },
    startInstance: async (req) => view(await supervisor.start(instance(req.params.ref as string).id, { wait: req.query.wait === true })),
    stopInstance: async (req) => view(await supervisor.stop(instance(req.params.ref as string).id, (req.query.timeout as number | undefined) ?? 10)),

    getLogs: async (req, reply) => {
      const row = instance(req.params.ref as string);
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
    getStats: async (req) => statsView(instance(req.params.ref as string)),
    listStats: async () => store.listInstances().filter((r) => r.pid !== null).map(statsView),

    getEvents: async (req, reply) => {
      const out = new PassThrough();
      const onInstance = (r: InstanceRow): void => void out.write(JSON.stringify({ type: 'instance', instance: instanceView(r, store) }) + '\n');
      const onRemoved = (id: string): void => void out.write(JSON.stringify({ type: 'removed', id }) + '\n');
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

