/**
 * The unikitd an orchestrator test file runs against: started before its tests with the tenants
 * it names (boots two at a time), disposed after them with its scratch directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { FleetClient } from '../../src/fleet/index.js';
import { type TestDaemon, startTestDaemon } from '../fleet/support.js';

export class OrchestratorDaemon {
  /** Set before the file's first test. */
  d!: TestDaemon;
  readonly scratch: string;
  private readonly clients = new Map<string, FleetClient>();

  constructor(tenants: readonly string[], scratchPrefix: string) {
    this.scratch = mkdtempSync(join(tmpdir(), scratchPrefix));
    beforeAll(async () => {
      this.d = await startTestDaemon(['--boot-concurrency', '2']);
      for (const t of tenants) expect((await this.d.cli(['tenant', 'add', t])).status).toBe(0);
    });
    afterAll(async () => {
      await this.d?.dispose();
      rmSync(this.scratch, { recursive: true, force: true });
    });
  }

  /** The API client acting as `tenant`. */
  as(tenant: string): FleetClient {
    let c = this.clients.get(tenant);
    if (!c) this.clients.set(tenant, (c = new FleetClient({ home: this.d.home, autoStart: false, tenant })));
    return c;
  }
}
