/**
 * The daemon's data directory: $UNIKIT_HOME/fleet. Everything of one daemon lives here, so two
 * daemons with different homes never meet.
 */
import { join } from 'node:path';
import { unikitHome } from '../project/index.js';

export interface FleetPaths {
  home: string;
  root: string;
  db: string;
  lock: string;
  socket: string;
  token: string;
  daemonLog: string;
  images: string;
  instances: string;
}

export function fleetPaths(home = unikitHome()): FleetPaths {
  const root = join(home, 'fleet');
  return {
    home,
    root,
    db: join(root, 'state.db'),
    lock: join(root, 'daemon.lock'),
    socket: join(root, 'unikitd.sock'),
    token: join(root, 'token'),
    daemonLog: join(root, 'unikitd.log'),
    images: join(root, 'images'),
    instances: join(root, 'instances'),
  };
}

export interface InstanceFiles {
  dir: string;
  console: string;
  consoleOld: string;
  klog: string;
  klogPrev: string;
  qemuLog: string;
  qmp: string;
  /** The guest's control UART (docs/guest-abi.md): stop requests go here. */
  control: string;
}

export function instanceFiles(p: FleetPaths, id: string): InstanceFiles {
  const dir = join(p.instances, id);
  return {
    dir,
    console: join(dir, 'console.log'),
    consoleOld: join(dir, 'console.log.1'),
    klog: join(dir, 'klog.log'),
    klogPrev: join(dir, 'klog.prev.log'),
    qemuLog: join(dir, 'qemu.log'),
    qmp: join(dir, 'qmp.sock'),
    control: join(dir, 'control.sock'),
  };
}

/** Unix socket paths are limited to 107 bytes by sockaddr_un. */
export const SOCKET_PATH_MAX = 107;
