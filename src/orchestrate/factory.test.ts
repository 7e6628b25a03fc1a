/** The factory's pure parts: what the cache key covers, and a service's plan at a raised level. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planSecurity } from '../security/index.js';
import type { UnikernelService } from '../tosca/index.js';
import { envPrefix } from './deployment.js';
import { fileSpec, imageHash, planAt } from './factory.js';

const dir = mkdtempSync(join(tmpdir(), 'ukfac-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function service(o: Partial<UnikernelService> = {}): UnikernelService {
  writeFileSync(join(dir, 'prog'), 'program bytes');
  writeFileSync(join(dir, 'data.txt'), 'data');
  return {
    name: 'web', binary: join(dir, 'prog'), args: ['8080'], env: ['A=1'], files: [`${join(dir, 'data.txt')}:/data.txt`],
    memory: 32 << 20, ports: [8080], security: planSecurity('high', { ro: false }), rules: [],
    scaling: { min: 1, max: 1, default: 1, standby: false }, ingress: [], egress: [], connectsTo: [], ...o,
  };
}

describe('imageHash', () => {
  it('is the same for the same inputs and changes with the level, the key, the args and a packed file', async () => {
    const s = service();
    const base = await imageHash(s, s.security, 'key-a');
    expect(await imageHash(service(), s.security, 'key-a')).toBe(base);
    expect(await imageHash(s, planAt(s, 'strict'), 'key-a')).not.toBe(base);
    expect(await imageHash(s, s.security, 'key-b')).not.toBe(base);
    expect(await imageHash(service({ args: ['9090'] }), s.security, 'key-a')).not.toBe(base);
    writeFileSync(join(dir, 'data.txt'), 'other data');
    expect(await imageHash({ ...s }, s.security, 'key-a')).not.toBe(base);
  });
});

describe('planAt', () => {
  it('keeps the overrides the raised level allows and drops a weakening it refuses', () => {
    const s = service();
    expect(planAt(s, 'high')).toBe(s.security);
    expect(s.security.mechanisms.ro).toBe(false);
    const strict = planAt(s, 'strict');
    expect(strict.level).toBe('strict');
    expect(strict.mechanisms.ro).toBe(true);
    expect(strict.weakened).toEqual([]);
  });
});

describe('names', () => {
  it('turns node names into environment prefixes and file specs into host and guest', () => {
    expect(envPrefix('web-api.v2')).toBe('WEB_API_V2');
    expect(fileSpec('/srv/site:/www')).toEqual({ host: '/srv/site', guest: '/www' });
    expect(fileSpec('/srv/site')).toEqual({ host: '/srv/site', guest: '/site' });
  });
});
