import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { caretLeftIcon, linkIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';

import type { IHistoryMessage } from './api';
import { loadAudioFeatures } from './audio';
import { Composer } from './composer';
import { loadImageGeneration, type IImageAttachment } from './images';
import { ChatController } from './controller';
import { arenaGroup, arenaRevealed, arenaTitle } from './feedback';
import {
  MessageWidget,
  IMessageActions,
  renameRenderStats,
  warmUpMarkdown
} from './message';
import { RemoteMediaSanitizer } from './remotemedia';
import { button, iconButton } from './ui';
import { ModelPicker } from './modelpicker';
import { IChatContext } from './tokens';
import { branch, siblingPosition } from './tree';

/** An arena answer whose sibling is not here (yet): still unnamed until rated. */
function loneArenaTitle(message: IHistoryMessage): string | null {
  return message.arena ? arenaTitle(0, message, !!message.annotation) : null;
}

/**
 * The open chat: header (back, title, model), the messages of the current
 * branch, and the composer. A shared snapshot shows read-only: a banner with
 * its owner and "Clone into my chats" instead of the model and composer. Message widgets are kept by id; a token only
 * touches the one streaming message.
 */
export class ChatView extends Panel {
  constructor(options: ChatView.IOptions) {
    super();
    this._controller = options.controller;
    // Messages render through a copy of the registry whose sanitizer also
    // holds remote images until clicked (see remotemedia.ts).
    this._rendermime = options.rendermime.clone({
      sanitizer: new RemoteMediaSanitizer(options.rendermime.sanitizer)
    });
    this._commands = options.commands;
    this.addClass('jp-OuiChatView');
    void warmUpMarkdown(this._rendermime);

    const header = new Widget();
    header.addClass('jp-OuiChatView-header');
    const back = iconButton(
      caretLeftIcon,
      'Back to the chat list',
      'jp-OuiChatView-back',
      'Chats'
    );
    back.onclick = () => options.onBack();
    this._title = document.createElement('h2');
    this._title.className = 'jp-OuiChatView-title';
    this._share = iconButton(
      linkIcon,
      'Share link to this chat',
      'jp-OuiChatView-share'
    );
    this._share.onclick = () => options.onShare();
    header.node.append(back, this._title, this._share);
    this._picker = new ModelPicker(id => void this._controller.setModel(id));

    this._sharedBar = new Widget();
    this._sharedBar.addClass('jp-OuiChatView-shared');
    this._sharedBar.node.setAttribute('role', 'status');
    this._sharedText = document.createElement('span');
    this._sharedText.className = 'jp-OuiChatView-sharedText';
    const clone = button('Clone into my chats', 'jp-mod-accept');
    clone.classList.add('jp-OuiChatView-clone');
    clone.onclick = () => options.onClone();
    this._sharedBar.node.append(this._sharedText, clone);
    this._sharedBar.hide();

    this._list = new Widget();
    this._list.addClass('jp-OuiChatView-messages');
    this._list.node.setAttribute('role', 'log');
    this._list.node.setAttribute('aria-label', 'Messages');
    this._list.node.tabIndex = 0;
    this._empty = document.createElement('div');
    this._empty.className = 'jp-OuiChatView-empty';
    this._empty.textContent = 'Ask a question about your notebooks and files.';
    this._list.node.appendChild(this._empty);
    this._list.node.addEventListener('scroll', this._onScroll, {
      passive: true
    });

    this._composer = new Composer({
      settings: this._controller.settings,
      onSubmit: value =>
        void this._controller.send(value.text, {
          files: value.files,
          workspace: value.workspace,
          image: value.image
        }),
      onWorkspaceChange: value => {
        this._controller.workspace = value;
      },
      onToolsChange: ids => {
        this._controller.toolIds = ids;
      },
      onStop: () => void this._controller.stop(),
      onError: message => options.onError(message),
      readPath: options.readPath,
      outputImage: options.outputImage
    });

    void loadImageGeneration().then(enabled => {
      this._composer.imageGeneration = enabled;
    });
    void loadAudioFeatures().then(features => {
      this._composer.dictation = features.stt;
      if (features.tts) {
        this._widgets.forEach(widget => widget.refreshActions());
      }
    });

    this.addWidget(header);
    this.addWidget(this._sharedBar);
    this.addWidget(this._picker);
    this.addWidget(this._list);
    this.addWidget(this._composer);

    this._observer = new IntersectionObserver(this._onIntersect, {
      root: this._list.node,
      rootMargin: '800px 0px'
    });

    const c = this._controller;
    c.reloaded.connect(this._rebuild, this);
    // A chat opened (or a new one): its Workspace choice as last used.
    c.reloaded.connect(() => {
      this._composer.workspace = c.workspace;
    }, this);
    c.structureChanged.connect(this._rebuild, this);
    c.messagesChanged.connect(this._onMessagesChanged, this);
    c.renamed.connect((_, { from, to }) => {
      const widget = this._widgets.get(from);
      if (widget) {
        this._widgets.delete(from);
        this._widgets.set(to, widget);
      }
      renameRenderStats(from, to);
    }, this);
    c.modelsChanged.connect(this._onModels, this);
    c.listChanged.connect(this._onTitle, this);
    c.settingsChanged.connect((_, settings) => {
      this._composer.settings = settings;
      this._composer.workspace = c.workspace;
      for (const widget of this._widgets.values()) {
        widget.codeActions = settings.codeActions;
      }
    }, this);
    this._actions = {
      // Every turn goes with the Workspace checkbox as it is now.
      regenerate: id =>
        void c.regenerate(id, { workspace: this._composer.workspace }),
      continueAnswer: id =>
        void c.continueAnswer(id, { workspace: this._composer.workspace }),
      editAndResend: (id, content) =>
        void c.editAndResend(id, content, {
          workspace: this._composer.workspace
        }),
      switchBranch: (id, step) => c.switchBranch(id, step),
      rendered: () => this._stickToBottom(),
      rate: (id, rating) => c.rate(id, rating),
      undoTurn: id => c.undoTurn(id),
      approveTool: (id, callId, decision) =>
        void c.approveTool(id, callId, decision)
    };
    this._rebuild();
    this._onModels();
  }

  get composer(): Composer {
    return this._composer;
  }

  addContext(context: IChatContext): void {
    this._composer.addContext(context);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._observer.disconnect();
    this._list.node.removeEventListener('scroll', this._onScroll);
    super.dispose();
  }

  /**
   * Rebuild the message list for the current branch, reusing widgets by id. An arena
   * answer on the branch shows with its sibling side by side ("Model A", "Model B").
   */
  private _rebuild(): void {
    const c = this._controller;
    const history = c.history;
    const path = branch(history);
    const groups = new Map<string, IHistoryMessage[]>();
    const keep = new Set(path.map(m => m.id));
    for (const message of path) {
      const group = arenaGroup(history, message);
      if (group.length) {
        groups.set(message.id, group);
        group.forEach(m => keep.add(m.id));
      }
    }
    for (const [id, widget] of this._widgets) {
      if (!keep.has(id)) {
        this._observer.unobserve(widget.node);
        widget.node.remove();
        widget.dispose();
        this._widgets.delete(id);
      }
    }
    const host = this._list.node;
    const userLabel = c.shared ? c.shared.owner || 'Owner' : 'You';
    const usedArenas = new Set<string>();
    let previous: Element = this._empty;
    for (const message of path) {
      const group = groups.get(message.id);
      if (group) {
        const parentId = message.parentId as string;
        usedArenas.add(parentId);
        const arena = this._arena(parentId);
        const nodes = group.map(
          m => this._widgetFor(m, { index: 0, count: 1 }, userLabel).node
        );
        if (
          arena.children.length !== nodes.length ||
          nodes.some((node, i) => arena.children[i] !== node)
        ) {
          arena.replaceChildren(...nodes);
        }
        this._labelArena(group);
        if (previous.nextSibling !== arena) {
          host.insertBefore(arena, previous.nextSibling);
        }
        previous = arena;
        continue;
      }
      const widget = this._widgetFor(
        message,
        siblingPosition(history, message.id),
        userLabel
      );
      widget.arenaTitle = loneArenaTitle(message);
      if (previous.nextSibling !== widget.node) {
        host.insertBefore(widget.node, previous.nextSibling);
      }
      previous = widget.node;
    }
    for (const [parentId, arena] of this._arenas) {
      if (!usedArenas.has(parentId)) {
        arena.remove();
        this._arenas.delete(parentId);
      }
    }
    this._empty.hidden = path.length > 0;
    this._showShared();
    this._title.textContent = c.title;
    this._title.title = c.title;
    this._composer.generating = c.generating;
    this._stick = true;
    this._stickToBottom();
  }

  /** The widget of `message` (made on first sight), up to date. */
  private _widgetFor(
    message: IHistoryMessage,
    position: { index: number; count: number },
    userLabel: string
  ): MessageWidget {
    const c = this._controller;
    let widget = this._widgets.get(message.id);
    if (!widget) {
      widget = new MessageWidget({
        message,
        position,
        rendermime: this._rendermime,
        commands: this._commands,
        actions: this._actions,
        codeActions: c.settings.codeActions,
        userLabel
      });
      this._widgets.set(message.id, widget);
      // Plain DOM insertion (by the caller): messages need no Lumino lifecycle,
      // and the view may be built while the sidebar is collapsed.
      this._observer.observe(widget.node);
    } else {
      widget.userLabel = userLabel;
      widget.setMessage(message, position);
    }
    widget.rateable = c.shared === null;
    return widget;
  }

  /** The side-by-side box of the arena answers to user message `parentId`. */
  private _arena(parentId: string): HTMLElement {
    let arena = this._arenas.get(parentId);
    if (!arena) {
      arena = document.createElement('div');
      arena.className = 'jp-OuiArena';
      arena.setAttribute('role', 'group');
      arena.setAttribute(
        'aria-label',
        'Arena: two answers, unnamed until rated'
      );
      this._arenas.set(parentId, arena);
    }
    return arena;
  }

  /** "Model A", "Model B"; their models once one of them is rated. */
  private _labelArena(group: IHistoryMessage[]): void {
    const revealed = arenaRevealed(group);
    group.forEach((m, i) => {
      const widget = this._widgets.get(m.id);
      if (widget) {
        widget.arenaTitle = arenaTitle(i, m, revealed);
        widget.node.classList.toggle('jp-mod-revealed', revealed);
      }
    });
  }

  /** Read-only for a shared snapshot: its banner; no model picker, no composer. */
  private _showShared(): void {
    const shared = this._controller.shared;
    this.toggleClass('jp-mod-readonly', shared !== null);
    this._sharedBar.setHidden(shared === null);
    // One's own chat, once created, can be shared from here.
    this._share.hidden = shared !== null || this._controller.chatId === null;
    this._picker.setHidden(shared !== null);
    this._composer.setHidden(shared !== null);
    if (shared) {
      this._sharedText.textContent = shared.owner
        ? `Shared by ${shared.owner} — read-only`
        : 'Shared chat — read-only';
    }
  }

  private _onMessagesChanged(_: ChatController, ids: string[]): void {
    const history = this._controller.history;
    for (const id of ids) {
      const widget = this._widgets.get(id);
      const message = history.messages[id];
      if (!widget || !message) {
        continue;
      }
      const group = arenaGroup(history, message);
      if (group.length) {
        widget.setMessage(message, { index: 0, count: 1 });
        this._labelArena(group);
      } else {
        widget.setMessage(message, siblingPosition(history, id));
        widget.arenaTitle = loneArenaTitle(message);
      }
    }
    this._composer.generating = this._controller.generating;
  }

  private _onModels(): void {
    this._picker.setModels(this._controller.models, this._controller.model);
  }

  private _onTitle(): void {
    this._title.textContent = this._controller.title;
    this._title.title = this._controller.title;
  }

  private _onIntersect = (entries: IntersectionObserverEntry[]): void => {
    for (const entry of entries) {
      if (!entry.isIntersecting) {
        continue;
      }
      const id = (entry.target as HTMLElement).dataset.messageId;
      const widget = id ? this._widgets.get(id) : undefined;
      if (widget) {
        widget.setVisible(true);
        this._observer.unobserve(widget.node);
      } else {
        for (const w of this._widgets.values()) {
          if (w.node === entry.target) {
            w.setVisible(true);
            this._observer.unobserve(w.node);
          }
        }
      }
    }
  };

  private _onScroll = (): void => {
    const node = this._list.node;
    this._stick = node.scrollHeight - node.scrollTop - node.clientHeight < 48;
  };

  private _stickToBottom(): void {
    if (!this._stick || this._scrollFrame) {
      return;
    }
    this._scrollFrame = requestAnimationFrame(() => {
      this._scrollFrame = 0;
      const node = this._list.node;
      node.scrollTop = node.scrollHeight;
    });
  }

  private _controller: ChatController;
  private _rendermime: IRenderMimeRegistry;
  private _commands: CommandRegistry;
  private _actions: IMessageActions;
  private _title: HTMLElement;
  private _picker: ModelPicker;
  private _share: HTMLButtonElement;
  private _sharedBar: Widget;
  private _sharedText: HTMLElement;
  private _list: Widget;
  private _empty: HTMLElement;
  private _composer: Composer;
  private _observer: IntersectionObserver;
  private _widgets = new Map<string, MessageWidget>();
  private _arenas = new Map<string, HTMLElement>();
  private _stick = true;
  private _scrollFrame = 0;
}

export namespace ChatView {
  export interface IOptions {
    controller: ChatController;
    rendermime: IRenderMimeRegistry;
    commands: CommandRegistry;
    onBack: () => void;
    /** Share the open chat by link. */
    onShare: () => void;
    /** Clone the shared snapshot on show into one's own chats. */
    onClone: () => void;
    onError: (message: string) => void;
    readPath: (path: string) => Promise<Blob>;
    /** The active notebook cell's image output (the composer's attach-output button). */
    outputImage?: () => IImageAttachment | null;
  }
}
