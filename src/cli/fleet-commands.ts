/**
 * The unikitd commands: daemon, images, create, start, up, ps, logs, stop, rm, stats, and tenant
 * and audit (commands/). Each is a thin client of the daemon's HTTP API (src/fleet); the daemon is
 * started on demand. Exported as one entry point so that main.ts needs a single line for all of them.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  FleetClient, FleetError, type ImageView, type InstanceView, type StatsView, startDaemon,
} from '../fleet/index.js';
import { startOrchestrator } from '../orchestrate/index.js';
import { type OptionSpec, type ParsedArgs, parseArgs } from './args.js';
import { auditCommand } from './commands/audit.js';
import { tenantCommand } from './commands/tenant.js';
import { parseEnvOptions } from './file-spec.js';
import { ago, bytes, connected, duration, fleetClient, table, takeTenantOption } from './fleet-util.js';
import { parseSize } from './size.js';
import { UsageError } from './usage.js';

export const FLEET_COMMANDS = ['daemon', 'images', 'create', 'start', 'up', 'ps', 'logs', 'stop', 'rm', 'stats', 'tenant', 'audit'] as const;
export type FleetCommand = (typeof FLEET_COMMANDS)[number];

export function isFleetCommand(name: string | undefined): name is FleetCommand {
  return (FLEET_COMMANDS as readonly string[]).includes(name ?? '');
}

export interface FleetIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Raw bytes for stdout (logs); io.out of their UTF-8 decoding when absent. */
  outBytes?: (b: Buffer) => void;
  /** stderr is a terminal: progress lines may be redrawn in place. */
  tty?: boolean;
}

export const FLEET_HELP = `
unikitd, the control plane (started on demand; $UNIKIT_HOME/fleet holds its state):
  unikit daemon [--tcp HOST:PORT] [--boot-concurrency N] [--memory-budget SIZE] [--vm-overhead SIZE] [--require-signed]
      run unikitd in the foreground (Unix socket; TCP needs the bearer token it writes to fleet/token);
      --require-signed: refuse unsigned images at registration and before each boot
  unikit daemon stop               stop unikitd (its instances keep running; the next unikitd adopts them)
  unikit images [ls] [-q] [--json] | images add DIR [--name NAME] | images rm IMAGE...
  unikit create IMAGE [--name NAME] [--mem SIZE] [--env K=V]... [--net none|user|tap] [-p HOSTPORT:GUESTPORT]...
                [--restart no|on-failure[:N]|always] [--start] [-- ARGS...]
  unikit start INSTANCE...        unikit stop [-t SECONDS] INSTANCE...      unikit rm [-f] INSTANCE...
  unikit up -n N IMAGE [create's options]   start N instances at once, with progress
  unikit ps [-a] [-q] [--json]    unikit logs [-f] [--tail N] [--klog] INSTANCE    unikit stats [--json] [INSTANCE...]
  unikit tenant add NAME [--max-instances N] [--max-memory SIZE] [--json]   prints the tenant's API token, once
  unikit tenant ls [--json] | tenant rm NAME | tenant token NAME (a new token; the old one stops working)
  unikit audit [--tenant T] [--since N] [--kind K] [--limit N] [--json]     the append-only audit log
IMAGE is a registered image's name or id, or an image directory (registered on first use).
Every command acts as one tenant: --tenant NAME or UNIKIT_TENANT (the admin's choice), the tenant of
UNIKIT_TOKEN when it is a tenant token, else "default"; another tenant's images and instances are
invisible. UNIKIT_HOST=tcp://HOST:PORT and UNIKIT_TOKEN reach a daemon on TCP instead.
`;

/** Runs one fleet command; returns the exit status. Failures become one "unikit: ..." line. */
export async function runFleetCommand(command: FleetCommand, argvIn: readonly string[], io: FleetIo): Promise<number> {
  try {
    const argv = splitShortFlags(command === 'daemon' ? argvIn : takeTenantOption(argvIn));
    if (argv.includes('--help') || argv.includes('-h')) {
      io.out(FLEET_HELP.trimStart());
      return 0;
    }
    switch (command) {
      case 'daemon': return await daemonCommand(argv, io);
      case 'images': return await imagesCommand(argv, io);
      case 'create': return await createCommand(argv, io);
      case 'start': return await startCommand(argv, io);
      case 'up': return await upCommand(argv, io);
      case 'ps': return await psCommand(argv, io);
      case 'logs': return await logsCommand(argv, io);
      case 'stop': return await stopCommand(argv, io);
      case 'rm': return await rmCommand(argv, io);
      case 'stats': return await statsCommand(argv, io);
      case 'tenant': return await tenantCommand(argv, io);
      case 'audit': return await auditCommand(argv, io);
    }
  } catch (e) {
    if (e instanceof FleetError) {
      io.err(`unikit: ${e.message}\n`);
      return e.code === 'BAD_REQUEST' ? 2 : 1;
    }
    throw e;
  }
}

