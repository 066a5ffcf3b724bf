import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { IHistoryMessage } from '../src/api';
import { applyCompletion } from '../src/reducer';
import { Deadline, FrameGate } from '../src/resync';

describe('Deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once, on time, while requests keep coming faster than its delay', () => {
    const task = vi.fn();
    const deadline = new Deadline(task);
    // Gapped deltas every 30 ms for a second: a debounce would never fire.
    for (let t = 0; t < 1000; t += 30) {
      deadline.request(150);
      vi.advanceTimersByTime(30);
      if (t < 120) {
        expect(task).not.toHaveBeenCalled();
      }
    }
    expect(task.mock.calls.length).toBeGreaterThanOrEqual(6);
    expect(task.mock.calls.length).toBeLessThanOrEqual(8);
  });

  it('a sooner request brings the task forward; a later one does not push it back', () => {
    const task = vi.fn();
    const deadline = new Deadline(task);
    deadline.request(400);
    deadline.request(150);
    vi.advanceTimersByTime(150);
    expect(task).toHaveBeenCalledTimes(1);
    expect(deadline.pending).toBe(false);
    deadline.request(100);
    deadline.request(1000);
    vi.advanceTimersByTime(100);
    expect(task).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(2000);
    expect(task).toHaveBeenCalledTimes(2);
  });

  it('cancel stops a pending task', () => {
    const task = vi.fn();
    const deadline = new Deadline(task);
    deadline.request(50);
    deadline.cancel();
    vi.advanceTimersByTime(100);
    expect(task).not.toHaveBeenCalled();
  });
});

describe('FrameGate', () => {
  it('passes frames through when no read is in flight', () => {
    const gate = new FrameGate<number>();
    expect(gate.offer(1)).toBe(false);
    expect(gate.holding).toBe(false);
  });

  it('holds frames until the last overlapping read ends, in arrival order', () => {
    const gate = new FrameGate<number>();
    gate.hold();
    gate.hold();
    expect(gate.offer(1)).toBe(true);
    expect(gate.offer(2)).toBe(true);
    expect(gate.release()).toEqual([]);
    expect(gate.holding).toBe(true);
    expect(gate.offer(3)).toBe(true);
    expect(gate.release()).toEqual([1, 2, 3]);
    expect(gate.holding).toBe(false);
    expect(gate.release()).toEqual([]);
  });

  it('deltas held during a read continue the snapshot without a gap', () => {
    // The server's snapshot includes text its event hub has not sent yet (" how"): the
    // held delta that carries it starts before the snapshot's end and overwrites from there.
    const snapshot: IHistoryMessage = {
      id: 'a',
      parentId: 'u',
      childrenIds: [],
      role: 'assistant',
      content: 'Hello world, how',
      done: false,
      timestamp: 1
    };
    const gate = new FrameGate<{ delta: string; offset: number }>();
    gate.hold();
    gate.offer({ delta: ' how are', offset: 12 });
    gate.offer({ delta: ' you', offset: 20 });
    let message = snapshot;
    for (const data of gate.release()) {
      const result = applyCompletion(message, data);
      expect(result.resync).toBe(false);
      message = result.message;
    }
    expect(message.content).toBe('Hello world, how are you');
  });
});
