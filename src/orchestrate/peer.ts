/**
 * Which process is at the other end of a loopback TCP connection (Linux /proc). A per-source
 * front uses it to admit only the QEMUs of its source node's instances: under user networking a
 * guest's connection to 10.0.2.2:<port> is QEMU's own socket from 127.0.0.1:<ephemeral>, so the
 * front can tell who connected even though the guest's address says nothing. Used where the
 * guest kernel's egress check may not hold (Deployment.peerChecks): at `low` (the program could
 * switch it off), or beside a node whose egress rules open the host. Its price is a read of
 * /proc/net/tcp per connection, which grows with the host's sockets (npm run bench:ingress).
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

/** `127.0.0.1` and 8080 as /proc/net/tcp writes them: `0100007F:1F90` (address little-endian). */
export function procTcpAddress(address: string, port: number): string {
  const hex = address.split('.').reverse().map((o) => Number(o).toString(16).padStart(2, '0')).join('').toUpperCase();
  return `${hex}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

/**
 * The inode of the socket from `from` to `to` in a /proc/net/tcp text, or null. The front sees the
 * connection from its side (local = itself); the client's socket is the row with the ends swapped.
 */
export function findSocketInode(procNetTcp: string, from: { address: string; port: number }, to: { address: string; port: number }): string | null {
  // A search for the pair, not a parse of every row: a busy host has thousands (TIME-WAIT ones).
  const pair = ` ${procTcpAddress(from.address, from.port)} ${procTcpAddress(to.address, to.port)} `;
  for (let at = procNetTcp.indexOf(pair); at >= 0; at = procNetTcp.indexOf(pair, at + 1)) {
    const end = procNetTcp.indexOf('\n', at);
    const f = procNetTcp.slice(at, end < 0 ? undefined : end).trim().split(/\s+/);
    // local rem st queues tr retrnsmt uid timeout inode: a closed socket's inode is 0.
    if (f[8] && f[8] !== '0') return f[8];
  }
  return null;
}

/** Whether one of `pids` holds the socket (one of its fds links to `socket:[inode]`). */
async function heldBy(pids: readonly number[], inode: string): Promise<boolean> {
  const want = `socket:[${inode}]`;
  const links = await Promise.all(pids.map(async (pid) => {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    return Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  }));
  return links.some((l) => l.includes(want));
}

/**
 * Whether the client of a connection a front accepted on 127.0.0.1 (`peer`: its address and port,
 * the front's port) is one of `pids`. Anything not found (another host, /proc unreadable) is no.
 */
export async function peerIsOneOf(peer: { address: string; port: number; localPort: number }, pids: readonly number[]): Promise<boolean> {
  const address = peer.address.startsWith('::ffff:') ? peer.address.slice(7) : peer.address;
  if (!address.startsWith('127.') || pids.length === 0) return false;
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const inode = findSocketInode(table, { address, port: peer.port }, { address: '127.0.0.1', port: peer.localPort });
  return inode !== null && heldBy(pids, inode);
}