const enc = encodeURIComponent;

// ---- daemon ----

async function daemonCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  if (argv[0] === 'stop') return await daemonStop(argv.slice(1), io);
  const p = parseArgs('daemon', argv, [
    { name: 'tcp', kind: 'value' }, { name: 'boot-concurrency', kind: 'value' }, { name: 'memory-budget', kind: 'value' },
    { name: 'vm-overhead', kind: 'value' }, { name: 'log-cap', kind: 'value' }, { name: 'tb-size', kind: 'value' },
    { name: 'accel', kind: 'value' }, { name: 'require-signed', kind: 'flag' },
  ]);
  noPositionals('daemon', p);
  let tcp: { host: string; port: number } | undefined;
  const tcpText = p.values.get('tcp');
  if (tcpText !== undefined) {
    const m = /^(?:([^:]+):)?(\d+)$/.exec(tcpText);
    if (!m) throw new UsageError(`bad --tcp ${JSON.stringify(tcpText)}: write HOST:PORT, e.g. 127.0.0.1:7070`);
    tcp = { host: m[1] ?? '127.0.0.1', port: Number(m[2]) };
  }
  const size = (name: string): number | undefined => {
    const v = p.values.get(name);
    return v === undefined ? undefined : parseSize(v, `--${name}`);
  };
  const accel = p.values.get('accel');
  if (accel !== undefined && !['auto', 'kvm', 'tcg'].includes(accel)) throw new UsageError(`bad --accel ${JSON.stringify(accel)}: use auto, kvm or tcg`);
  const d = await startDaemon({
    tcp,
    token: process.env.UNIKIT_TOKEN || undefined,
    bootConcurrency: positiveInt(p, 'boot-concurrency'),
    memoryBudget: size('memory-budget'),
    vmOverhead: size('vm-overhead'),
    logCap: size('log-cap'),
    tbSizeMiB: positiveInt(p, 'tb-size'),
    accel: accel as 'auto' | 'kvm' | 'tcg' | undefined,
    requireSigned: p.flags.has('require-signed'),
    log: (line) => io.err(`unikitd: ${line}\n`),
    extensions: [startOrchestrator],
  });
  io.err(`unikitd: serving ${d.paths.socket}${d.tcpAddress ? ` and tcp://${d.tcpAddress} (token in ${d.tokenFile ?? '$UNIKIT_TOKEN'})` : ''} (pid ${process.pid}, ${d.accel}${p.flags.has('require-signed') ? ', signed images only' : ''})\n`);
  const stop = (): void => void d.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await d.closed;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  io.err('unikitd: stopped (instances keep running)\n');
  return 0;
}

/** `unikit daemon stop`: asks unikitd to stop (POST /v1/shutdown) and waits until it no longer answers; instances keep running. */
async function daemonStop(argv: readonly string[], io: FleetIo): Promise<number> {
  noPositionals('daemon stop', parseArgs('daemon stop', argv, []));
  const c = fleetClient();
  if (!(await c.ping())) {
    io.err('unikitd is not running\n');
    return 0;
  }
  await c.json('POST', '/v1/shutdown');
  for (let i = 0; i < 100 && (await c.ping()); i++) await new Promise((r) => setTimeout(r, 100));
  if (await c.ping()) throw new UsageError('unikitd still answers 10 s after it was asked to stop');
  io.err('unikitd stopped (instances keep running; the next unikitd adopts them)\n');
  return 0;
}

// ---- images ----

