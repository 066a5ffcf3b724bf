import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import type { IHistory, IHistoryMessage, IMessageFile, IModel } from './api';
import { contentParts } from './images';
import { randomId } from './backoff';
import { ConnectionState, EventSocket, IEventSocket } from './events';
import {
  ARENA_MODEL_ID,
  IRating,
  annotationOf,
  feedbackForm
} from './feedback';
import { placeholderTitle } from './format';
import { errorMessage } from './handler';
import {
  IEventFrame,
  IIndexProgress,
  indexProgress,
  reduceChatEvent,
  titleOf
} from './reducer';
import { Deadline, FrameGate } from './resync';
import { changedPath, undoTurn as postUndo, undoneText } from './undo';
import { DEFAULT_SETTINGS, IChatSettings } from './tokens';
import {
  addMessage,
  branch,
  emptyHistory,
  mergeHistories,
  normalizeHistory,
  removeSubtree,
  renameMessage,
  switchSibling,
  updateMessage
} from './tree';

const LOCAL = 'local-';
const LAST_MODEL_KEY = 'oui-jupyter:last-model';
const WORKSPACE_KEY = 'oui-jupyter:workspace-by-chat';
/** How many chats' Workspace choices are kept (the oldest are dropped). */
const WORKSPACE_KEEP = 500;

/** What to send with a new message. */
export interface ISendOptions {
  files?: IMessageFile[];
  workspace?: boolean;
  /** Answer with images generated from the message (Open WebUI's image_generation). */
  image?: boolean;
}

/** A shared snapshot shown read-only (someone's chat, by its link). */
export interface ISharedView {
  shareId: string;
  /** The owner's name (or id) as the server tells it; '' when unknown. */
  owner: string;
}

/**
 * The state of the sidebar: the open chat's message tree, the models, the
 * live socket. Widgets listen to its signals and call its methods.
 */
export class ChatController implements IDisposable {
  constructor(options: ChatController.IOptions = {}) {
    this.socket = options.socket ?? new EventSocket();
    this._client = options.client ?? api;
    this.socket.received.connect(this._onFrame, this);
    this.socket.reconnected.connect(this._onReconnected, this);
    this.socket.stateChanged.connect(this._onSocketState, this);
  }

  readonly socket: IEventSocket;

  /** The server's tools the next turns offer the model (the composer's Tools picker). */
  toolIds: string[] = [];

  /** The notebook the user is in (its path), sent with turns that use tools. */
  notebookPath: (() => string | null) | null = null;

  get settings(): IChatSettings {
    return this._settings;
  }
  set settings(value: IChatSettings) {
    this._settings = value;
    this._settingsChanged.emit(value);
  }

  /** The open chat id, or null for a chat not yet created. */
  get chatId(): string | null {
    return this._chatId;
  }
  get title(): string {
    return this._title;
  }
  get history(): IHistory {
    return this._history;
  }
  get models(): IModel[] {
    return this._models;
  }
  /** The model the next message goes to. */
  get model(): string {
    return this._model;
  }
  /**
   * The Workspace checkbox for the open chat: as it was last used in this
   * chat (remembered per chat, across reloads), else the setting's default.
   */
  get workspace(): boolean {
    return this._workspace ?? this._settings.workspaceKnowledge;
  }
  set workspace(value: boolean) {
    this._workspace = value;
    if (this._chatId && !this._shared) {
      Private.rememberWorkspace(this._chatId, value);
    }
  }
  /** Whether an answer in the current branch is still streaming. */
  get generating(): boolean {
    return branch(this._history).some(
      m => m.role === 'assistant' && m.done === false
    );
  }
  get progress(): IIndexProgress | null {
    return this._progress;
  }
  /** The shared snapshot on show (read-only), or null for one's own chat. */
  get shared(): ISharedView | null {
    return this._shared;
  }

