/**
 * Delay before reconnect attempt `attempt` (0-based): exponential back-off
 * from `base` ms capped at `max` ms, with up to 20% random jitter.
 */
export function backoffDelay(
  attempt: number,
  base = 500,
  max = 15000,
  random: () => number = Math.random
): number {
  const delay = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(delay * (1 + 0.2 * random()));
}

/** A random id (UUID v4 where the browser has it). */
export function randomId(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) {
    return crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