async function imagesCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const [sub, ...rest] = argv[0] !== undefined && !argv[0].startsWith('-') ? argv : ['ls', ...argv];
  const c = await connected();
  switch (sub) {
    case 'ls':
    case 'list': {
      const p = parseArgs('images ls', rest, [{ name: 'json', kind: 'flag' }, { name: 'quiet', short: 'q', kind: 'flag' }]);
      const images = await c.json<ImageView[]>('GET', '/v1/images');
      if (p.flags.has('json')) io.out(JSON.stringify(images, null, 2) + '\n');
      else if (p.flags.has('quiet')) io.out(images.map((i) => i.id + '\n').join(''));
      else {
        io.out(table(['ID', 'NAME', 'APP', 'MEMORY', 'SIZE', 'CREATED'], images.map((i) => [
          i.id, i.name, i.app, bytes(i.memory), bytes(i.kernelSize + i.initrdSize), ago(i.createdAt),
        ])));
      }
      return 0;
    }
    case 'add': {
      const p = parseArgs('images add', rest, [{ name: 'name', kind: 'value' }]);
      const dir = onlyOne('images add', p, 'an image directory');
      const img = await c.json<ImageView>('POST', '/v1/images', { path: resolve(dir), ...(p.values.has('name') ? { name: p.values.get('name') } : {}) });
      io.out(`${img.name} ${img.id}\n`);
      return 0;
    }
    case 'rm':
    case 'remove': {
      const p = parseArgs('images rm', rest, []);
      if (!p.positionals.length) throw new UsageError('`unikit images rm` needs at least one image');
      let status = 0;
      for (const ref of p.positionals) {
        try {
          await c.json('DELETE', `/v1/images/${enc(ref)}`);
          io.out(ref + '\n');
        } catch (e) {
          if (!(e instanceof FleetError)) throw e;
          io.err(`unikit: ${e.message}\n`);
          status = 1;
        }
      }
      return status;
    }
    default:
      throw new UsageError(`unknown \`unikit images\` command ${JSON.stringify(sub)}: use ls, add or rm`);
  }
}

// ---- create, start, up ----

const CREATE_OPTIONS: OptionSpec[] = [
  { name: 'name', kind: 'value' }, { name: 'mem', short: 'm', kind: 'value' }, { name: 'env', short: 'e', kind: 'list' },
  { name: 'net', kind: 'value' }, { name: 'publish', short: 'p', kind: 'list' }, { name: 'restart', kind: 'value' },
  { name: 'json', kind: 'flag' },
];

interface CreateBody {
  image: string;
  name?: string;
  memory?: number;
  args?: string[];
  env?: string[];
  network?: 'none' | 'user' | 'tap';
  ports?: { hostPort: number; guestPort: number; proto: 'tcp' | 'udp'; hostIp: string }[];
  restart?: string;
  maxRetries?: number;
  start?: boolean;
}

/** IMAGE is a registered name or id, or a directory to register first. */
async function imageRef(c: FleetClient, ref: string): Promise<string> {
  if (existsSync(ref) && statSync(ref).isDirectory()) {
    const img = await c.json<ImageView>('POST', '/v1/images', { path: resolve(ref) });
    return img.id;
  }
  return ref;
}

function createBody(p: ParsedArgs, image: string): CreateBody {
  const body: CreateBody = { image };
  const mem = p.values.get('mem');
  if (mem !== undefined) body.memory = parseSize(mem);
  if (p.rest !== undefined) body.args = p.rest;
  const env = p.lists.get('env');
  if (env) body.env = parseEnvOptions(env);
  const net = p.values.get('net');
  if (net !== undefined) {
    if (net !== 'none' && net !== 'user' && net !== 'tap') throw new UsageError(`bad --net ${JSON.stringify(net)}: use none, user or tap`);
    body.network = net;
  }
  const ports = p.lists.get('publish');
  if (ports) body.ports = ports.map(parsePort);
  const restart = p.values.get('restart');
  if (restart !== undefined) {
    const m = /^(no|always|on-failure)(?::(\d+))?$/.exec(restart);
    if (!m || (m[2] !== undefined && m[1] === 'no')) throw new UsageError(`bad --restart ${JSON.stringify(restart)}: use no, on-failure[:MAX], always[:MAX]`);
    body.restart = m[1];
    if (m[2] !== undefined) body.maxRetries = Number(m[2]);
  }
  return body;
}

