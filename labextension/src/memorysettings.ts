/* The memories' setting and dates: pure, so the unit tests run them in Node. */

/** Whether the settings turn memories on (Open WebUI's `ui.memory`). */
export function memoryEnabled(settings: Record<string, unknown>): boolean {
  const ui = settings.ui;
  return (
    ui !== null &&
    typeof ui === 'object' &&
    (ui as Record<string, unknown>).memory === true
  );
}

/** `settings` with `ui.memory` set to `on`, the rest kept. */
export function withMemory(
  settings: Record<string, unknown>,
  on: boolean
): Record<string, unknown> {
  const ui =
    settings.ui !== null && typeof settings.ui === 'object'
      ? (settings.ui as Record<string, unknown>)
      : {};
  return { ...settings, ui: { ...ui, memory: on } };
}

/** A memory's date as `YYYY-MM-DD` (its `created_at` is in epoch seconds). */
export function memoryDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
