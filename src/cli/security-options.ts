/** `--level LEVEL` and `--override MECHANISM=on|off` for `unikit build`: a security plan or a usage error. */
import { type SecurityPlan, SecurityError, planSecurity } from '../security/index.js';
import { UsageError } from './usage.js';

export function planSecurityOptions(level: string | undefined, overrides: readonly string[]): SecurityPlan | undefined {
  if (level === undefined) {
    if (overrides.length > 0) throw new UsageError('--override changes a security level: give --level too');
    return undefined;
  }
  const parsed: Record<string, boolean> = {};
  for (const o of overrides) {
    const m = /^([a-z]+)=(on|off|true|false)$/.exec(o);
    if (!m) throw new UsageError(`bad --override ${JSON.stringify(o)}: write MECHANISM=on or MECHANISM=off`);
    parsed[m[1] as string] = m[2] === 'on' || m[2] === 'true';
  }
  try {
    return planSecurity(level, parsed);
  } catch (e) {
    if (e instanceof SecurityError) throw new UsageError(e.message);
    throw e;
  }
}