/** [HOSTIP:]HOSTPORT:GUESTPORT[/udp] */
function parsePort(text: string): { hostPort: number; guestPort: number; proto: 'tcp' | 'udp'; hostIp: string } {
  const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(text);
  const ok = (n: number): boolean => n >= 1 && n <= 65535;
  if (!m || !ok(Number(m[2])) || !ok(Number(m[3]))) throw new UsageError(`bad -p ${JSON.stringify(text)}: write [HOSTIP:]HOSTPORT:GUESTPORT[/udp], e.g. 8080:80`);
  return { hostIp: m[1] ?? '127.0.0.1', hostPort: Number(m[2]), guestPort: Number(m[3]), proto: (m[4] ?? 'tcp') as 'tcp' | 'udp' };
}

async function createCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('create', argv, [...CREATE_OPTIONS, { name: 'start', kind: 'flag' }]);
  const ref = onlyOne('create', p, 'an image: unikit create IMAGE');
  const c = await connected();
  const body = createBody(p, await imageRef(c, ref));
  const name = p.values.get('name');
  if (name !== undefined) body.name = name;
  if (p.flags.has('start')) body.start = true;
  const inst = await c.json<InstanceView>('POST', '/v1/instances', body);
  io.out(p.flags.has('json') ? JSON.stringify(inst, null, 2) + '\n' : inst.id + '\n');
  return 0;
}

async function startCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('start', argv, [{ name: 'json', kind: 'flag' }]);
  if (!p.positionals.length) throw new UsageError('`unikit start` needs at least one instance');
  const c = await connected();
  let status = 0;
  const results = await Promise.all(p.positionals.map(async (ref) => {
    try {
      return await c.json<InstanceView>('POST', `/v1/instances/${enc(ref)}/start?wait=true`);
    } catch (e) {
      if (!(e instanceof FleetError)) throw e;
      io.err(`unikit: ${e.message}\n`);
      status = 1;
      return undefined;
    }
  }));
  for (const r of results) {
    if (!r) continue;
    if (p.flags.has('json')) continue;
    if (r.state === 'running') io.out(`${r.name}\n`);
    else {
      io.err(`unikit: ${r.name} is ${r.state}${r.exit ? ` (status ${r.exit.status}, ${r.exit.reason}${r.exit.detail ? `: ${r.exit.detail}` : ''})` : ''}\n`);
      status = 1;
    }
  }
  if (p.flags.has('json')) io.out(JSON.stringify(results.filter((r) => r), null, 2) + '\n');
  return status;
}

async function upCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('up', argv, [...CREATE_OPTIONS, { name: 'count', short: 'n', kind: 'value' }]);
  const ref = onlyOne('up', p, 'an image: unikit up -n N IMAGE');
  const n = positiveInt(p, 'count') ?? 1;
  const c = await connected();
  const base = createBody(p, await imageRef(c, ref));
  const prefix = p.values.get('name');
  const t0 = Date.now();

  // Follow the daemon's events first, so that no boot of ours goes unseen.
  const mine = new Map<string, InstanceView>();
  const pendingEvents = new Map<string, InstanceView>();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  let created = 0;
  let createFailed = 0;
  const settled = (v: InstanceView): boolean => v.state !== 'starting' && v.state !== 'created';
  const count = (): { running: number; failed: number } => {
    let running = 0;
    let failed = createFailed;
    for (const v of mine.values()) {
      if (v.state === 'running') running++;
      else if (settled(v)) failed++;
    }
    return { running, failed };
  };
  let lastDraw = 0;
  const draw = (final = false): void => {
    const now = Date.now();
    if (!final && now - lastDraw < 100) return;
    lastDraw = now;
    const { running, failed } = count();
    const line = `up: ${running}/${n} running, ${failed} failed, ${created - running - (failed - createFailed)} booting (${((now - t0) / 1000).toFixed(1)} s)`;
    if (io.tty) io.err(`\r${line}\x1b[K${final ? '\n' : ''}`);
    else if (final || now - lastDraw >= 0) io.err(`${line}\n`);
  };
  const check = (): void => {
    const { running, failed } = count();
    if (running + failed >= n) resolveDone();
  };
  const events = await c.raw('GET', '/v1/events');
  let buf = '';
  events.setEncoding('utf8');
  events.on('data', (text: string) => {
    buf += text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const ev = JSON.parse(line) as { type: string; instance?: InstanceView };
      if (ev.type !== 'instance' || !ev.instance) continue;
      if (mine.has(ev.instance.id)) mine.set(ev.instance.id, ev.instance);
      else pendingEvents.set(ev.instance.id, ev.instance);
    }
    if (io.tty) draw();
    check();
  });
  let drawTimer: NodeJS.Timeout | undefined;
  if (!io.tty) drawTimer = setInterval(() => draw(), 2000);

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const body: CreateBody = { ...base, start: true };
      if (prefix !== undefined) body.name = n === 1 ? prefix : `${prefix}-${i + 1}`;
      try {
        const v = await c.json<InstanceView>('POST', '/v1/instances', body);
        created++;
        const seen = pendingEvents.get(v.id);
        pendingEvents.delete(v.id);
        mine.set(v.id, seen && seen.state !== 'starting' ? seen : v);
      } catch (e) {
        if (!(e instanceof FleetError)) throw e;
        createFailed++;
        if (createFailed <= 3) io.err(`${io.tty ? '\r\x1b[K' : ''}unikit: ${e.message}\n`);
        if (['INSUFFICIENT_MEMORY', 'QUOTA_EXCEEDED', 'UNSIGNED_IMAGE', 'FORBIDDEN', 'CONFLICT', 'BAD_REQUEST', 'NOT_FOUND'].includes(e.code)) {
          createFailed += n - next;
          next = n;
        }
      }
      check();
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, n) }, worker));
  check();
  await done;
  if (drawTimer) clearInterval(drawTimer);
  events.destroy();
  draw(true);
  const views = [...mine.values()];
  const boots = views.map((v) => v.bootMs).filter((b): b is number => b !== null).sort((a, b) => a - b);
  const { running, failed } = count();
  if (p.flags.has('json')) io.out(JSON.stringify(views, null, 2) + '\n');
  else if (boots.length) {
    io.out(`${running} running in ${((Date.now() - t0) / 1000).toFixed(2)} s; boot p50 ${pct(boots, 50).toFixed(1)} ms, p99 ${pct(boots, 99).toFixed(1)} ms (${views[0]?.accel ?? '?'})\n`);
  }
  return failed > 0 ? 1 : 0;
}