  /** The open chat changed or was re-read: rebuild the message list. */
  get reloaded(): ISignal<this, void> {
    return this._reloaded;
  }
  /** The branch changed shape (a message added, a branch switched). */
  get structureChanged(): ISignal<this, void> {
    return this._structureChanged;
  }
  /** A local placeholder id was replaced by the server's (same message). */
  get renamed(): ISignal<this, { from: string; to: string }> {
    return this._renamed;
  }
  /** These messages' content or state changed. */
  get messagesChanged(): ISignal<this, string[]> {
    return this._messagesChanged;
  }
  /** The chat list should be re-read (created, renamed, titled, deleted). */
  get listChanged(): ISignal<this, { id: string; title?: string } | null> {
    return this._listChanged;
  }
  get modelsChanged(): ISignal<this, void> {
    return this._modelsChanged;
  }
  get progressChanged(): ISignal<this, IIndexProgress | null> {
    return this._progressChanged;
  }
  get settingsChanged(): ISignal<this, IChatSettings> {
    return this._settingsChanged;
  }
  /** An error worth telling the user outside a message (list, rename...). */
  /** A file the server changed (`notebook:changed`: an agent's edit, an undo). */
  get notebookChanged(): ISignal<this, string> {
    return this._notebookChanged;
  }
  get errorOccurred(): ISignal<this, string> {
    return this._errorOccurred;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._resync.cancel();
    this.socket.dispose();
    Signal.clearData(this);
  }

  /** Read the models (and pick the default one). */
  async loadModels(): Promise<void> {
    try {
      this._models = await this._client.listModels();
    } catch (error) {
      this._models = [];
      this._errorOccurred.emit(`Could not list models: ${errorMessage(error)}`);
    }
    if (!this._model || !this._models.some(m => m.id === this._model)) {
      this._model = this._defaultModel();
    }
    this._modelsChanged.emit();
  }

  /** Show the index progress if the workspace is being indexed right now. */
  async loadIndexStatus(): Promise<void> {
    try {
      this._progress = indexProgress(await this._client.getRetrievalStatus());
      this._progressChanged.emit(this._progress);
    } catch {
      // No retrieval on this server: no progress bar, nothing to report.
    }
  }

  /** Start an empty chat (created on the server with the first message). */
  newChat(): void {
    this._shared = null;
    this._chatId = null;
    this._title = 'New chat';
    this._history = emptyHistory();
    this._model = this._defaultModel();
    this._workspace = null;
    this._pendingAssistant = null;
    this._reloaded.emit();
    this._modelsChanged.emit();
  }

  /** Open a chat from the server. */
  async openChat(id: string): Promise<void> {
    this._gate.hold();
    try {
      const chat = await this._client.getChat(id);
      this._show(chat);
    } finally {
      this._applyHeldFrames();
    }
  }

  /**
   * Share a snapshot of chat `chatId` by link: its share id, or null (the
   * error is reported) when the server refused.
   */
  async share(chatId: string): Promise<string | null> {
    try {
      const chat = await this._client.shareChat(chatId);
      if (!chat.share_id) {
        throw new Error('the server gave no share id');
      }
      return chat.share_id;
    } catch (error) {
      this._errorOccurred.emit(`Could not share: ${errorMessage(error)}`);
      return null;
    }
  }

  /** End chat `chatId`'s share link; whether it ended. */
  async unshare(chatId: string): Promise<boolean> {
    try {
      await this._client.unshareChat(chatId);
      return true;
    } catch (error) {
      this._errorOccurred.emit(`Could not unshare: ${errorMessage(error)}`);
      return false;
    }
  }

  /**
   * Show the snapshot behind share `shareId`, read-only. False (and the
   * reason reported) when the link is unknown, ended or unreadable; what was
   * on show stays.
   */
  async openShared(shareId: string): Promise<boolean> {
    let chat: api.IChatResponse;
    try {
      chat = await this._client.getSharedChat(shareId);
    } catch (error) {
      this._errorOccurred.emit(
        error instanceof ServerConnection.ResponseError &&
          error.response.status === 404
          ? 'This share link is unknown or has ended: ask its owner for a new one.'
          : `Could not open the shared chat: ${errorMessage(error)}`
      );
      return false;
    }
    this._shared = {
      shareId,
      owner: chat.user_name || chat.user_id || ''
    };
    this._chatId = null;
    this._title = chat.title || chat.chat?.title || 'Shared chat';
    this._history = normalizeHistory(chat.chat?.history);
    this._pendingAssistant = null;
    this._reloaded.emit();
    return true;
  }

