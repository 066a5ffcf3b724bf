import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { caretLeftIcon, linkIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Panel, Widget } from '@lumino/widgets';

import { loadAudioFeatures } from './audio';
import { Composer } from './composer';
import { ChatController } from './controller';
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
          workspace: value.workspace
        }),
      onWorkspaceChange: value => {
        this._controller.workspace = value;
      },
      onStop: () => void this._controller.stop(),
      onError: message => options.onError(message),
      readPath: options.readPath
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
      rendered: () => this._stickToBottom()
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

  /** Rebuild the message list for the current branch, reusing widgets by id. */
  private _rebuild(): void {
    const c = this._controller;
    const history = c.history;
    const path = branch(history);
    const keep = new Set(path.map(m => m.id));
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
    let previous: Element = this._empty;
    for (const message of path) {
      const position = siblingPosition(history, message.id);
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
        // Plain DOM insertion: messages need no Lumino lifecycle, and the
        // view may be built while the sidebar is collapsed.
        host.insertBefore(widget.node, previous.nextSibling);
        this._observer.observe(widget.node);
      } else {
        widget.userLabel = userLabel;
        widget.setMessage(message, position);
        if (previous.nextSibling !== widget.node) {
          host.insertBefore(widget.node, previous.nextSibling);
        }
      }
      previous = widget.node;
    }
    this._empty.hidden = path.length > 0;
    this._showShared();
    this._title.textContent = c.title;
    this._title.title = c.title;
    this._composer.generating = c.generating;
    this._stick = true;
    this._stickToBottom();
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
      if (widget && message) {
        widget.setMessage(message, siblingPosition(history, id));
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
  }
}
