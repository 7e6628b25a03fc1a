/** --file HOST[:GUEST]: a host path and where it goes in the image (/<basename> by default). */
import { basename } from 'node:path';
import { type FileSpec, ImageError, checkEnvEntry } from '../image/index.js';
import { UsageError } from './usage.js';

export function parseFileSpec(text: string): FileSpec {
  // Split at the last colon: guest paths are ours to choose, host paths are whatever exists.
  const colon = text.lastIndexOf(':');
  const host = colon >= 0 ? text.slice(0, colon) : text;
  const guest = colon >= 0 ? text.slice(colon + 1) : '/' + basename(text);
  if (host === '' || guest === '') throw new UsageError(`bad --file ${JSON.stringify(text)}: write HOST:GUEST, e.g. ./data.txt:/data.txt`);
  return { host, guest };
}

/** --env K=V values, checked as usage errors. */
export function parseEnvOptions(values: readonly string[]): string[] {
  for (const v of values) {
    try {
      checkEnvEntry(v);
    } catch (e) {
      if (e instanceof ImageError) throw new UsageError(e.message);
      throw e;
    }
  }
  return [...values];
}
