import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import {
  addIcon,
  deleteIcon,
  editIcon,
  linkIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import type { IChatSummary } from './api';
import { dateGroup } from './format';
import { errorMessage } from './handler';
import { pinIcon } from './icons';
import { button, iconButton } from './ui';

/**
 * The chat list: newest first, paged as it scrolls, with search, pin,
 * share by link, rename, delete (confirmed) and new chat.
 */
export class ChatList extends Widget {
  constructor(options: ChatList.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-OuiChatList');

    const header = document.createElement('div');
    header.className = 'jp-OuiChatList-header';
    this._search = document.createElement('input');
    this._search.type = 'search';
    this._search.className = 'jp-mod-styled jp-OuiChatList-search';
    this._search.placeholder = 'Search chats';
    this._search.setAttribute('aria-label', 'Search chats');
    this._search.oninput = () => {
      window.clearTimeout(this._searchTimer);
      this._searchTimer = window.setTimeout(() => void this.refresh(), 250);
    };
    const create = iconButton(
      addIcon,
      'New chat',
      'jp-mod-accept jp-OuiChatList-new',
      'New'
    );
    create.onclick = () => options.onNew();
    const board = button('Leaderboard', 'jp-OuiChatList-leaderboard');
    board.title = "Models' Elo and win rate from the ratings";
    board.onclick = () => options.onLeaderboard?.();
    const memories = button('Memories', 'jp-OuiChatList-memories');
    memories.title = 'What the model remembers about you';
    memories.onclick = () => options.onMemories?.();
    header.append(this._search, create, board, memories);

    this._scroller = document.createElement('div');
    this._scroller.className = 'jp-OuiChatList-scroller';
    this._scroller.addEventListener('scroll', this._onScroll, {
      passive: true
    });
    this._list = document.createElement('ul');
    this._list.className = 'jp-OuiChatList-items';
    this._list.setAttribute('aria-label', 'Chats');
    this._status = document.createElement('div');
    this._status.className = 'jp-OuiChatList-status';
    this._status.setAttribute('aria-live', 'polite');
    this._scroller.append(this._list, this._status);
    this.node.append(header, this._scroller);
  }

  /** The chat shown in the view (highlighted). */
  set activeId(id: string | null) {
    this._activeId = id;
    this._list.querySelectorAll('.jp-OuiChatList-item').forEach(item => {
      const active = (item as HTMLElement).dataset.chatId === id;
      item.classList.toggle('jp-mod-active', active);
      item
        .querySelector('.jp-OuiChatList-open')
        ?.setAttribute('aria-current', active ? 'true' : 'false');
    });
  }

  /** Re-read from the first page (keeps the search text). */
  async refresh(): Promise<void> {
    const generation = ++this._generation;
    this._items = [];
    this._page = 0;
    this._exhausted = false;
    this._loading = false;
    await this._loadMore(generation);
  }

  /** Update a title in place (a `chat:title` event), or refresh when unknown. */
  updateTitle(id: string, title: string | undefined): void {
    const item = this._items.find(i => i.id === id);
    if (item && title) {
      item.title = title;
      this._render();
    } else {
      void this.refresh();
    }
  }

  private async _loadMore(generation = this._generation): Promise<void> {
    if (this._loading || this._exhausted) {
      return;
    }
    this._loading = true;
    this._status.textContent = 'Loading…';
    const page = this._page + 1;
    const text = this._search.value.trim();
    try {
      const items = text
        ? await api.searchChats(text, page)
        : await api.listChats(page);
      if (generation !== this._generation) {
        return;
      }
      this._page = page;
      const known = new Set(this._items.map(i => i.id));
      const fresh = items.filter(i => !known.has(i.id));
      this._exhausted = fresh.length === 0;
      this._items.push(...fresh);
      this._render();
      this._status.textContent =
        this._items.length === 0
          ? text
            ? 'No chats match.'
            : 'No chats yet.'
          : '';
    } catch (error) {
      if (generation === this._generation) {
        this._exhausted = true;
        this._status.textContent = `Could not load chats: ${errorMessage(error)}`;
      }
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        // Fill the visible height before waiting for scroll events.
        if (
          !this._exhausted &&
          this._scroller.scrollHeight <= this._scroller.clientHeight + 40 &&
          this.isVisible
        ) {
          void this._loadMore(generation);
        }
      }
    }
  }

  private _render(): void {
    const pinned = this._items.filter(i => i.pinned);
    const rest = this._items.filter(i => !i.pinned);
    const nodes: HTMLElement[] = [];
    let group = '';
    if (pinned.length > 0) {
      nodes.push(heading('Pinned'));
      pinned.forEach(item => nodes.push(this._item(item)));
    }
    for (const item of rest) {
      const g = dateGroup(item.updated_at);
      if (g !== group) {
        group = g;
        nodes.push(heading(g));
      }
      nodes.push(this._item(item));
    }
    this._list.replaceChildren(...nodes);
  }

  private _item(chat: IChatSummary): HTMLElement {
    const li = document.createElement('li');
    li.className = 'jp-OuiChatList-item';
    li.dataset.chatId = chat.id;
    li.classList.toggle('jp-mod-active', chat.id === this._activeId);
    li.classList.toggle('jp-mod-pinned', !!chat.pinned);
    const open = button(chat.title || 'Untitled', 'jp-OuiChatList-open');
    open.title = chat.title;
    open.setAttribute(
      'aria-current',
      chat.id === this._activeId ? 'true' : 'false'
    );
    open.onclick = () => this._options.onOpen(chat.id);
    const pin = iconButton(
      pinIcon,
      `${chat.pinned ? 'Unpin' : 'Pin'} ${chat.title}`,
      'jp-OuiChatList-pin'
    );
    pin.setAttribute('aria-pressed', chat.pinned ? 'true' : 'false');
    pin.onclick = () => void this._pin(chat);
    const rename = iconButton(
      editIcon,
      `Rename ${chat.title}`,
      'jp-OuiChatList-rename'
    );
    rename.onclick = () => void this._rename(chat);
    const share = iconButton(
      linkIcon,
      `Share link ${chat.title}`,
      'jp-OuiChatList-share'
    );
    share.onclick = () => this._options.onShare(chat.id, chat.title);
    const remove = iconButton(
      deleteIcon,
      `Delete ${chat.title}`,
      'jp-OuiChatList-delete'
    );
    remove.onclick = () => void this._delete(chat);
    const actions = document.createElement('span');
    actions.className = 'jp-OuiChatList-actions';
    actions.append(pin, share, rename, remove);
    li.append(open, actions);
    return li;
  }

  private async _pin(chat: IChatSummary): Promise<void> {
    try {
      const updated = await api.pinChat(chat.id);
      chat.pinned = updated?.pinned ?? !chat.pinned;
      this._render();
    } catch (error) {
      this._options.onError(`Could not pin: ${errorMessage(error)}`);
    }
  }

  private async _rename(chat: IChatSummary): Promise<void> {
    const result = await InputDialog.getText({
      title: 'Rename chat',
      text: chat.title,
      okLabel: 'Rename'
    });
    const title = result.value?.trim();
    if (!result.button.accept || !title || title === chat.title) {
      return;
    }
    try {
      await api.updateChat(chat.id, { title });
      chat.title = title;
      this._render();
      this._options.onRenamed(chat.id, title);
    } catch (error) {
      this._options.onError(`Could not rename: ${errorMessage(error)}`);
    }
  }

  private async _delete(chat: IChatSummary): Promise<void> {
    const result = await showDialog({
      title: 'Delete chat',
      body: `Delete "${chat.title}"? This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await api.deleteChat(chat.id);
      this._items = this._items.filter(i => i.id !== chat.id);
      this._render();
      this._options.onDeleted(chat.id);
    } catch (error) {
      this._options.onError(`Could not delete: ${errorMessage(error)}`);
    }
  }

  private _onScroll = (): void => {
    const s = this._scroller;
    if (s.scrollHeight - s.scrollTop - s.clientHeight < 120) {
      void this._loadMore();
    }
  };

  private _options: ChatList.IOptions;
  private _search: HTMLInputElement;
  private _scroller: HTMLElement;
  private _list: HTMLElement;
  private _status: HTMLElement;
  private _items: IChatSummary[] = [];
  private _page = 0;
  private _loading = false;
  private _exhausted = false;
  private _generation = 0;
  private _searchTimer = 0;
  private _activeId: string | null = null;
}

export namespace ChatList {
  export interface IOptions {
    onOpen: (id: string) => void;
    onNew: () => void;
    onDeleted: (id: string) => void;
    onRenamed: (id: string, title: string) => void;
    /** Share the chat by link (the sidebar shows the link). */
    onShare: (id: string, title: string) => void;
    onError: (message: string) => void;
    /** Show the models' leaderboard. */
    onLeaderboard?: () => void;
    /** Show the user's memories. */
    onMemories?: () => void;
  }
}

function heading(text: string): HTMLElement {
  const li = document.createElement('li');
  li.className = 'jp-OuiChatList-group';
  li.setAttribute('role', 'presentation');
  li.textContent = text;
  return li;
}