// ---- ps, logs, stop, rm, stats ----

async function psCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('ps', argv, [{ name: 'all', short: 'a', kind: 'flag' }, { name: 'quiet', short: 'q', kind: 'flag' }, { name: 'json', kind: 'flag' }]);
  noPositionals('ps', p);
  const c = await connected();
  const all = await c.json<InstanceView[]>('GET', '/v1/instances');
  const shown = p.flags.has('all') ? all : all.filter((v) => v.state === 'running' || v.state === 'starting' || v.state === 'stopping' || v.state === 'restarting');
  if (p.flags.has('json')) io.out(JSON.stringify(shown, null, 2) + '\n');
  else if (p.flags.has('quiet')) io.out(shown.map((v) => v.id + '\n').join(''));
  else {
    io.out(table(['ID', 'NAME', 'IMAGE', 'STATUS', 'BOOT', 'MEM', 'PID', 'PORTS'], shown.map((v) => [
      v.id, v.name, v.image.name ?? v.image.id, status(v), v.bootMs === null ? '-' : `${v.bootMs.toFixed(1)} ms`, bytes(v.memory),
      v.pid === null ? '-' : String(v.pid),
      v.ports.map((x) => `${x.hostIp}:${x.hostPort}->${x.guestPort}/${x.proto}`).join(',') || (v.ip ? `${v.ip} (tap)` : '-'),
    ])));
  }
  return 0;
}

async function logsCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('logs', argv, [{ name: 'follow', short: 'f', kind: 'flag' }, { name: 'tail', kind: 'value' }, { name: 'klog', kind: 'flag' }, { name: 'qemu', kind: 'flag' }]);
  const ref = onlyOne('logs', p, 'an instance');
  const q = new URLSearchParams();
  if (p.flags.has('follow')) q.set('follow', 'true');
  const tail = p.values.get('tail');
  if (tail !== undefined) {
    if (!/^\d+$/.test(tail)) throw new UsageError(`bad --tail ${JSON.stringify(tail)}: give a number of lines`);
    q.set('tail', tail);
  }
  if (p.flags.has('klog')) q.set('stream', 'klog');
  if (p.flags.has('qemu')) q.set('stream', 'qemu');
  const c = await connected();
  const write = io.outBytes ?? ((b: Buffer): void => io.out(b.toString('utf8')));
  await c.stream(`/v1/instances/${enc(ref)}/logs${q.size ? `?${q.toString()}` : ''}`, write);
  return 0;
}

