/**
 * The composer's Tools picker: the server's tools (`GET v1/tools/`), loaded when the
 * picker is first opened; the ticked ones go with the next turns as `tool_ids`.
 */
import * as api from './api';

export class ToolPicker {
  constructor(options: ToolPicker.IOptions) {
    this._options = options;
    this.node = document.createElement('details');
    this.node.className = 'jp-OuiToolPicker';
    const summary = document.createElement('summary');
    summary.className = 'jp-OuiToolPicker-summary';
    summary.title = 'Let the model call tools of this server';
    this._summary = summary;
    this._list = document.createElement('div');
    this._list.className = 'jp-OuiToolPicker-list';
    this._list.setAttribute('role', 'group');
    this._list.setAttribute('aria-label', 'Tools');
    this.node.append(summary, this._list);
    this.node.addEventListener('toggle', () => {
      if (this.node.open) {
        void this.load();
      }
    });
    this._showCount();
  }

  readonly node: HTMLDetailsElement;

  /** The ticked tools' ids. */
  get selected(): string[] {
    return [...this._selected];
  }

  /** Read the tools into the list (once; again after a failure). */
  async load(): Promise<void> {
    if (this._loaded || this._loading) {
      return;
    }
    this._loading = true;
    try {
      const tools = await (this._options.listTools ?? api.listTools)();
      this._loaded = true;
      this._render(tools);
    } catch (error) {
      this._options.onError(
        `Could not list the tools: ${error instanceof Error ? error.message : String(error)}`
      );
    } finally {
      this._loading = false;
    }
  }

  private _render(tools: api.ITool[]): void {
    this._list.replaceChildren();
    if (tools.length === 0) {
      const empty = document.createElement('span');
      empty.className = 'jp-OuiToolPicker-empty';
      empty.textContent = 'No tools on this server';
      this._list.appendChild(empty);
      return;
    }
    for (const tool of tools) {
      const label = document.createElement('label');
      label.className = 'jp-OuiToolPicker-tool';
      label.title = tool.meta?.description ?? '';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = tool.id;
      box.checked = this._selected.has(tool.id);
      box.onchange = () => {
        if (box.checked) {
          this._selected.add(tool.id);
        } else {
          this._selected.delete(tool.id);
        }
        this._showCount();
        this._options.onChange(this.selected);
      };
      const name = document.createElement('span');
      name.textContent = tool.requires_approval
        ? `${tool.name} (asks first)`
        : tool.name;
      label.append(box, name);
      this._list.appendChild(label);
    }
  }

  private _showCount(): void {
    const count = this._selected.size;
    this._summary.textContent = count ? `Tools (${count})` : 'Tools';
  }

  private _options: ToolPicker.IOptions;
  private _summary: HTMLElement;
  private _list: HTMLDivElement;
  private _selected = new Set<string>();
  private _loaded = false;
  private _loading = false;
}

export namespace ToolPicker {
  export interface IOptions {
    /** The ticked tools changed. */
    onChange: (ids: string[]) => void;
    onError: (message: string) => void;
    /** `GET v1/tools/` (the API's by default). */
    listTools?: () => Promise<api.ITool[]>;
  }
}
