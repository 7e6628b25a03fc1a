/** Pure parts of unikitd: the contract's operations against the handlers, boot slots, log tails. */
import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_OPERATION_IDS } from '../orchestrate/index.js';
import { OPERATION_IDS, Slots, lastLines, loadOperations } from './index.js';

describe('api/openapi.yaml', () => {
  it('has a handler for every operation and an operation for every handler', async () => {
    const ops = await loadOperations();
    // The orchestrator (src/orchestrate) serves the /v1/deployments operations inside unikitd.
    expect(ops.map((o) => o.operationId).sort()).toEqual([...OPERATION_IDS(), ...DEPLOYMENT_OPERATION_IDS].sort());
    const create = ops.find((o) => o.operationId === 'createInstance');
    expect(create?.url).toBe('/v1/instances');
    expect((create?.schema.body as { required: string[] }).required).toEqual(['image']);
    expect(ops.find((o) => o.operationId === 'stopInstance')?.url).toBe('/v1/instances/:ref/stop');
  });
});

describe('Slots', () => {
  it('bounds concurrency and serves waiters first come, first served', async () => {
    const s = new Slots(2);
    const order: number[] = [];
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    const later = [3, 4, 5].map((n) => s.acquire().then((r) => {
      order.push(n);
      return r;
    }));
    expect(s.inUse).toBe(2);
    expect(s.queued).toBe(3);
    r1();
    r1(); // a second release does nothing
    const r3 = await later[0];
    expect(s.inUse).toBe(2);
    r2();
    r3?.();
    await Promise.all(later);
    expect(order).toEqual([3, 4, 5]);
  });
});

describe('lastLines', () => {
  it('keeps the last N lines, a final newline included', () => {
    expect(lastLines(Buffer.from('a\nb\nc\n'), 2).toString()).toBe('b\nc\n');
    expect(lastLines(Buffer.from('a\nb\nc'), 1).toString()).toBe('c');
    expect(lastLines(Buffer.from('a\n'), 5).toString()).toBe('a\n');
    expect(lastLines(Buffer.from('a\nb\n'), 0).toString()).toBe('');
  });
});

describe('Store', () => {
  it('migrates a database from before tenants: old rows go to "default", names become unique per tenant', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createRequire } = await import('node:module');
    const { Store } = await import('./store.js');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const dir = mkdtempSync(join(tmpdir(), 'ukf-db-'));
    try {
      const path = join(dir, 'state.db');
      const old = new Database(path);
      old.exec(`CREATE TABLE images (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, dir TEXT NOT NULL, app TEXT NOT NULL, prog TEXT NOT NULL,
          argv TEXT NOT NULL, env TEXT NOT NULL, cwd TEXT NOT NULL, memory INTEGER NOT NULL, kernel_size INTEGER NOT NULL, initrd_size INTEGER NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE instances (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image_id TEXT NOT NULL REFERENCES images(id), memory INTEGER NOT NULL, args TEXT,
          env TEXT NOT NULL, network TEXT NOT NULL, ports TEXT NOT NULL, restart_policy TEXT NOT NULL, max_retries INTEGER NOT NULL, state TEXT NOT NULL,
          pid INTEGER, pid_start INTEGER, accel TEXT, created_at REAL NOT NULL, started_at REAL, booted_at REAL, boot_ms REAL, finished_at REAL,
          exit_status INTEGER, exit_reason TEXT, exit_detail TEXT, restart_count INTEGER NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX instances_image ON instances(image_id);
        INSERT INTO images VALUES ('abc123', 'idle', '/x', 'idle', '/idle', '[]', '[]', '/', 8388608, 1, 1, 1);
        INSERT INTO instances (id, name, image_id, memory, env, network, ports, restart_policy, max_retries, state, created_at)
          VALUES ('i1', 'web', 'abc123', 8388608, '[]', 'none', '[]', 'no', 0, 'running', 2);`);
      old.close();
      const store = new Store(Database, path);
      expect(store.listImages('default').map((i) => [i.id, i.name, i.signed])).toEqual([['abc123', 'idle', false]]);
      expect(store.findInstances('default', 'web').map((i) => [i.id, i.tenant, i.state])).toEqual([['i1', 'default', 'running']]);
      expect(store.usage('default')).toEqual({ instances: 1, memory: 8 << 20 });
      const t = store.insertTenant({ name: 'acme', tokenHash: null, maxInstances: null, maxMemory: null, createdAt: 3 });
      expect(t.netIndex).toBe(1);
      expect(store.findInstances('acme', 'web')).toEqual([]);
      store.insertInstance({ ...(store.getInstance('i1') as NonNullable<ReturnType<typeof store.getInstance>>), id: 'i2', tenant: 'acme' });
      expect(store.findInstances('acme', 'web').map((i) => i.id)).toEqual(['i2']);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('findAttacks', () => {
  it('reads network-policy refusals as they come, and the fault report of a run ended by SIGSEGV or SIGSYS', async () => {
    const { appendFileSync, mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { findAttacks } = await import('./attacks.js');
    const dir = mkdtempSync(join(tmpdir(), 'ukf-klog-'));
    try {
      const klog = join(dir, 'klog.log');
      writeFileSync(klog, '@entering-program\nunikit: network policy: connect to 10.0.2.2:80 refused (tcp, not declared)\n@netpolicy connect tcp 10.0.2.2:80\n@netpolicy bind u');
      const first = findAttacks(klog, null, 0);
      expect(first.attacks).toEqual([{ mechanism: 'network', report: ['connect tcp 10.0.2.2:80'] }]);
      appendFileSync(klog, 'dp 0.0.0.0:53\nunikit: program fault: page fault (#PF, vector 14) at rip 0x401000, address 0xffffffff80100000 (read, user)\n@exit 139 signal\n');
      const second = findAttacks(klog, 139, first.next);
      expect(second.attacks).toEqual([
        { mechanism: 'network', report: ['bind udp 0.0.0.0:53'] },
        { mechanism: 'fault', status: 139, signal: 'SIGSEGV', report: ['unikit: program fault: page fault (#PF, vector 14) at rip 0x401000, address 0xffffffff80100000 (read, user)'] },
      ]);
      expect(findAttacks(klog, 0, second.next).attacks).toEqual([]);
      expect(findAttacks(klog, 143, 0).attacks.map((a) => a.mechanism)).toEqual(['network']); // a stop is not an attack
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