async function stopCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('stop', argv, [{ name: 'time', short: 't', kind: 'value' }]);
  if (!p.positionals.length) throw new UsageError('`unikit stop` needs at least one instance');
  const t = p.values.get('time') ?? '10';
  if (!/^\d+$/.test(t)) throw new UsageError(`bad -t ${JSON.stringify(t)}: give whole seconds`);
  const c = await connected();
  return each(p.positionals, io, async (ref) => {
    const v = await c.json<InstanceView>('POST', `/v1/instances/${enc(ref)}/stop?timeout=${t}`);
    io.out(`${v.name}\n`);
  });
}

async function rmCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('rm', argv, [{ name: 'force', short: 'f', kind: 'flag' }]);
  if (!p.positionals.length) throw new UsageError('`unikit rm` needs at least one instance');
  const c = await connected();
  return each(p.positionals, io, async (ref) => {
    await c.json('DELETE', `/v1/instances/${enc(ref)}${p.flags.has('force') ? '?force=true' : ''}`);
    io.out(`${ref}\n`);
  });
}

async function statsCommand(argv: readonly string[], io: FleetIo): Promise<number> {
  const p = parseArgs('stats', argv, [{ name: 'json', kind: 'flag' }, { name: 'no-stream', kind: 'flag' }]);
  const c = await connected();
  const stats = p.positionals.length
    ? await Promise.all(p.positionals.map((ref) => c.json<StatsView>('GET', `/v1/instances/${enc(ref)}/stats`)))
    : await c.json<StatsView[]>('GET', '/v1/stats');
  if (p.flags.has('json')) io.out(JSON.stringify(stats, null, 2) + '\n');
  else {
    io.out(table(['ID', 'NAME', 'STATE', 'RSS', 'PSS', 'CPU', 'UPTIME', 'BOOT', 'GUEST MEM'], stats.map((s) => [
      s.id, s.name, s.state, s.rssBytes === null ? '-' : bytes(s.rssBytes), s.pssBytes === null ? '-' : bytes(s.pssBytes),
      s.cpuSeconds === null ? '-' : `${s.cpuSeconds.toFixed(2)} s`, s.uptimeSeconds === null ? '-' : duration(s.uptimeSeconds * 1000),
      s.bootMs === null ? '-' : `${s.bootMs.toFixed(1)} ms`, bytes(s.memory),
    ])));
  }
  return 0;
}

// ---- helpers ----

/** "-aq" is "-a -q", as Docker users type it (before "--" only). */
export function splitShortFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^-[a-zA-Z]{2,}$/.test(a)) out.push(...[...a.slice(1)].map((c) => `-${c}`));
    else out.push(a);
  }
  return out;
}

async function each(refs: string[], io: FleetIo, fn: (ref: string) => Promise<void>): Promise<number> {
  let status = 0;
  await Promise.all(refs.map(async (ref) => {
    try {
      await fn(ref);
    } catch (e) {
      if (!(e instanceof FleetError)) throw e;
      io.err(`unikit: ${e.message}\n`);
      status = 1;
    }
  }));
  return status;
}

function onlyOne(command: string, p: ParsedArgs, what: string): string {
  const [first, ...extra] = p.positionals;
  if (first === undefined) throw new UsageError(`\`unikit ${command}\` needs ${what}`);
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} for \`unikit ${command}\`: put the program's own arguments after --`);
  return first;
}

function noPositionals(command: string, p: ParsedArgs): void {
  if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])} for \`unikit ${command}\``);
}

function positiveInt(p: ParsedArgs, name: string): number | undefined {
  const v = p.values.get(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`bad --${name} ${JSON.stringify(v)}: give a whole number of at least 1`);
  return Number(v);
}





function status(v: InstanceView): string {
  switch (v.state) {
    case 'running': return `up ${duration(Date.now() - Date.parse(v.bootedAt ?? v.startedAt ?? v.createdAt))}`;
    case 'exited':
    case 'lost': return `${v.state} (${v.exit?.status ?? '?'}${v.exit ? ` ${v.exit.reason}` : ''}) ${v.finishedAt ? ago(v.finishedAt) : ''}`.trim();
    case 'restarting': return `restarting (${v.exit?.status ?? '?'} ${v.exit?.reason ?? ''}, ${v.restartCount} restarts)`;
    default: return v.state;
  }
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
