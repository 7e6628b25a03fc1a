/**
 * Signed images: an ed25519 signature (node:crypto) over the SHA-256 of kernel.elf, initrd.cpio and
 * manifest.json, kept beside them in signature.json. The signing key lives in
 * $UNIKIT_HOME/keys/image-signing.key (made on first use, mode 0600); a signature verifies when it
 * is by that key or by a public key in $UNIKIT_HOME/keys/trusted/*.pub.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { unikitHome } from '../project/index.js';
import { IMAGE_FILES, type Image, loadImage } from './build.js';
import { ImageError } from './errors.js';

export const SIGNATURE_FILE = 'signature.json';
export const SIGNATURE_FORMAT = 1;
const SIGNED_FILES = [IMAGE_FILES.kernel, IMAGE_FILES.initrd, IMAGE_FILES.manifest] as const;

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key, PEM (SPKI). */
  publicPem: string;
  /** First 16 hex digits of the SHA-256 of the public key's DER: names the key in messages. */
  keyId: string;
  /** Where the private key is. */
  path: string;
}

export interface SignatureFile {
  format: number;
  algorithm: 'ed25519';
  keyId: string;
  /** The signer's public key, PEM. */
  publicKey: string;
  /** SHA-256 of each signed file. */
  files: Record<string, string>;
  /** base64 ed25519 signature over signedMessage(files). */
  signature: string;
  signed: string;
}

export interface VerifiedSignature {
  keyId: string;
  signed: string;
}

export function keysDir(home = unikitHome()): string {
  return join(home, 'keys');
}

function keyIdOf(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The host's image-signing key, made on first use. */
export async function signingKey(home = unikitHome()): Promise<SigningKey> {
  const dir = keysDir(home);
  const path = join(dir, 'image-signing.key');
  let pem = await readFile(path, 'utf8').catch(() => undefined);
  if (pem === undefined) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync('ed25519');
    const fresh = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // Write aside and rename without replacing: two first uses racing keep one key.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, fresh, { mode: 0o600 });
    await rename(tmp, path);
    await writeFile(join(dir, 'image-signing.pub'), pair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    pem = await readFile(path, 'utf8');
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey, publicKey, path, keyId: keyIdOf(publicKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** The public keys whose signatures `verifyImage` accepts: the host's own and keys/trusted/*.pub. */
export async function trustedKeys(home = unikitHome()): Promise<KeyObject[]> {
  const keys = [(await signingKey(home)).publicKey];
  const dir = join(keysDir(home), 'trusted');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.pub')) continue;
    try {
      keys.push(createPublicKey(await readFile(join(dir, name), 'utf8')));
    } catch {
      throw new ImageError('IMAGE_BAD_SIGNATURE', `${join(dir, name)} is not a PEM public key`);
    }
  }
  return keys;
}

function signedMessage(files: Record<string, string>): Buffer {
  return Buffer.from(`unikit image signature v${SIGNATURE_FORMAT}\n` + SIGNED_FILES.map((f) => `${f} ${files[f] ?? ''}\n`).join(''));
}

async function hashFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of SIGNED_FILES) {
    const bytes = await readFile(join(dir, f)).catch(() => {
      throw new ImageError('IMAGE_BAD_SIGNATURE', `${dir} has no ${f} to sign or verify`);
    });
    out[f] = createHash('sha256').update(bytes).digest('hex');
  }
  return out;
}

/** Signs the image in `dir` (after its manifest is final): writes signature.json. */
export async function signImage(dir: string, key: SigningKey): Promise<SignatureFile> {
  const files = await hashFiles(dir);
  const sig: SignatureFile = {
    format: SIGNATURE_FORMAT,
    algorithm: 'ed25519',
    keyId: key.keyId,
    publicKey: key.publicPem,
    files,
    signature: sign(null, signedMessage(files), key.privateKey).toString('base64'),
    signed: new Date().toISOString(),
  };
  const path = join(dir, SIGNATURE_FILE);
  await writeFile(path + '.tmp', JSON.stringify(sig, null, 2) + '\n');
  await rename(path + '.tmp', path);
  return sig;
}

/** Reads signature.json, or undefined when the image is not signed. */
export async function readSignature(dir: string): Promise<SignatureFile | undefined> {
  const path = join(dir, SIGNATURE_FILE);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const bad = (why: string): never => {
    throw new ImageError('IMAGE_BAD_SIGNATURE', `${path} is not a valid unikit signature: ${why}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  const s = v as Partial<SignatureFile>;
  if (typeof s !== 'object' || s === null) return bad('not a JSON object');
  if (s.format !== SIGNATURE_FORMAT) bad(`format ${JSON.stringify(s.format)}, this unikit reads ${SIGNATURE_FORMAT}`);
  if (s.algorithm !== 'ed25519') bad(`algorithm ${JSON.stringify(s.algorithm)}, expected ed25519`);
  if (typeof s.signature !== 'string' || typeof s.publicKey !== 'string' || typeof s.files !== 'object' || s.files === null) bad('signature, publicKey or files missing');
  return s as SignatureFile;
}

/**
 * Verifies a signed image before it boots: every signed file unchanged, the signature good, and
 * the key trusted. Throws ImageError IMAGE_BAD_SIGNATURE naming what is wrong; returns undefined
 * for an image without signature.json (the caller decides whether that is allowed).
 */
export async function verifyImage(image: Pick<Image, 'dir'>, trusted?: readonly KeyObject[]): Promise<VerifiedSignature | undefined> {
  const sig = await readSignature(image.dir);
  if (!sig) return undefined;
  const refuse = (why: string): never => {
    throw new ImageError('IMAGE_BAD_SIGNATURE', `image ${image.dir} failed signature verification: ${why}; refusing to boot it`);
  };
  const actual = await hashFiles(image.dir);
  for (const f of SIGNED_FILES) {
    if (sig.files[f] !== actual[f]) refuse(`${f} was changed after signing`);
  }
  let signer: KeyObject;
  try {
    signer = createPublicKey(sig.publicKey);
  } catch {
    return refuse('its public key is not a PEM key');
  }
  if (signer.asymmetricKeyType !== 'ed25519') refuse('its key is not an ed25519 key');
  let good = false;
  try {
    good = verify(null, signedMessage(sig.files), signer, Buffer.from(sig.signature, 'base64'));
  } catch {
    good = false;
  }
  if (!good) refuse('the signature does not match');
  const keys = trusted ?? (await trustedKeys());
  const der = (k: KeyObject): string => k.export({ type: 'spki', format: 'der' }).toString('hex');
  if (!keys.some((k) => der(k) === der(signer))) refuse(`it is signed by key ${keyIdOf(signer)}, which this host does not trust (add its public key to ${join(keysDir(), 'trusted')})`);
  return { keyId: keyIdOf(signer), signed: sig.signed };
}

/**
 * What `unikit run` and unikitd call to load an image they are about to boot: a signed image must
 * verify (checked before its manifest is even parsed); an image whose manifest asks for a
 * signature (a level that signs) must have one. Unsigned images built without a level load as before.
 */
export async function loadVerifiedImage(dir: string, trusted?: readonly KeyObject[]): Promise<{ image: Image; signature?: VerifiedSignature }> {
  const signature = await verifyImage({ dir: resolve(dir) }, trusted);
  const image = await loadImage(dir);
  if (!signature && image.manifest.security?.signed) {
    throw new ImageError('IMAGE_UNSIGNED', `image ${image.dir} was built at level ${image.manifest.security.level}, which signs images, but its ${SIGNATURE_FILE} is missing; refusing to boot it`);
  }
  return signature ? { image, signature } : { image };
}
