/**
 * Keeping a chat read from the server and the live frames of the events socket in step.
 *
 * A chat read mid-stream is a snapshot: deltas sent while the request is in flight must be
 * applied on top of it, not before it (they would be lost), and a gap in the deltas must
 * lead to a new read soon, even while more deltas keep coming.
 */

/**
 * Holds frames while the open chat is being read, to be applied after the snapshot.
 * Reads may overlap: frames are released when the last one ends.
 */
export class FrameGate<T> {
  /** Whether frames are being held now. */
  get holding(): boolean {
    return this._depth > 0;
  }

  /** Start holding (one call per read; pair each with `release`). */
  hold(): void {
    this._depth++;
  }

  /** Keep `frame` if frames are held now; false: apply it at once. */
  offer(frame: T): boolean {
    if (this._depth === 0) {
      return false;
    }
    this._held.push(frame);
    return true;
  }

  /** End one read; the held frames, in arrival order, once no read is left. */
  release(): T[] {
    this._depth = Math.max(0, this._depth - 1);
    if (this._depth > 0) {
      return [];
    }
    const held = this._held;
    this._held = [];
    return held;
  }

  private _depth = 0;
  private _held: T[] = [];
}

/**
 * Runs a task once after a delay; a later request can bring it forward but never push it
 * back. (A debounce would never fire while gapped deltas arrive every 30 ms.)
 */
export class Deadline {
  constructor(task: () => void) {
    this._task = task;
  }

  /** Whether the task is scheduled. */
  get pending(): boolean {
    return this._timer !== null;
  }

  /** Run the task in `delay` ms, or at its current time if that is sooner. */
  request(delay: number): void {
    const at = Date.now() + delay;
    if (this._timer !== null && this._at <= at) {
      return;
    }
    this.cancel();
    this._at = at;
    this._timer = setTimeout(() => {
      this._timer = null;
      this._task();
    }, delay);
  }

  cancel(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _task: () => void;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _at = 0;
}
