/**
 * The three byte streams from QEMU (stdout, stderr, kernel log) as real pipes on fds 3, 4, 5.
 *
 * Node's own 'pipe' stdio is a Unix socketpair, and QEMU's file chardev opens /dev/fd/N, which
 * Linux refuses for a socket (ENXIO). So each stream is a FIFO: made in a private temp directory,
 * opened at both ends, then unlinked at once. QEMU inherits the write ends, the host reads the
 * read ends, and no file is left behind even if the host dies.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NAMES = ['stdout', 'stderr', 'klog'] as const;

export interface Channels {
  /** Read ends, in the order stdout, stderr, klog. */
  readers: [Socket, Socket, Socket];
  /** Write ends, for the child's fds 3, 4, 5. */
  writeFds: [number, number, number];
  /** Closes the host's copies of the write ends (call once the child has them). */
  releaseWriteEnds(): void;
  /** Closes everything that is still open. */
  dispose(): void;
}

export async function openChannels(): Promise<Channels> {
  const dir = await mkdtemp(join(tmpdir(), 'unikit-vm-'));
  const opened: number[] = [];
  try {
    const paths = NAMES.map((n) => join(dir, n));
    await run('mkfifo', ['-m', '600', ...paths]);
    // The read end first, non-blocking: a FIFO's write end can only be opened once a reader exists.
    const readFds = paths.map((p) => track(openSync(p, constants.O_RDONLY | constants.O_NONBLOCK)));
    const writeFds = paths.map((p) => track(openSync(p, constants.O_WRONLY)));
    const readers = readFds.map((fd) => new Socket({ fd, readable: true, writable: false })) as [Socket, Socket, Socket];
    let writeOpen = true;
    const releaseWriteEnds = (): void => {
      if (!writeOpen) return;
      writeOpen = false;
      for (const fd of writeFds) closeSync(fd);
    };
    return {
      readers,
      writeFds: writeFds as [number, number, number],
      releaseWriteEnds,
      dispose: () => {
        releaseWriteEnds();
        for (const r of readers) r.destroy();
      },
    };
  } catch (e) {
    for (const fd of opened) closeSync(fd);
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  function track(fd: number): number {
    opened.push(fd);
    return fd;
  }
}
