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
