/** Sizes as people type them: 4M, 16MiB, 512K, 1G, 1048576 (bytes). Units are binary. */
import { UsageError } from './usage.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

export function parseSize(text: string, option = '--mem'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`bad size for ${option}: ${JSON.stringify(text)} (write a number with an optional K, M or G suffix, e.g. 64M)`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes <= 0 || !Number.isSafeInteger(bytes)) throw new UsageError(`bad size for ${option}: ${JSON.stringify(text)} must be more than 0`);
  return bytes;
}
