/**
 * Spreads first renders of finished messages over animation frames: at
 * most `budgetMs` of rendering starts per frame, so opening or flinging
 * through a long chat never blocks the page for long. Streaming messages
 * do not queue.
 */
export class RenderQueue {
  constructor(private readonly budgetMs = 8) {}

  /** Queue a render; it runs in order, within the frame budget. */
  enqueue(task: () => Promise<void>): void {
    this._tasks.push(task);
    if (!this._running) {
      this._running = true;
      void this._drain();
    }
  }

  private async _drain(): Promise<void> {
    while (this._tasks.length > 0) {
      await nextFrame();
      const start = performance.now();
      while (
        this._tasks.length > 0 &&
        performance.now() - start < this.budgetMs
      ) {
        const task = this._tasks.shift() as () => Promise<void>;
        try {
          await task();
        } catch {
          // A failed render shows its plain text; keep draining.
        }
      }
    }
    this._running = false;
  }

  private _tasks: (() => Promise<void>)[] = [];
  private _running = false;
}

function nextFrame(): Promise<void> {
  return new Promise(resolve => requestAnimationFrame(() => resolve()));
}

/** The queue shared by every chat view of the page. */
export const renderQueue = new RenderQueue();
