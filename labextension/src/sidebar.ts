import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { closeIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';

import { ChatList } from './chatlist';
import { ChatView } from './chatview';
import { ChatController } from './controller';
import * as api from './api';
import { getLeaderboard } from './api';
import type { ILeaderboard } from './api';
import { errorMessage } from './handler';
import { chatIcon } from './icons';
import type { IImageAttachment } from './images';
import { iconButton } from './ui';
import { LeaderboardView } from './leaderboard';
import { MemoriesView } from './memories';
import { IndexProgressBar } from './progress';
import { parseShareRef } from './share';
import { showShareDialog } from './sharedialog';
import { IChatContext } from './tokens';

/**
 * The left-area panel: connection / error banner, indexing progress, and
 * either the chat list or the open chat.
 */
export class ChatSidebar extends Panel {
  constructor(options: ChatSidebar.IOptions) {
    super();
    this.id = 'oui-jupyter-sidebar';
    this.addClass('jp-OuiSidebar');
    this.title.icon = chatIcon;
    this.title.caption = 'Open WebUI chat';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Open WebUI chat');
    this.controller = options.controller;
    this._options = options;

    this._banner = new Widget();
    this._banner.addClass('jp-OuiSidebar-banner');
    this._banner.node.setAttribute('role', 'alert');
    this._banner.hide();
    this._progress = new IndexProgressBar();
    this._list = new ChatList({
      onOpen: id => void this.openChat(id),
      onNew: () => this.newChat(),
      onDeleted: id => {
        if (this.controller.chatId === id) {
          this.newChat();
          this.showList();
        }
      },
      onRenamed: id => {
        if (this.controller.chatId === id) {
          void this.controller.resync();
        }
      },
      onShare: (id, title) => void this.shareChat(id, title),
      onError: message => this.showError(message),
      onLeaderboard: () => this.showLeaderboard(),
      onMemories: () => this.showMemories()
    });
    this._memories = new MemoriesView({
      client: api,
      onBack: () => this.showList()
    });
    this._leaderboard = new LeaderboardView({
      load: options.loadLeaderboard ?? getLeaderboard,
      models: () => this.controller.models,
      onBack: () => this.showList()
    });
    this._view = new ChatView({
      controller: this.controller,
      rendermime: options.rendermime,
      commands: options.commands,
      onBack: () => this.showList(),
      onClone: () => void this.cloneShared(),
      onShare: () => {
        const c = this.controller;
        if (c.chatId) {
          void this.shareChat(c.chatId, c.title);
        }
      },
      onError: message => this.showError(message),
      readPath: options.readPath,
      outputImage: options.outputImage
    });
    this.addWidget(this._banner);
    this.addWidget(this._progress);
    this.addWidget(this._list);
    this.addWidget(this._leaderboard);
    this.addWidget(this._memories);
    this.addWidget(this._view);
    this._view.hide();
    this._leaderboard.hide();
    this._memories.hide();

    const c = this.controller;
    c.errorOccurred.connect((_, message) => this.showError(message), this);
    c.structureChanged.connect(() => {
      if (c.chatId && !this._view.isHidden) {
        Private.remember(c.chatId);
      }
    }, this);
    c.progressChanged.connect(
      (_, progress) => this._progress.setProgress(progress),
      this
    );
    c.listChanged.connect((_, change) => {
      if (change) {
        this._list.updateTitle(change.id, change.title);
      } else {
        void this._list.refresh();
      }
      this._list.activeId = c.chatId;
    }, this);
    c.socket.stateChanged.connect((_, state) => {
      this.toggleClass('jp-mod-disconnected', state === 'closed');
    }, this);
    void this._list.refresh();
    void c.loadModels().then(() => this._restore());
    void c.loadIndexStatus();
  }

  readonly controller: ChatController;

  /** Whether one's own open chat (not the list, nor a shared snapshot) is showing. */
  get showingChat(): boolean {
    return !this._view.isHidden && this.controller.shared === null;
  }

  showList(): void {
    Private.remember(null);
    this._view.hide();
    this._leaderboard.hide();
    this._memories.hide();
    this._list.show();
    this._list.activeId = this.controller.chatId;
  }

  showChat(): void {
    this._list.hide();
    this._leaderboard.hide();
    this._memories.hide();
    this._view.show();
    this._view.composer.focusInput();
  }

  /** The models' leaderboard (Elo and win rate), read afresh. */
  showLeaderboard(): void {
    this._list.hide();
    this._view.hide();
    this._memories.hide();
    this._leaderboard.show();
    void this._leaderboard.refresh();
  }

  /** The user's memories and the setting that turns them on, read afresh. */
  showMemories(): void {
    this._list.hide();
    this._view.hide();
    this._leaderboard.hide();
    this._memories.show();
    void this._memories.refresh();
  }

  newChat(): void {
    Private.remember(null);
    this.controller.newChat();
    this._view.composer.resetWorkspace();
    this._list.activeId = null;
    this.showChat();
  }

  async openChat(id: string): Promise<void> {
    try {
      await this.controller.openChat(id);
      this._list.activeId = id;
      this.showChat();
      Private.remember(id);
    } catch (error) {
      Private.remember(null);
      this.showError(`Could not open the chat: ${errorMessage(error)}`);
    }
  }

  /** Share chat `id` by link: show the link (copied to the clipboard), offer to end it. */
  async shareChat(id: string, title: string): Promise<void> {
    const shareId = await this.controller.share(id);
    if (!shareId) {
      return;
    }
    const link = this._options.shareLink(shareId);
    let copied = true;
    try {
      this._options.copy(link);
    } catch {
      copied = false;
    }
    if (await showShareDialog(link, title || 'Untitled', copied)) {
      await this.controller.unshare(id);
    }
  }

  /**
   * Show the shared snapshot behind `ref` (a share link or id) read-only.
   * An unknown or ended link leaves a message at the top of the panel.
   */
  async openShared(ref: string): Promise<boolean> {
    this._skipRestore = true;
    const shareId = parseShareRef(ref);
    if (!shareId) {
      this.showError(`Not a share link: "${ref.slice(0, 200)}".`);
      return false;
    }
    if (!(await this.controller.openShared(shareId))) {
      return false;
    }
    Private.remember(null);
    this._banner.hide();
    this._list.activeId = null;
    this._list.hide();
    this._leaderboard.hide();
    this._memories.hide();
    this._view.show();
    return true;
  }

  /** Clone the shared snapshot on show into one's own chats and open the copy. */
  async cloneShared(): Promise<void> {
    const id = await this.controller.cloneShared();
    if (id) {
      this._list.activeId = id;
      Private.remember(id);
      this.showChat();
    }
  }

  addContext(context: IChatContext): void {
    this._showComposer();
    this._view.addContext(context);
    this._view.composer.focusInput();
  }

  /** Attach an image to the next message (uploaded at once). */
  async attachImage(image: IImageAttachment): Promise<void> {
    this._showComposer();
    this._view.composer.focusInput();
    await this._view.composer.attachImage(image);
  }

  private _showComposer(): void {
    if (this.controller.shared) {
      this.newChat();
    } else if (this._view.isHidden) {
      this.showChat();
    }
  }

  focusInput(): void {
    if (!this._view.isHidden) {
      this._view.composer.focusInput();
    }
  }

  /** A readable, dismissible error at the top of the panel. */
  showError(message: string): void {
    const text = document.createElement('span');
    text.textContent = message;
    const close = iconButton(closeIcon, 'Dismiss', 'jp-OuiSidebar-bannerClose');
    close.onclick = () => this._banner.hide();
    this._banner.node.replaceChildren(text, close);
    this._banner.show();
  }

  /** After a page refresh, reopen the chat this tab had open (it may still be streaming). */
  private _restore(): void {
    const id = Private.remembered();
    if (id && this.controller.chatId === null && !this._skipRestore) {
      void this.openChat(id);
    }
  }

  private _options: ChatSidebar.IOptions;
  private _skipRestore = false;
  private _banner: Widget;
  private _progress: IndexProgressBar;
  private _list: ChatList;
  private _leaderboard: LeaderboardView;
  private _memories: MemoriesView;
  private _view: ChatView;
}

namespace Private {
  const KEY = 'oui-jupyter:open-chat';

  /** The open chat of this tab, kept across reloads (sessionStorage is per tab). */
  export function remember(id: string | null): void {
    try {
      if (id) {
        window.sessionStorage.setItem(KEY, id);
      } else {
        window.sessionStorage.removeItem(KEY);
      }
    } catch {
      // Storage may be disabled; reopening after a refresh is a convenience.
    }
  }

  export function remembered(): string | null {
    try {
      return window.sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  }
}

export namespace ChatSidebar {
  export interface IOptions {
    controller: ChatController;
    rendermime: IRenderMimeRegistry;
    commands: CommandRegistry;
    readPath: (path: string) => Promise<Blob>;
    /** The active notebook cell's image output (the composer's attach-output button). */
    outputImage?: () => IImageAttachment | null;
    /** The link that opens share `shareId` (see share.ts). */
    shareLink: (shareId: string) => string;
    /** Put text on the system clipboard (throws when it cannot). */
    copy: (text: string) => void;
    /** Read the leaderboard (the server's by default). */
    loadLeaderboard?: () => Promise<ILeaderboard>;
  }
}