  /**
   * Copy the shared snapshot on show into a new chat of one's own and open
   * it: its id, or null (the error is reported).
   */
  async cloneShared(): Promise<string | null> {
    const shared = this._shared;
    if (!shared) {
      return null;
    }
    let chat: api.IChatResponse;
    try {
      chat = await this._client.cloneSharedChat(shared.shareId);
    } catch (error) {
      this._errorOccurred.emit(`Could not clone: ${errorMessage(error)}`);
      return null;
    }
    if (this._shared !== shared) {
      return null;
    }
    this._show(chat);
    this._listChanged.emit({ id: chat.id, title: this._title });
    return chat.id;
  }

  /** Choose the model; remembered in the chat (`chat.models`). */
  async setModel(id: string): Promise<void> {
    this._model = id;
    window.localStorage.setItem(LAST_MODEL_KEY, id);
    this._modelsChanged.emit();
    if (this._chatId) {
      try {
        await this._client.updateChat(this._chatId, { models: [id] });
      } catch (error) {
        this._errorOccurred.emit(
          `Could not save the model: ${errorMessage(error)}`
        );
      }
    }
  }

  /** Send a new user message at the end of the current branch. */
  async send(content: string, options: ISendOptions = {}): Promise<void> {
    if (this._shared) {
      return;
    }
    // A turn that failed before the server saved it stays visible, but the
    // next message hangs under the last message the server knows.
    let parentId = this._history.currentId;
    while (parentId !== null && parentId.startsWith(LOCAL)) {
      parentId = this._history.messages[parentId]?.parentId ?? null;
    }
    await this._turn(parentId, content, options);
  }

  /** Replace a user message by a new version (a sibling) and answer it. */
  async editAndResend(
    userId: string,
    content: string,
    options: ISendOptions = {}
  ): Promise<void> {
    const original = this._history.messages[userId];
    if (!original || this._shared) {
      return;
    }
    await this._ensureServerIds();
    const parentId = this._history.messages[userId]?.parentId ?? null;
    await this._turn(parentId, content, {
      files: options.files ?? original.files,
      workspace: options.workspace ?? this.workspace
    });
  }

  /** Ask for a new answer (a sibling) to the user message above `assistantId`. */
  async regenerate(
    assistantId: string,
    options: ISendOptions = {}
  ): Promise<void> {
    if (this._shared) {
      return;
    }
    await this._ensureServerIds();
    const assistant = this._history.messages[assistantId];
    const userId = assistant?.parentId;
    if (!assistant || !userId || !this._chatId) {
      return;
    }
    const user = this._history.messages[userId];
    const placeholder = this._placeholder(userId);
    this._history = addMessage(this._history, placeholder);
    this._structureChanged.emit();
    await this._start(placeholder, {
      model: this._model,
      messages: this._requestMessages(userId),
      stream: true,
      chat_id: this._chatId,
      parent_id: userId,
      session_id: this.socket.sessionId,
      regenerate: true,
      files: user?.files?.length ? user.files : undefined,
      features: { workspace: this._useWorkspace(options) }
    });
  }

  /** Extend a stopped or interrupted answer: the server streams on into the same message. */
  async continueAnswer(
    assistantId: string,
    options: ISendOptions = {}
  ): Promise<void> {
    if (this._shared) {
      return;
    }
    await this._ensureServerIds();
    const assistant = this._history.messages[assistantId];
    if (
      !assistant ||
      assistant.role !== 'assistant' ||
      !this._chatId ||
      this.generating
    ) {
      return;
    }
    const user = assistant.parentId
      ? this._history.messages[assistant.parentId]
      : undefined;
    const streaming: IHistoryMessage = {
      ...assistant,
      done: false,
      interrupted: undefined,
      stopped: undefined,
      error: undefined
    };
    this._history = updateMessage(this._history, streaming);
    this._messagesChanged.emit([assistantId]);
    await this._start(streaming, {
      model: assistant.model || this._model,
      messages: this._requestMessages(assistantId),
      stream: true,
      chat_id: this._chatId,
      parent_id: assistantId,
      session_id: this.socket.sessionId,
      continue: true,
      files: user?.files?.length ? user.files : undefined,
      features: { workspace: this._useWorkspace(options) }
    });
  }

