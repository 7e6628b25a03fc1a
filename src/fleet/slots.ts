/**
 * Bounded concurrency for boots: at most `limit` boots between spawn and "@entering-program".
 * A FIFO of waiters with a moving head, so acquire and release cost O(1) however long the queue.
 */
export class Slots {
  private busy = 0;
  private readonly waiters: (() => void)[] = [];
  private head = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Slots: limit must be a positive integer, not ${limit}`);
  }

  get inUse(): number {
    return this.busy;
  }

  get queued(): number {
    return this.waiters.length - this.head;
  }

  /** Resolves with a release function, to call exactly once (later calls do nothing). */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.busy++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.busy--;
          this.next();
        });
      };
      if (this.busy < this.limit && this.queued === 0) grant();
      else this.waiters.push(grant);
    });
  }

  private next(): void {
    while (this.busy < this.limit && this.head < this.waiters.length) {
      const grant = this.waiters[this.head] as () => void;
      this.head++;
      grant();
    }
    // Compact now and then, so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}
