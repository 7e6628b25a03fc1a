/**
 * npm run bench:ingress: what enforcing ingress `from` at a front costs per connection (issue 6,
 * network policy). No VMs: a node TCP server stands in for an instance, a child process is the
 * client (a fresh connection per request, sequential), through three fronts:
 *
 *   - plain: no check (a service without ingress rules);
 *   - address: the external front's CIDR check (ingress.ts admitsAddress);
 *   - peer: a per-source front's check that the client is one of its source's processes
 *     (peer.ts: the client socket's inode in /proc/net/tcp, then the processes' fds).
 *
 * Prints the median connect-to-answer time of each (--requests N, default 300) and the ratio to
 * plain, with the number of rows /proc/net/tcp had (the peer check's cost grows with it).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Front } from '../src/orchestrate/front.js';
import { admitsAddress, ingressPlan } from '../src/orchestrate/ingress.js';
import { peerIsOneOf } from '../src/orchestrate/peer.js';
import type { ServiceSpec } from '../src/orchestrate/store.js';

const i = process.argv.indexOf('--requests');
const requests = i > 0 ? Number(process.argv[i + 1]) : 300;

/** The client: `requests` sequential connections, each sends a byte and waits for the answer; prints the median ms. */
const CLIENT = `
const net = require('net');
const [port, n] = process.argv.slice(1).map(Number);
const times = [];
(async () => {
  for (let k = 0; k < n; k++) {
    const t = performance.now();
    await new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('x'));
      s.once('data', () => { times.push(performance.now() - t); s.destroy(); resolve(); });
      s.once('error', reject);
    });
  }
  times.sort((a, b) => a - b);
  console.log(times[Math.floor(times.length / 2)]);
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

async function main(): Promise<void> {
  const backend = createServer((s) => s.on('data', () => s.end('y')));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as { port: number }).port;
  const api = { name: 'api', ports: [80], ingress: [{ from: '127.0.0.1' }], egress: [], connectsTo: [] } as unknown as ServiceSpec;
  let clientPid = 0;
  const fronts: [string, Front][] = [
    ['plain', new Front()],
    ['address', new Front({ admits: admitsAddress(ingressPlan(api, 80, [api])) })],
    ['peer', new Front({ admits: (p) => peerIsOneOf(p, [clientPid]) })],
  ];
  const results: Record<string, number> = {};
  for (const [name, front] of fronts) {
    const port = await front.listen();
    front.add({ id: 'b', host: '127.0.0.1', port: backendPort });
    const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(requests)], { stdio: ['ignore', 'pipe', 'inherit'] });
    clientPid = child.pid ?? 0;
    let out = '';
    child.stdout.on('data', (b: Buffer) => void (out += b.toString()));
    const status = await new Promise<number | null>((r) => child.on('close', r));
    if (status !== 0) throw new Error(`the ${name} client failed (status ${status})`);
    results[name] = Number(out.trim());
    await front.close();
  }
  backend.close();
  const rows = readFileSync('/proc/net/tcp', 'latin1').trim().split('\n').length - 1;
  const plain = results.plain as number;
  console.log(`median connect-to-answer, ${requests} sequential connections each (/proc/net/tcp: ${rows} rows)`);
  for (const [name, ms] of Object.entries(results)) console.log(`  ${name.padEnd(8)} ${ms.toFixed(3)} ms  (${(ms / plain).toFixed(2)}x plain)`);
}

main().catch((e: Error) => {
  console.error(`bench:ingress: ${e.message}`);
  process.exit(1);
});