  /** Decide a tool call of the open chat that waits for approval. */
  async approveTool(
    messageId: string,
    callId: string,
    decision: api.ToolDecision
  ): Promise<void> {
    const chatId = this._chatId;
    if (!chatId) {
      return;
    }
    const approve = this._client.approveToolCall ?? api.approveToolCall;
    try {
      await approve(chatId, messageId, callId, decision);
    } catch (error) {
      this._errorOccurred.emit(
        `Could not answer the tool call: ${errorMessage(error)}`
      );
    }
  }

  /** Stop the answer being generated in the open chat. */
  async stop(): Promise<void> {
    const chatId = this._chatId;
    if (!chatId) {
      return;
    }
    try {
      await this._client.stopChat(chatId);
    } catch (error) {
      if (!this.socket.send({ type: 'chat:stop', chat_id: chatId })) {
        this._errorOccurred.emit(`Could not stop: ${errorMessage(error)}`);
        return;
      }
    }
    // The server ends the stream with `done` or `chat:tasks:cancel`; if it
    // says nothing, read the chat back so the UI never stays "generating".
    window.setTimeout(() => {
      if (this._chatId === chatId && this.generating) {
        void this.resync();
      }
    }, 2000);
  }

  /**
   * Undo the notebook changes of answer `id`'s tool calls; resolves what to tell the user
   * (the server's refusal, e.g. which cells changed since, rejects with its message).
   */
  async undoTurn(id: string): Promise<string> {
    const chatId = this._chatId;
    if (!chatId || this._shared) {
      throw new Error('This chat cannot be undone here');
    }
    return undoneText(await postUndo(chatId, id));
  }

  /**
   * Rate answer `id` (thumbs, then perhaps a 1-10 score and a comment): saved on the server,
   * then on the message (an arena's names show). Resolves whether it was saved.
   */
  async rate(id: string, rating: IRating): Promise<boolean> {
    const chatId = this._chatId;
    const message = this._history.messages[id];
    if (!chatId || this._shared || !message || message.role !== 'assistant') {
      return false;
    }
    const form = feedbackForm(chatId, this._history, message, rating);
    try {
      const saved = await this._client.submitFeedback(form, message.feedbackId);
      const current = this._history.messages[id];
      if (this._chatId !== chatId || !current) {
        return true;
      }
      this._history = updateMessage(this._history, {
        ...current,
        annotation: annotationOf(rating),
        feedbackId: saved.id
      });
      this._messagesChanged.emit([id]);
      return true;
    } catch (error) {
      this._errorOccurred.emit(
        `Could not save the rating: ${errorMessage(error)}`
      );
      return false;
    }
  }

  /** Show the sibling `step` away from message `id` ("<" / ">"). */
  switchBranch(id: string, step: number): void {
    const currentId = switchSibling(this._history, id, step);
    if (currentId === this._history.currentId) {
      return;
    }
    this._history = { ...this._history, currentId };
    this._structureChanged.emit();
    void this._saveHistory();
  }

  /** Re-read the open chat from the server (after a reconnect or a gap). */
  async resync(): Promise<void> {
    const chatId = this._chatId;
    if (!chatId) {
      return;
    }
    // Frames sent while the chat is read are applied on top of what the server answers.
    this._gate.hold();
    try {
      let chat: api.IChatResponse;
      try {
        chat = await this._client.getChat(chatId);
      } catch (error) {
        this._errorOccurred.emit(
          `Could not refresh the chat: ${errorMessage(error)}`
        );
        return;
      }
      if (this._chatId !== chatId) {
        return;
      }
      this._history = mergeHistories(
        this._history,
        normalizeHistory(chat.chat.history)
      );
      this._title = chat.title || this._title;
      this._reloaded.emit();
    } finally {
      this._applyHeldFrames();
    }
  }

