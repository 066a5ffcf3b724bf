import { caretLeftIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { IMemory } from './api';
import { errorMessage } from './handler';
import { memoryDate, memoryEnabled, withMemory } from './memorysettings';
import { button, iconButton } from './ui';

/**
 * The sidebar's memories: the facts the model is told about the user when
 * memories are on (the setting here), to review, add and delete. Every text
 * is set as text, never markup.
 */
export class MemoriesView extends Widget {
  constructor(options: MemoriesView.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-OuiMemories');
    const header = document.createElement('div');
    header.className = 'jp-OuiLeaderboard-header';
    const back = iconButton(
      caretLeftIcon,
      'Back to the chat list',
      'jp-OuiMemories-back',
      'Chats'
    );
    back.onclick = () => options.onBack();
    const title = document.createElement('h2');
    title.className = 'jp-OuiLeaderboard-title';
    title.textContent = 'Memories';
    const refresh = iconButton(
      refreshIcon,
      'Refresh the memories',
      'jp-OuiMemories-refresh'
    );
    refresh.onclick = () => void this.refresh();
    header.append(back, title, refresh);

    const toggle = document.createElement('label');
    toggle.className = 'jp-OuiMemories-toggle';
    this._enabled = document.createElement('input');
    this._enabled.type = 'checkbox';
    this._enabled.onchange = () => void this._setEnabled(this._enabled.checked);
    toggle.append(
      this._enabled,
      document.createTextNode(' Use my memories in chats')
    );
    toggle.title =
      "Put the memories relevant to a question into the model's system prompt";

    const add = document.createElement('form');
    add.className = 'jp-OuiMemories-add';
    this._input = document.createElement('input');
    this._input.className = 'jp-mod-styled';
    this._input.placeholder = 'Something to remember';
    this._input.setAttribute('aria-label', 'New memory');
    this._input.maxLength = 10000;
    const save = button('Add', 'jp-mod-accept jp-OuiMemories-save');
    save.type = 'submit';
    add.append(this._input, save);
    add.onsubmit = event => {
      event.preventDefault();
      void this._add();
    };

    this._status = document.createElement('div');
    this._status.className = 'jp-OuiMemories-status';
    this._status.setAttribute('aria-live', 'polite');
    this._list = document.createElement('ul');
    this._list.className = 'jp-OuiMemories-items';
    this._list.setAttribute('aria-label', 'Memories');
    this._clear = button('Forget all', 'jp-mod-warn jp-OuiMemories-clear');
    this._clear.onclick = () => void this._forgetAll();
    this.node.append(
      header,
      toggle,
      add,
      this._status,
      this._list,
      this._clear
    );
  }

  /** Read the setting and the memories again. */
  async refresh(): Promise<void> {
    this._status.textContent = 'Loading\u2026';
    this._confirming = false;
    this._clear.textContent = 'Forget all';
    try {
      const [settings, memories] = await Promise.all([
        this._options.client.getUserSettings(),
        this._options.client.listMemories()
      ]);
      this._enabled.checked = memoryEnabled(settings);
      this._show(memories);
    } catch (error) {
      this._status.textContent = `Could not load the memories: ${errorMessage(error)}`;
    }
  }

  private _show(memories: IMemory[]): void {
    this._list.replaceChildren(
      ...memories.map(memory => {
        const row = document.createElement('li');
        row.className = 'jp-OuiMemories-item';
        row.dataset.memoryId = memory.id;
        const text = document.createElement('span');
        text.className = 'jp-OuiMemories-content';
        text.textContent = memory.content;
        const date = document.createElement('span');
        date.className = 'jp-OuiMemories-date';
        date.textContent = memoryDate(memory.created_at);
        const remove = button('Delete', 'jp-OuiMemories-delete');
        remove.setAttribute('aria-label', `Delete memory: ${memory.content}`);
        remove.onclick = () => void this._delete(memory.id);
        row.append(text, date, remove);
        return row;
      })
    );
    this._clear.hidden = memories.length === 0;
    this._status.textContent = memories.length
      ? `${memories.length} memor${memories.length === 1 ? 'y' : 'ies'}`
      : 'No memories yet: add one here, or ask the model to remember something ' +
        '(the remember tool).';
  }

  private async _setEnabled(on: boolean): Promise<void> {
    try {
      const settings = await this._options.client.getUserSettings();
      await this._options.client.updateUserSettings(withMemory(settings, on));
    } catch (error) {
      this._enabled.checked = !on;
      this._status.textContent = `Could not change the setting: ${errorMessage(error)}`;
    }
  }

  private async _add(): Promise<void> {
    const content = this._input.value.trim();
    if (!content) {
      return;
    }
    try {
      await this._options.client.addMemory(content);
      this._input.value = '';
      await this.refresh();
    } catch (error) {
      this._status.textContent = `Could not add the memory: ${errorMessage(error)}`;
    }
  }

  private async _delete(id: string): Promise<void> {
    try {
      await this._options.client.deleteMemory(id);
      await this.refresh();
    } catch (error) {
      this._status.textContent = `Could not delete the memory: ${errorMessage(error)}`;
    }
  }

  /** "Forget all" asks once more (the button says so) before it deletes. */
  private async _forgetAll(): Promise<void> {
    if (!this._confirming) {
      this._confirming = true;
      this._clear.textContent = 'Click again to forget every memory';
      return;
    }
    try {
      await this._options.client.deleteAllMemories();
      await this.refresh();
    } catch (error) {
      this._status.textContent = `Could not forget the memories: ${errorMessage(error)}`;
    }
  }

  private _options: MemoriesView.IOptions;
  private _enabled: HTMLInputElement;
  private _input: HTMLInputElement;
  private _status: HTMLElement;
  private _list: HTMLUListElement;
  private _clear: HTMLButtonElement;
  private _confirming = false;
}

export namespace MemoriesView {
  /** The calls the view makes (`api.ts`'s functions; a test passes fakes). */
  export interface IClient {
    listMemories(): Promise<IMemory[]>;
    addMemory(content: string): Promise<IMemory>;
    deleteMemory(id: string): Promise<void>;
    deleteAllMemories(): Promise<void>;
    getUserSettings(): Promise<Record<string, unknown>>;
    updateUserSettings(
      settings: Record<string, unknown>
    ): Promise<Record<string, unknown>>;
  }

  export interface IOptions {
    client: IClient;
    onBack: () => void;
  }
}
