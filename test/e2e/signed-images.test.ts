/**
 * Signed images: `unikit build --level medium` signs kernel.elf, initrd.cpio and manifest.json
 * (ed25519, key under $UNIKIT_HOME/keys); `unikit run` verifies before boot and refuses a tampered
 * image, an image signed by a key it does not trust, and a signing-level image without its
 * signature, each with one line and status 125.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Outcome, appPath, kernelBuilt, runCli } from '../support/run.js';

const work = mkdtempSync(join(tmpdir(), 'unikit-signed-'));
const signed = join(work, 'hello.unikit');
let copies = 0;

/** A copy of the signed image with `change` applied to it. */
function tampered(change: (dir: string) => void): string {
  const dir = join(work, `copy-${copies++}`);
  cpSync(signed, dir, { recursive: true });
  change(dir);
  return dir;
}

function flipByte(file: string, at: (size: number) => number): void {
  const b = readFileSync(file);
  const i = at(b.length);
  b[i] = (b[i] as number) ^ 0x01;
  writeFileSync(file, b);
}

function expectRefused(o: Outcome, reason: RegExp): void {
  expect(o.stdout.toString()).toBe('');
  expect(o.status).toBe(125);
  const lines = o.stderr.split('\n').filter((l) => l && !l.includes('using TCG'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(reason);
}

describe.skipIf(!kernelBuilt())('signed images (real VMs)', () => {
  beforeAll(async () => {
    const o = await runCli(['build', appPath('hello'), '--level', 'medium', '-o', signed]);
    expect(o.stderr).toBe('');
    expect(o.stdout.toString()).toMatch(/level medium \(flags: wx aslr\), signed by key [0-9a-f]{16}/);
  });

  it('boots the signed image', async () => {
    expect(existsSync(join(signed, 'signature.json'))).toBe(true);
    const o = await runCli(['run', signed]);
    expect({ status: o.status, out: o.stdout.toString() }).toEqual({ status: 0, out: 'Hello from unikit!\n' });
  });

  it.each([
    ['kernel.elf', (n: number) => Math.floor(n / 2)],
    ['initrd.cpio', (n: number) => n - 600],
    ['manifest.json', (n: number) => n - 3],
  ] as const)('refuses the image when %s was changed after signing', async (file, at) => {
    const dir = tampered((d) => flipByte(join(d, file), at));
    expectRefused(await runCli(['run', dir]), new RegExp(`^unikit: image .* failed signature verification: ${file.replace('.', '\\.')} was changed after signing; refusing to boot it$`));
  });

  it('refuses a manifest edited to drop the hardening (the edit breaks the signature)', async () => {
    const dir = tampered((d) => {
      const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as { security: { flags: string[] } };
      m.security.flags = ['fast', 'execdata'];
      writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
    });
    expectRefused(await runCli(['run', dir]), /manifest\.json was changed after signing/);
  });

  it('refuses a signature that does not match (forged over the right hashes)', async () => {
    const dir = tampered((d) => {
      const s = JSON.parse(readFileSync(join(d, 'signature.json'), 'utf8')) as { signature: string };
      const sig = Buffer.from(s.signature, 'base64');
      sig[0] = (sig[0] as number) ^ 0xff;
      s.signature = sig.toString('base64');
      writeFileSync(join(d, 'signature.json'), JSON.stringify(s));
    });
    expectRefused(await runCli(['run', dir]), /the signature does not match/);
  });

  it('refuses an image signed with a key this host does not trust, and boots it once trusted', async () => {
    const other = join(work, 'other-home');
    const dir = join(work, 'foreign.unikit');
    expect((await runCli(['build', appPath('hello'), '--level', 'high', '-o', dir], { env: { UNIKIT_HOME: other } })).status).toBe(0);
    expectRefused(await runCli(['run', dir]), /signed by key [0-9a-f]{16}, which this host does not trust/);
    const trustedHome = join(work, 'trusting-home');
    cpSync(join(other, 'keys', 'image-signing.pub'), join(trustedHome, 'keys', 'trusted', 'other.pub'), { recursive: true });
    const o = await runCli(['run', dir], { env: { UNIKIT_HOME: trustedHome } });
    expect({ status: o.status, out: o.stdout.toString() }).toEqual({ status: 0, out: 'Hello from unikit!\n' });
  });

  it('refuses a signing-level image whose signature was removed', async () => {
    const dir = tampered((d) => rmSync(join(d, 'signature.json')));
    expectRefused(await runCli(['run', dir]), /built at level medium, which signs images, but its signature\.json is missing/);
  });

  it('does not sign at low, and runs the image', async () => {
    const dir = join(work, 'low.unikit');
    const b = await runCli(['build', appPath('hello'), '--level', 'low', '-o', dir]);
    expect(b.stdout.toString()).toMatch(/level low \(flags: fast execdata\)/);
    expect(existsSync(join(dir, 'signature.json'))).toBe(false);
    expect((await runCli(['run', dir])).status).toBe(0);
  });

  it('rejects an unknown level and a refused override as usage errors', async () => {
    const bad = await runCli(['build', appPath('hello'), '--level', 'paranoid', '-o', join(work, 'x')]);
    expect({ status: bad.status, err: bad.stderr }).toEqual({ status: 2, err: 'unikit: unknown security level "paranoid": use one of low, medium, high, strict\n' });
    const fast = await runCli(['build', appPath('hello'), '--level', 'medium', '--override', 'isolation=off', '-o', join(work, 'x')]);
    expect({ status: fast.status, err: fast.stderr }).toEqual({ status: 2, err: 'unikit: isolation cannot be turned off at level medium (only at low)\n' });
  });
});