  /** Show one's own chat `chat` (read from the server). */
  private _show(chat: api.IChatResponse): void {
    this._shared = null;
    this._chatId = chat.id;
    this._title = chat.title || chat.chat.title || 'Chat';
    this._history = normalizeHistory(chat.chat.history);
    this._workspace = Private.recallWorkspace(chat.id);
    this._pendingAssistant = null;
    const remembered = chat.chat.models?.[0];
    if (remembered) {
      this._model = remembered;
    } else if (!this._model) {
      this._model = this._defaultModel();
    }
    this._reloaded.emit();
    this._modelsChanged.emit();
  }

  private _applyHeldFrames(): void {
    for (const frame of this._gate.release()) {
      this._onFrame(this.socket, frame);
    }
  }

  // ---------------------------------------------------------------------

  private async _turn(
    parentId: string | null,
    content: string,
    options: ISendOptions
  ): Promise<void> {
    if (!this._model) {
      this._errorOccurred.emit(
        'No model is available: configure a connection or the embedded model.'
      );
      return;
    }
    if (!this._chatId) {
      try {
        const title = placeholderTitle(content);
        const chat = await this._client.newChat({
          title,
          models: [this._model],
          history: emptyHistory(),
          messages: []
        });
        this._chatId = chat.id;
        this._title = chat.title || title;
        this._listChanged.emit({ id: chat.id, title: this._title });
      } catch (error) {
        this._errorOccurred.emit(
          `Could not create the chat: ${errorMessage(error)}`
        );
        return;
      }
    }
    const user: IHistoryMessage = {
      id: LOCAL + randomId(),
      parentId,
      childrenIds: [],
      role: 'user',
      content,
      files: options.files?.length ? options.files : undefined,
      timestamp: Math.floor(Date.now() / 1000),
      done: true
    };
    this._history = addMessage(this._history, user);
    const placeholder = this._placeholder(user.id);
    this._history = addMessage(this._history, placeholder);
    this._structureChanged.emit();
    await this._start(placeholder, {
      model: this._model,
      messages: this._requestMessages(user.id),
      stream: true,
      chat_id: this._chatId,
      parent_id: parentId,
      session_id: this.socket.sessionId,
      files: user.files,
      features: {
        workspace: this._useWorkspace(options),
        ...(options.image ? { image_generation: true } : {})
      }
    });
  }

  /** The Workspace choice for this turn (given, or the chat's), remembered. */
  private _useWorkspace(options: ISendOptions): boolean {
    const value = options.workspace ?? this.workspace;
    this.workspace = value;
    return value;
  }

  private _placeholder(parentId: string): IHistoryMessage {
    const arena = this._model === ARENA_MODEL_ID;
    return {
      id: LOCAL + randomId(),
      parentId,
      childrenIds: [],
      role: 'assistant',
      content: '',
      // An arena answer learns its model from the server (and shows it once rated).
      model: arena ? undefined : this._model,
      arena: arena || undefined,
      timestamp: Math.floor(Date.now() / 1000),
      done: false
    };
  }

  /** An arena turn's other answers: placeholders beside the first, under its user message. */
  private _addArenaSiblings(started: api.ICompletionStarted): void {
    const first = this._history.messages[started.message_id];
    const parentId = first?.parentId;
    const extra = (started.message_ids ?? []).filter(
      id => !(id in this._history.messages)
    );
    if (!parentId || extra.length === 0) {
      return;
    }
    const currentId = this._history.currentId;
    for (const id of extra) {
      this._history = addMessage(this._history, {
        id,
        parentId,
        childrenIds: [],
        role: 'assistant',
        content: '',
        arena: true,
        timestamp: Math.floor(Date.now() / 1000),
        done: false
      });
    }
    this._history = { ...this._history, currentId };
    this._structureChanged.emit();
  }

