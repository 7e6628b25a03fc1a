/** Why an image cannot be built or loaded. A class per condition, each with a stable `code`. */
export type ImageErrorCode =
  | 'IMAGE_MISSING_FILE'
  | 'IMAGE_BAD_FILE'
  | 'IMAGE_BAD_GUEST_PATH'
  | 'IMAGE_DUPLICATE_PATH'
  | 'IMAGE_SEGMENTS_DONT_FIT'
  | 'IMAGE_MEM_TOO_SMALL'
  | 'IMAGE_NO_KERNEL'
  | 'IMAGE_NOT_AN_IMAGE'
  | 'IMAGE_BAD_MANIFEST'
  | 'IMAGE_BAD_ENV'
  | 'IMAGE_BAD_SIGNATURE'
  | 'IMAGE_UNSIGNED'
  | 'IMAGE_LACKING_SYSCALLS'
  | 'IMAGE_KERNEL_BUILD';

export class ImageError extends Error {
  constructor(readonly code: ImageErrorCode, message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export class MissingFileError extends ImageError {
  constructor(what: string, path: string) {
    super('IMAGE_MISSING_FILE', `${what} ${path} does not exist`);
  }
}

export class SegmentsDontFitError extends ImageError {
  constructor(readonly needed: number, readonly mem: number, app: string) {
    super('IMAGE_SEGMENTS_DONT_FIT', `the segments of ${app} need ${formatBytes(needed)} of memory, more than --mem ${formatSize(mem)}`);
  }
}

export class MemTooSmallError extends ImageError {
  constructor(readonly smallest: number, readonly mem: number, breakdown: string) {
    super('IMAGE_MEM_TOO_SMALL', `--mem ${formatSize(mem)} is too small for ${breakdown}: use --mem ${formatSize(smallest)} or more`);
  }
}

export class NoKernelError extends ImageError {
  constructor(path: string) {
    super('IMAGE_NO_KERNEL', `the guest kernel ${path} is missing: run \`npm run build\` first`);
  }
}

/** "1.5 MiB", "300 KiB", "12 B": for people. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The shortest exact --mem spelling: "64M", "3328K", "1000". */
export function formatSize(n: number): string {
  if (n > 0 && n % (1 << 30) === 0) return `${n / (1 << 30)}G`;
  if (n > 0 && n % (1 << 20) === 0) return `${n / (1 << 20)}M`;
  if (n > 0 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}
