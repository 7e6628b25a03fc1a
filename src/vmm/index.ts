/** Driving QEMU: the guest ABI's command line, accelerator choice, console capture, exit status. */
export { runVm, DEFAULT_QEMU } from './vm.js';
export type { GuestSpec, VmOptions, VmResult, VmTimings } from './vm.js';
export { chooseAccel, probeHost, resolveAccel } from './accel.js';
export type { Accel, AccelRequest, AccelChoice, HostVirt } from './accel.js';
export { buildCmdline, encodeValue, decodeValue, CMDLINE_MAX } from './cmdline.js';
export type { BootParams, KernelFlag } from './cmdline.js';
export { qemuArgs, memoryArg, MICROVM_MACHINE, STREAM_FDS } from './qemu-args.js';
export type { Machine, QemuArgsOptions } from './qemu-args.js';
export { classifyKlogLine, KlogReader } from './klog.js';
export type { KlogEvent, NetPolicyOp } from './klog.js';
export { hostTscKhz } from './tsc.js';
export {
  VmmError, QemuMissingError, QemuStartError, VmCrashedError, VmTimeoutError, VmInterruptedError,
  CmdlineTooLongError, NoKvmError,
} from './errors.js';
export type { VmmErrorCode } from './errors.js';
export { QmpClient, QmpError } from './qmp.js';
export type { QmpEvent } from './qmp.js';
export { launchDetached, detachedArgs } from './detached.js';
export type { DetachedVm, DetachedVmOptions, PortForward } from './detached.js';
export {
  parsePortForward, checkForwardsDistinct, checkHostPortsFree, freeTcpPort, nicArgs, userNetdev, userNetworkFor, NET_MODES, USER_NET,
  BadPortForwardError, PortInUseError, NetworkUnavailableError,
} from './net.js';
export type { NetMode, VmNetwork } from './net.js';
export type { EgressTarget, NetworkPolicy } from '../abi/index.js';
export { fenceUnavailable, fenceDrops, fencedTaps, tapFenceScript } from './fence.js';
export { acquireTap, reapStaleFences, tapUnavailable, tapName, removeTapNetwork, TAP_NET, TAP_STATE_DIR, DEFAULT_TAP_NETWORK } from './tap.js';
export type { TapNetwork } from './tap.js';
export type { TapLease, TapFenceRequest } from './tap.js';
