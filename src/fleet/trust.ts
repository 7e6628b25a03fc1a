/**
 * Whose signatures an image may carry, per tenant: the host's own key and keys/trusted/*.pub (as
 * for `unikit run`), plus the tenant's own image-signing key, which the orchestrator signs the
 * tenant's images with ($UNIKIT_HOME/tenants/<tenant>/keys/image-signing.pub). Another tenant's
 * key is not among them: a tenant's image does not verify as anybody else's.
 */
import { type KeyObject, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keysDir, trustedKeys } from '../image/index.js';
import type { FleetPaths } from './paths.js';

/** Where a tenant's signing key lives (the private key beside it, mode 0600). */
export function tenantKeysDir(paths: Pick<FleetPaths, 'home'>, tenant: string): string {
  return keysDir(join(paths.home, 'tenants', tenant));
}

export async function trustedKeysFor(paths: Pick<FleetPaths, 'home'>, tenant: string): Promise<KeyObject[]> {
  const keys = await trustedKeys(paths.home);
  const pem = await readFile(join(tenantKeysDir(paths, tenant), 'image-signing.pub'), 'utf8').catch(() => undefined);
  if (pem !== undefined) keys.push(createPublicKey(pem));
  return keys;
}
