// The orchestrator's tables on a real SQLite file: instance roles, per-source fronts, and a
// database made before instances had a role.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DeploymentStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'ukstore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = { id: 'd1', tenant: 't', name: 'shop', file: 's.yaml', dir: '/', template: '', inputs: {}, state: 'running' as const, createdAt: 1 };

describe('DeploymentStore', () => {
  it('records roles and per-source front ports, removed with the deployment', () => {
    const s = new DeploymentStore(Database, join(dir, 'a.db'));
    s.insertDeployment(row);
    s.linkInstance('i1', 'd1', 'web');
    s.linkInstance('i2', 'd1', 'web', 'standby');
    expect([s.role('i1'), s.role('i2')]).toEqual(['serving', 'standby']);
    s.setRole('i2', 'serving');
    expect(s.role('i2')).toBe('serving');
    s.putSourceFront('d1', 'api', 'web', 4001);
    expect(s.sourceFronts('d1', 'api')).toEqual(new Map([['web', 4001]]));
    s.deleteDeployment('d1');
    expect(s.sourceFronts('d1', 'api').size).toBe(0);
    expect(s.instances('d1')).toEqual([]);
    s.close();
  });

  it('gives an older database the role column, its instances serving', () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE deployments (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, dir TEXT NOT NULL,
      template TEXT NOT NULL, inputs TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE (tenant, name));
      CREATE TABLE deployment_instances (instance_id TEXT PRIMARY KEY, deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE, service TEXT NOT NULL);
      INSERT INTO deployments VALUES ('d1', 't', 'shop', 's.yaml', '/', '', '{}', 'running', 1);
      INSERT INTO deployment_instances VALUES ('i1', 'd1', 'web');`);
    old.close();
    const s = new DeploymentStore(Database, path);
    expect(s.role('i1')).toBe('serving');
    s.linkInstance('i2', 'd1', 'web', 'standby');
    expect(s.role('i2')).toBe('standby');
    s.close();
  });
});
