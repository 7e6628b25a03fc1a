/** `--input NAME=VALUE` of validate and deploy: a TOSCA template's inputs, VALUE read as a YAML scalar. */
import { parse as parseYaml } from 'yaml';
import { UsageError } from './usage.js';

/** 8080 is an integer, true a boolean, "64 MiB" a string. */
export function parseInputOptions(specs: readonly string[]): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad --input ${JSON.stringify(spec)}: write NAME=VALUE`);
    let value: unknown;
    try {
      value = parseYaml(spec.slice(eq + 1));
    } catch {
      value = spec.slice(eq + 1);
    }
    inputs[spec.slice(0, eq)] = value ?? '';
  }
  return inputs;
}
