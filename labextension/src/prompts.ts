import type { IPrompt } from './api';

/** The most prompts the `/` menu lists at once. */
export const MAX_SHOWN = 8;

/** `{{name}}` or `{{name | input hint}}` (Open WebUI's prompt variables). */
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|[^{}]*)?\}\}/g;

/** The `/word` being typed at `caret`: where it starts and what follows the `/`. */
export interface ISlashQuery {
  start: number;
  query: string;
}

/**
 * The `/command` typed at the caret, if any: a word that starts with `/` at the
 * start of the message or after a space or new line, and runs to the caret.
 */
export function slashQuery(text: string, caret: number): ISlashQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|\s)\/([a-z0-9_-]*)$/i.exec(before);
  if (!match) {
    return null;
  }
  return {
    start: match.index + match[1].length,
    query: match[2].toLowerCase()
  };
}

/**
 * The prompts that fit `query`: commands that start with it first, then those
 * whose command or title contains it, each group in the given order.
 */
export function filterPrompts(
  prompts: IPrompt[],
  query: string,
  limit = MAX_SHOWN
): IPrompt[] {
  const q = query.toLowerCase();
  const slug = (p: IPrompt) => p.command.replace(/^\//, '').toLowerCase();
  const first = prompts.filter(p => slug(p).startsWith(q));
  const then = prompts.filter(
    p =>
      !slug(p).startsWith(q) &&
      (slug(p).includes(q) || p.title.toLowerCase().includes(q))
  );
  return [...first, ...then].slice(0, limit);
}

/** The variables' names, first appearance first, each once. */
export function promptVariables(content: string): string[] {
  const names = Array.from(content.matchAll(VARIABLE), m => m[1]);
  return Array.from(new Set(names));
}

/** Open WebUI's built-in variables, as the browser's clock and user say. */
export function builtinValues(
  now: Date = new Date(),
  userName = ''
): Record<string, string> {
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  const values: Record<string, string> = {
    CURRENT_DATE: date,
    CURRENT_TIME: time,
    CURRENT_DATETIME: `${date} ${time}`,
    CURRENT_WEEKDAY: now.toLocaleDateString('en-US', { weekday: 'long' }),
    CURRENT_TIMEZONE: Intl.DateTimeFormat().resolvedOptions().timeZone ?? ''
  };
  if (userName) {
    values.USER_NAME = userName;
  }
  return values;
}

/** `content` with the built-in variables filled; the others are left as written. */
export function fillBuiltins(
  content: string,
  values: Record<string, string> = builtinValues()
): string {
  return content.replace(VARIABLE, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole
  );
}

/** Where the next `{{variable}}` at or after `from` is (wrapping to the start). */
export function nextVariable(
  text: string,
  from: number
): { start: number; end: number } | null {
  const all = Array.from(text.matchAll(VARIABLE), m => ({
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length
  }));
  return all.find(v => v.start >= from) ?? all[0] ?? null;
}

/**
 * The `/` menu of the composer: the prompts that fit what is typed, one
 * highlighted; every text is set as text, never markup.
 */
export class PromptMenu {
  constructor(onChoose: (prompt: IPrompt) => void) {
    this._onChoose = onChoose;
    this.node = document.createElement('ul');
    this.node.className = 'jp-OuiPromptMenu';
    this.node.setAttribute('role', 'listbox');
    this.node.setAttribute('aria-label', 'Prompts');
    this.node.id = `jp-OuiPromptMenu-${++PromptMenu._count}`;
    this.node.hidden = true;
  }

  readonly node: HTMLUListElement;

  get open(): boolean {
    return !this.node.hidden;
  }

  /** The prompts listed now. */
  get items(): IPrompt[] {
    return this._items;
  }

  /** The highlighted prompt's index. */
  get active(): number {
    return this._active;
  }

  /** List `items` (none: a note that nothing fits `query`). */
  show(items: IPrompt[], query: string): void {
    this._items = items;
    this._active = 0;
    const rows = items.map((prompt, i) => {
      const row = document.createElement('li');
      row.className = 'jp-OuiPromptMenu-item';
      row.setAttribute('role', 'option');
      row.id = `${this.node.id}-${i}`;
      row.dataset.command = prompt.command;
      const command = document.createElement('span');
      command.className = 'jp-OuiPromptMenu-command';
      command.textContent = prompt.command;
      const title = document.createElement('span');
      title.className = 'jp-OuiPromptMenu-title';
      title.textContent = prompt.title;
      row.append(command, title);
      row.title = prompt.content.slice(0, 300);
      row.onmousedown = event => {
        event.preventDefault(); // keep the focus in the input
        this._onChoose(prompt);
      };
      return row;
    });
    if (rows.length === 0) {
      const none = document.createElement('li');
      none.className = 'jp-OuiPromptMenu-empty';
      none.textContent = query
        ? `No prompt matches /${query}`
        : 'No prompts yet: add them with the prompts API (v1/prompts/create)';
      rows.push(none);
    }
    this.node.replaceChildren(...rows);
    this.node.hidden = false;
    this._highlight();
  }

  hide(): void {
    this.node.hidden = true;
    this._items = [];
  }

  /** Move the highlight by `delta` (wrapping). */
  move(delta: number): void {
    if (this._items.length === 0) {
      return;
    }
    const n = this._items.length;
    this._active = (((this._active + delta) % n) + n) % n;
    this._highlight();
  }

  /** Choose the highlighted prompt; false when there is none. */
  choose(): boolean {
    const prompt = this._items[this._active];
    if (!prompt) {
      return false;
    }
    this._onChoose(prompt);
    return true;
  }

  private _highlight(): void {
    this.node.querySelectorAll('.jp-OuiPromptMenu-item').forEach((row, i) => {
      const on = i === this._active;
      row.classList.toggle('jp-mod-active', on);
      row.setAttribute('aria-selected', String(on));
      if (on) {
        (row as HTMLElement).scrollIntoView?.({ block: 'nearest' });
      }
    });
  }

  private static _count = 0;
  private _onChoose: (prompt: IPrompt) => void;
  private _items: IPrompt[] = [];
  private _active = 0;
}
