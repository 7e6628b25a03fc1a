/** `unikit keys [--json]`: the image-signing key of this host (made on first use), its public half. */
import { signingKey, trustedKeys, keysDir } from '../../image/index.js';
import { parseArgs } from '../args.js';
import { UsageError } from '../usage.js';

export async function keysCommand(argv: readonly string[], io: { out: (s: string) => void }): Promise<number> {
  const p = parseArgs('keys', argv, [{ name: 'json', kind: 'flag' }]);
  if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}: \`unikit keys\` takes none`);
  const key = await signingKey();
  const trusted = (await trustedKeys()).length - 1;
  if (p.flags.has('json')) {
    io.out(JSON.stringify({ keyId: key.keyId, algorithm: 'ed25519', publicKey: key.publicPem, privateKey: key.path, trustedDir: `${keysDir()}/trusted`, trusted }, null, 2) + '\n');
    return 0;
  }
  io.out(`image-signing key ${key.keyId} (ed25519), private key ${key.path}\n`);
  io.out(`other hosts trust images signed here once this public key is in their ${keysDir()}/trusted/<name>.pub:\n`);
  io.out(key.publicPem);
  io.out(`this host trusts ${trusted} other key${trusted === 1 ? '' : 's'} (${keysDir()}/trusted)\n`);
  return 0;
}
