// Owns a queue that runs asynchronous tasks strictly one after another, in the order they were added.

/**
 * Runs tasks one at a time in the order they were added; a task calls `next` when its callback has
 * fired. A task that finishes synchronously lets the next one run in the same loop, not on the stack.
 */
export class SerialQueue {
  /** Tasks from index `head` on; a moving head keeps taking the next task O(1) (shift() is O(n)). */
  private tasks: (((next: () => void) => void) | undefined)[] = [];
  private head = 0;
  private isRunning = false;

  add(task: (next: () => void) => void): void {
    this.tasks.push(task);
    if (!this.isRunning) this.drain();
  }

  private drain(): void {
    this.isRunning = true;
    for (;;) {
      const task = this.takeNext();
      if (task === undefined) {
        this.isRunning = false;
        return;
      }
      // 0: running synchronously, 1: finished synchronously, 2: running asynchronously, 3: finished.
      let phase = 0;
      const next = (): void => {
        if (phase === 0) {
          phase = 1;
        } else if (phase === 2) {
          phase = 3;
          this.drain();
        }
      };
      try {
        task(next);
      } catch (error) {
        // A callback threw. Let it propagate to whoever called us, and carry on with the queue after it.
        this.isRunning = false;
        process.nextTick(() => {
          if (!this.isRunning) this.drain();
        });
        throw error;
      }
      if (phase === 0) {
        phase = 2;
        return;
      }
    }
  }

  private takeNext(): ((next: () => void) => void) | undefined {
    if (this.head === this.tasks.length) return undefined;
    const task = this.tasks[this.head];
    this.tasks[this.head] = undefined;
    this.head += 1;
    if (this.head === this.tasks.length) {
      this.tasks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.tasks.length) {
      this.tasks = this.tasks.slice(this.head);
      this.head = 0;
    }
    return task;
  }
}
