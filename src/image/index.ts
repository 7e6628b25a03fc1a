/** unikit images: kernel.elf + initrd.cpio + manifest.json, built, checked, cached and loaded. */
export { buildImage, loadImage, isImageDir, checkEnvEntry, IMAGE_FILES } from './build.js';
export type { BuildOptions, Image } from './build.js';
export { cachedImage, CACHE_MAX_IMAGES } from './cache.js';
export type { CachedBuildOptions } from './cache.js';
export { writeCpio, readCpio, S_IFDIR, S_IFREG, S_IFLNK, S_IFMT } from './cpio.js';
export type { CpioEntry } from './cpio.js';
export { validateManifest, bootFlags, BOOT_FLAGS, MANIFEST_FORMAT } from './manifest.js';
export type { Manifest, ManifestNetwork, ManifestSecurity, BootFlag } from './manifest.js';
export { loadVerifiedImage, signImage, verifyImage, readSignature, signingKey, trustedKeys, keysDir, SIGNATURE_FILE } from './signature.js';
export type { SigningKey, SignatureFile, VerifiedSignature } from './signature.js';
export { checkMemory, smallestMemory, DEFAULT_MEMORY, MEMORY_RESERVE, MEMORY_STEP } from './memory.js';
export type { MemoryNeeds } from './memory.js';
export { normalizeGuestPath } from './rootfs.js';
export { specializeProgram, LackingSyscallsError } from './specialize.js';
export type { SpecializeOptions, Specialized } from './specialize.js';
export { kernelConfig, kernelSourceFingerprint, specializedKernel, elfTextSize, kernelTextSize } from './kernel.js';
export type { KernelConfig, BuiltKernel } from './kernel.js';
export type { FileSpec, PackedFile } from './rootfs.js';
export {
  ImageError, MissingFileError, SegmentsDontFitError, MemTooSmallError, NoKernelError, formatBytes, formatSize,
} from './errors.js';
export type { ImageErrorCode } from './errors.js';
export {
  buildLinuxImage, loadLinuxImage, linuxKernel, linuxInitScript, linuxQemuArgs, linuxAppend, encodeRunConfig, moduleDepends,
  orderModules, linuxExitFromKlog, LinuxKernelError, LINUX_GUEST_EXIT, LINUX_INIT_EXIT_PANIC, LINUX_DEFAULT_MEMORY, LINUX_NET_MODULES, LINUX_IMAGE_FORMAT, LINUX_CMDLINE_MAX, LINUX_BASE_APPEND,
} from './linux.js';
export { programLibraries, ldSoConfDirs, DEFAULT_LIBRARY_DIRS } from './linux-libs.js';
export type { PackedLibrary, LibrarySearch } from './linux-libs.js';
export type { LinuxImage, LinuxImageOptions, LinuxKernel } from './linux.js';