  private async _start(
    placeholder: IHistoryMessage,
    request: api.ICompletionRequest
  ): Promise<void> {
    this._pendingAssistant = placeholder.id;
    const chatId = request.chat_id;
    if (this.toolIds.length > 0) {
      request.tool_ids = [...this.toolIds];
      const path = this.notebookPath?.();
      if (path && path.endsWith('.ipynb') && !path.startsWith('/')) {
        request.notebook_path = path;
      }
    }
    try {
      const started = await this._client.startCompletion(request);
      if (this._chatId !== chatId) {
        return;
      }
      this._adopt(started.message_id);
      const userId = this._history.messages[started.message_id]?.parentId;
      if (started.user_message_id && userId && userId.startsWith(LOCAL)) {
        this._history = renameMessage(
          this._history,
          userId,
          started.user_message_id
        );
        this._renamed.emit({ from: userId, to: started.user_message_id });
        this._structureChanged.emit();
      }
      this._addArenaSiblings(started);
    } catch (error) {
      if (this._chatId !== chatId) {
        return;
      }
      const id = this._pendingAssistant ?? placeholder.id;
      this._pendingAssistant = null;
      const message = this._history.messages[id];
      if (message) {
        this._history = updateMessage(this._history, {
          ...message,
          done: true,
          status: undefined,
          error: errorMessage(error)
        });
        this._messagesChanged.emit([id]);
      }
    }
  }

  /** The server named the pending placeholder: take its id. */
  private _adopt(serverId: string): void {
    const pending = this._pendingAssistant;
    this._pendingAssistant = null;
    if (!pending || pending === serverId) {
      return;
    }
    if (serverId in this._history.messages) {
      // Frames created it first; drop the local placeholder.
      this._history = removeSubtree(this._history, pending);
      const server = this._history.messages[serverId];
      this._history = {
        ...this._history,
        currentId: server ? serverId : this._history.currentId
      };
    } else {
      this._history = renameMessage(this._history, pending, serverId);
      this._renamed.emit({ from: pending, to: serverId });
    }
    this._structureChanged.emit();
  }

  private _requestMessages(leafId: string): api.ICompletionMessage[] {
    return branch(this._history, leafId)
      .filter(m => !m.error)
      .map(m => ({
        role: m.role,
        content:
          m.role === 'user' ? contentParts(m.content, m.files) : m.content
      }));
  }

  /** Local placeholder ids must be replaced by the server's before branching. */
  private async _ensureServerIds(): Promise<void> {
    if (Object.keys(this._history.messages).some(id => id.startsWith(LOCAL))) {
      await this.resync();
    }
  }

  private async _saveHistory(): Promise<void> {
    if (!this._chatId || this.generating) {
      return;
    }
    const history = this._history;
    try {
      await this._client.updateChat(this._chatId, {
        history,
        messages: branch(history)
      });
    } catch (error) {
      this._errorOccurred.emit(
        `Could not save the branch: ${errorMessage(error)}`
      );
    }
  }

  private _defaultModel(): string {
    const usable = this._models.filter(m => m.available !== false);
    const wanted = [
      this._settings.defaultModel,
      window.localStorage.getItem(LAST_MODEL_KEY) ?? ''
    ];
    for (const id of wanted) {
      if (id && usable.some(m => m.id === id)) {
        return id;
      }
    }
    return usable[0]?.id ?? this._models[0]?.id ?? '';
  }

  private _onFrame(_: IEventSocket, frame: IEventFrame): void {
    if (this._gate.offer(frame)) {
      return;
    }
    switch (frame.type) {
      case 'index:progress':
        this._progress = indexProgress(frame.data);
        this._progressChanged.emit(this._progress);
        return;
      case 'notebook:changed': {
        const path = changedPath(frame.data);
        if (path) {
          this._notebookChanged.emit(path);
        }
        return;
      }
      case 'models:updated':
        // A connection that was still answering has listed its models.
        void this.loadModels();
        return;
      case 'chat:title': {
        const title = titleOf(frame);
        if (frame.chat_id && title) {
          if (frame.chat_id === this._chatId) {
            this._title = title;
          }
          this._listChanged.emit({ id: frame.chat_id, title });
        }
        return;
      }
      default:
        break;
    }
    if (!frame.chat_id || frame.chat_id !== this._chatId) {
      if (frame.type === 'chat:completion' && frame.chat_id) {
        const data = frame.data as { done?: unknown } | undefined;
        if (data?.done === true) {
          this._listChanged.emit({ id: frame.chat_id });
        }
      }
      return;
    }
    // A frame may beat the POST answer: the pending placeholder is its message.
    if (
      (frame.type === 'chat:completion' || frame.type === 'status') &&
      frame.message_id &&
      this._pendingAssistant &&
      !(frame.message_id in this._history.messages)
    ) {
      this._adopt(frame.message_id);
    }
    const result = reduceChatEvent(this._history, this._chatId, frame);
    this._history = result.history;
    if (result.structural) {
      this._structureChanged.emit();
    } else if (result.changed.length > 0) {
      this._messagesChanged.emit(result.changed);
    }
    const finished =
      frame.type === 'chat:completion' &&
      (frame.data as { done?: unknown } | undefined)?.done === true;
    if (result.resync || finished || frame.type === 'chat:tasks:cancel') {
      this._resync.request(result.resync ? 150 : 400);
    }
    if (finished) {
      this._listChanged.emit({ id: frame.chat_id });
    }
  }

