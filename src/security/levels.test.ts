/** The level table: what each level turns on, the override rules, and docs/security.md kept equal to it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../project/index.js';
import { LEVELS, MECHANISM_TABLE, SecurityError, levelTableMarkdown, planSecurity } from './index.js';

describe('security levels', () => {
  it('maps each level to its kernel flags and build steps', () => {
    const flags = Object.fromEntries(LEVELS.map((l) => [l, planSecurity(l).flags]));
    expect(flags).toEqual({
      low: ['fast', 'execdata'],
      medium: ['wx', 'aslr'],
      high: ['wx', 'aslr', 'ro', 'strict'],
      strict: ['wx', 'aslr', 'ro', 'strict'],
    });
    expect(LEVELS.map((l) => planSecurity(l).build)).toEqual([
      { sign: false, syscallAllowlist: false, fast: true },
      { sign: true, syscallAllowlist: false, fast: false },
      { sign: true, syscallAllowlist: true, fast: false },
      { sign: true, syscallAllowlist: true, fast: false },
    ]);
  });

  it('never weakens a level as it goes up: each mechanism on at a level is on above it', () => {
    for (const row of MECHANISM_TABLE) {
      const on = LEVELS.map((l) => row.on[l]);
      expect(on.slice(on.indexOf(true))).not.toContain(false);
    }
  });

  it('overrides: any may turn a mechanism on; turning off is refused for fast and execdata above low, at strict, and for network', () => {
    expect(planSecurity('low', { aslr: true })).toMatchObject({ flags: ['fast', 'execdata', 'aslr'], strengthened: ['aslr'] });
    expect(planSecurity('low', { isolation: true, nx: true }).flags).toEqual([]);
    expect(planSecurity('high', { ro: false })).toMatchObject({ flags: ['wx', 'aslr', 'strict'], weakened: ['ro'] });
    expect(planSecurity('medium', { signed: false }).build.sign).toBe(false);
    expect(() => planSecurity('medium', { isolation: false })).toThrow('isolation cannot be turned off at level medium (only at low)');
    expect(() => planSecurity('high', { nx: false })).toThrow('nx cannot be turned off at level high (only at low)');
    expect(() => planSecurity('strict', { ro: false })).toThrow('ro cannot be turned off at level strict');
    expect(() => planSecurity('low', { network: false })).toThrow('network cannot be turned off at any level');
    expect(() => planSecurity('high', { wings: true })).toThrow(SecurityError);
    expect(() => planSecurity('paranoid')).toThrow('unknown security level "paranoid": use one of low, medium, high, strict');
  });

  it('docs/security.md holds the table as the code has it', () => {
    const doc = readFileSync(join(projectRoot(), 'docs', 'security.md'), 'utf8');
    const m = /<!-- level-table -->\n([\s\S]*?)<!-- \/level-table -->/.exec(doc);
    expect(m?.[1]).toBe(levelTableMarkdown());
  });
});
