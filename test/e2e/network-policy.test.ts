/**
 * The network policy with real VMs on user networking: a declared port serves through -p, an
 * undeclared one cannot be listened on, a declared host listener (10.0.2.2) is reached and an
 * undeclared one is refused by the guest kernel, with its log line and audit marker.
 */
import { createSocket } from 'node:dgram';
import { type Server, createServer } from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freeUdpPort, httpGet, makeDocroot, startGuest, udpRoundTrip } from '../support/net.js';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';
import { startTestDaemon, until } from '../fleet/support.js';

const ATTACK = appPath('attack-netpolicy');
const out = (o: Outcome): string => o.stdout.toString('utf8');

/** A host TCP server that records what it is sent. */
async function recorder(): Promise<{ server: Server; port: number; received: () => string }> {
  let got = '';
  const server = createServer((c) => c.on('data', (b: Buffer) => (got += b.toString('utf8'))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, received: () => got };
}

describe.skipIf(!kernelBuilt() || !existsSync(ATTACK) || !existsSync(appPath('httpd')) || !existsSync(appPath('udp-echo')))('network policy (real VMs, user networking)', () => {
  let declared: Awaited<ReturnType<typeof recorder>>;
  let undeclared: Awaited<ReturnType<typeof recorder>>;
  beforeAll(async () => {
    [declared, undeclared] = await Promise.all([recorder(), recorder()]);
  });
  afterAll(async () => {
    for (const r of [declared, undeclared]) await new Promise<void>((done) => r?.server.close(() => done()));
  });

  it('a port forwarded with -p is declared and serves, with no egress at all (restrict=on)', async () => {
    const www = makeDocroot();
    const port = await freePort();
    const guest = await startGuest([appPath('httpd'), '--file', `${www.dir}:/www`, '-p', `${port}:80`, '--egress', 'none'], { ready: /listening on port 80/ });
    try {
      const r = await httpGet('127.0.0.1', port, '/1k.bin');
      expect(r.status).toBe(200);
      expect(r.body.equals(www.files['/1k.bin'] as Buffer)).toBe(true);
    } finally {
      expect(await guest.stop()).toBe(143);
    }
  });

  it('a UDP server on a declared port answers its clients, with no egress declared (no restrict=on then)', async () => {
    const port = await freeUdpPort();
    const guest = await startGuest([appPath('udp-echo'), '-p', `${port}:9999/udp`, '--egress', 'none', '--', '9999'], { ready: /listening on port 9999/ });
    const socket = createSocket('udp4');
    try {
      const back = await udpRoundTrip(socket, 'ping', port, '127.0.0.1');
      expect(back?.toString()).toBe('ping');
      expect(guest.stderr()).not.toContain('refused');
    } finally {
      socket.close();
      await guest.stop();
    }
  });

  it('listens only on a declared port (the policy recorded in the image)', async () => {
    const image = join(mkdtempSync(join(tmpdir(), 'unikit-netpolicy-')), 'attack.unikit');
    expect((await runCli(['build', ATTACK, '--listen', '8080', '-o', image])).status).toBe(0);
    expect(out(await runCli(['inspect', image]))).toContain('network   policy: listen 8080; egress none');
    const refused = await runCli(['run', image, '--', 'listen', '9000']);
    expect({ status: refused.status, out: out(refused) }).toMatchObject({ status: 1, out: expect.stringContaining('(errno 13)') });
    expect(refused.stderr).toContain('unikit: network policy: bind to 0.0.0.0:9000 refused (tcp, not a declared listen port)');
    const allowed = await runCli(['run', image, '--', 'listen', '8080']);
    expect({ status: allowed.status, out: out(allowed) }).toMatchObject({ status: 0, out: expect.stringContaining('ATTACK SUCCEEDED') });
  });

  it('unikitd boots an image with the policy it records', async () => {
    const image = join(mkdtempSync(join(tmpdir(), 'unikit-netpolicy-')), 'attack.unikit');
    expect((await runCli(['build', ATTACK, '--listen', '8080', '-o', image])).status).toBe(0);
    const d = await startTestDaemon();
    try {
      expect((await d.cli(['create', image, '--name', 'np', '--', 'listen', '9000'])).status).toBe(0);
      expect((await d.cli(['start', 'np'])).status).toBe(0);
      const console = await until('the attack to end', async () => {
        const text = out(await d.cli(['logs', 'np']));
        return text.includes('(errno') || text.includes('SUCCEEDED') ? text : undefined;
      });
      expect(console).toContain('attack refused: listen on undeclared port 9000: Permission denied (errno 13)');
      expect(out(await d.cli(['logs', '--klog', 'np']))).toContain('@netpolicy bind tcp 0.0.0.0:9000');
    } finally {
      await d.dispose();
    }
  });

  it('reaches a declared host listener and is refused an undeclared one, logged with its marker', async () => {
    const policy = ['--egress', `10.0.2.2:${declared.port}`];
    const ok = await runCli(['run', ATTACK, ...policy, '--', 'connect', `10.0.2.2:${declared.port}`]);
    expect({ status: ok.status, out: out(ok) }).toMatchObject({ status: 0, out: expect.stringContaining('ATTACK SUCCEEDED') });
    // The host side may read the bytes after the VM has exited: a loaded host needs more than poll's 1 s default.
    await expect.poll(() => declared.received(), { timeout: 15_000 }).toBe('exfiltrated\n');

    const no = await runCli(['run', ATTACK, ...policy, '--verbose', '--', 'connect', `10.0.2.2:${undeclared.port}`]);
    expect({ status: no.status, out: out(no) }).toMatchObject({ status: 1, out: expect.stringContaining('(errno 13)') });
    expect(no.stderr).toContain(`unikit: network policy: connect to 10.0.2.2:${undeclared.port} refused (tcp, not a declared egress target)`);
    expect(no.stderr).toContain(`@netpolicy connect tcp 10.0.2.2:${undeclared.port}`);
    expect(undeclared.received()).toBe('');
  });

  it('refuses a malformed policy before any VM starts', async () => {
    for (const [args, message] of [
      [['--egress', 'db.example.com:5432'], 'a host name: resolve it to an IPv4 address first'],
      [['--listen', '0'], 'bad listen port "0"'],
      [['--egress', '10.0.2.2'], 'no :PORT'],
    ] as const) {
      const o = await runCli(['run', ATTACK, ...args, '--', 'listen', '1']);
      expect({ status: o.status, stderr: o.stderr }).toMatchObject({ status: 2, stderr: expect.stringContaining(message) });
    }
  });
});