  private _onReconnected(): void {
    void this.resync();
    void this.loadModels(); // a models:updated may have gone by meanwhile
    this._listChanged.emit(null);
  }

  /**
   * The socket's first open: an answer read before the socket was registered on the server
   * may have streamed on (or ended) unseen meanwhile. Reconnects resync in `_onReconnected`.
   */
  private _onSocketState(_: IEventSocket, state: ConnectionState): void {
    if (state !== 'open' || this._socketOpened) {
      return;
    }
    this._socketOpened = true;
    if (this._chatId && this.generating) {
      void this.resync();
    }
  }

  private _client: api.IChatClient;
  private _settings: IChatSettings = DEFAULT_SETTINGS;
  private _chatId: string | null = null;
  private _title = 'New chat';
  private _history: IHistory = emptyHistory();
  private _models: IModel[] = [];
  private _model = '';
  private _workspace: boolean | null = null;
  private _progress: IIndexProgress | null = null;
  private _shared: ISharedView | null = null;
  private _pendingAssistant: string | null = null;
  private _resync = new Deadline(() => void this.resync());
  private _gate = new FrameGate<IEventFrame>();
  private _socketOpened = false;
  private _isDisposed = false;
  private _reloaded = new Signal<this, void>(this);
  private _notebookChanged = new Signal<this, string>(this);
  private _structureChanged = new Signal<this, void>(this);
  private _messagesChanged = new Signal<this, string[]>(this);
  private _listChanged = new Signal<
    this,
    { id: string; title?: string } | null
  >(this);
  private _modelsChanged = new Signal<this, void>(this);
  private _progressChanged = new Signal<this, IIndexProgress | null>(this);
  private _settingsChanged = new Signal<this, IChatSettings>(this);
  private _errorOccurred = new Signal<this, string>(this);
  private _renamed = new Signal<this, { from: string; to: string }>(this);
}

export namespace ChatController {
  export interface IOptions {
    /** The events socket; a new `EventSocket` by default. */
    socket?: IEventSocket;
    /** The REST calls; the functions of `./api` (the server) by default. */
    client?: api.IChatClient;
  }
}

namespace Private {
  /** The remembered Workspace choices, by chat id, oldest first. */
  export function readAll(): Record<string, boolean> {
    try {
      const raw = window.localStorage.getItem(WORKSPACE_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      return parsed && typeof parsed === 'object'
        ? (parsed as Record<string, boolean>)
        : {};
    } catch {
      return {};
    }
  }

  /** The Workspace choice last used in chat `id`, or null when none was kept. */
  export function recallWorkspace(id: string): boolean | null {
    const value = readAll()[id];
    return typeof value === 'boolean' ? value : null;
  }

  /** Keep chat `id`'s Workspace choice (the most recent last). */
  export function rememberWorkspace(id: string, value: boolean): void {
    const all = readAll();
    if (all[id] === value) {
      return;
    }
    delete all[id];
    all[id] = value;
    const ids = Object.keys(all);
    for (const old of ids.slice(0, Math.max(0, ids.length - WORKSPACE_KEEP))) {
      delete all[old];
    }
    try {
      window.localStorage.setItem(WORKSPACE_KEY, JSON.stringify(all));
    } catch {
      // Storage full or disabled: the choice lasts for this page only.
    }
  }
}
