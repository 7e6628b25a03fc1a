/**
 * Syscall tracing: the guest kernel's "@trace" line, and the profile files `unikit trace`
 * writes and `unikit build --profile` reads.
 */
export {
  parseTraceLine, nameSyscalls, readProfile, formatProfile, formatProfileJson, TraceError, PROFILE_FORMAT,
} from './profile.js';
export type { ProfiledSyscall, SyscallProfile, TraceErrorCode } from './profile.js';
