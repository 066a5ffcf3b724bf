import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { afterEach, beforeEach, describe, expect, it, Mock, vi } from 'vitest';

import type {
  IChatBody,
  IChatClient,
  IChatResponse,
  ICompletionRequest,
  ICompletionStarted,
  IFeedbackForm,
  IHistory,
  IHistoryMessage
} from '../src/api';
import { ChatController } from '../src/controller';
import type { ConnectionState, IEventSocket } from '../src/events';
import type { IEventFrame } from '../src/reducer';

/** The events socket, driven by the test: `push` delivers a frame from the server. */
class FakeSocket implements IEventSocket {
  readonly sessionId = 'session-1';
  state: ConnectionState = 'open';
  readonly sent: Record<string, unknown>[] = [];
  isDisposed = false;

  get received(): ISignal<IEventSocket, IEventFrame> {
    return this._received;
  }
  get stateChanged(): ISignal<IEventSocket, ConnectionState> {
    return this._stateChanged;
  }
  get reconnected(): ISignal<IEventSocket, void> {
    return this._reconnected;
  }

  send(frame: Record<string, unknown>): boolean {
    if (this.state !== 'open') {
      return false;
    }
    this.sent.push(frame);
    return true;
  }

  push(frame: IEventFrame): void {
    this._received.emit(frame);
  }

  reconnect(): void {
    this._reconnected.emit();
  }

  dispose(): void {
    this.isDisposed = true;
    Signal.clearData(this);
  }

  private _received = new Signal<IEventSocket, IEventFrame>(this);
  private _stateChanged = new Signal<IEventSocket, ConnectionState>(this);
  private _reconnected = new Signal<IEventSocket, void>(this);
}

type FakeClient = { [K in keyof IChatClient]: Mock<IChatClient[K]> };

/**
 * The REST API as a store of chats: `stored` is what the server would answer;
 * `shares` holds the snapshots by share id.
 */
function fakeClient(
  stored: Map<string, IChatResponse>,
  shares: Map<string, IChatResponse> = new Map()
): FakeClient {
  return {
    listModels: vi.fn(async () => [{ id: 'm1' }, { id: 'm2' }]),
    getRetrievalStatus: vi.fn(async () => ({})),
    getChat: vi.fn(async (id: string) => {
      const chat = stored.get(id);
      if (!chat) {
        throw responseError(404, `Chat ${id} not found`);
      }
      return structuredClone(chat);
    }),
    newChat: vi.fn(async (chat: IChatBody) => {
      const created = chatResponse('c1', chat);
      stored.set(created.id, created);
      return structuredClone(created);
    }),
    updateChat: vi.fn(async (id: string, chat: IChatBody) =>
      chatResponse(id, chat)
    ),
    startCompletion: vi.fn(
      async (request: ICompletionRequest): Promise<ICompletionStarted> => ({
        chat_id: request.chat_id,
        message_id: 'a1',
        user_message_id: 'u1'
      })
    ),
    stopChat: vi.fn(async () => undefined),
    shareChat: vi.fn(async (id: string) => {
      const chat = stored.get(id);
      if (!chat) {
        throw responseError(404, `Chat ${id} not found`);
      }
      chat.share_id = chat.share_id ?? `share-${id}`;
      shares.set(chat.share_id, structuredClone(chat));
      return structuredClone(chat);
    }),
    unshareChat: vi.fn(async (id: string) => {
      for (const [shareId, chat] of shares) {
        if (chat.id === id) {
          shares.delete(shareId);
        }
      }
    }),
    getSharedChat: vi.fn(async (shareId: string) => {
      const chat = shares.get(shareId);
      if (!chat) {
        throw responseError(404, `Shared chat ${shareId} not found`);
      }
      return structuredClone(chat);
    }),
    cloneSharedChat: vi.fn(async (shareId: string) => {
      const chat = shares.get(shareId);
      if (!chat) {
        throw responseError(404, `Shared chat ${shareId} not found`);
      }
      const clone = chatResponse('clone-1', {
        ...structuredClone(chat.chat),
        title: `Clone of ${chat.title}`
      });
      clone.user_id = 'bob';
      stored.set(clone.id, clone);
      return structuredClone(clone);
    }),
    submitFeedback: vi.fn(async (form: IFeedbackForm) => ({
      id: 'fb1',
      user_id: 'alice',
      version: 0,
      type: 'rating',
      data: form.data,
      meta: form.meta,
      created_at: 1,
      updated_at: 1
    }))
  };
}

function chatResponse(id: string, chat: IChatBody): IChatResponse {
  return {
    id,
    title: chat.title ?? '',
    chat,
    created_at: 1,
    updated_at: 1
  };
}

function responseError(
  status: number,
  message: string
): ServerConnection.ResponseError {
  return new ServerConnection.ResponseError(
    new Response(null, { status }),
    message
  );
}

function message(
  fields: Partial<IHistoryMessage> & Pick<IHistoryMessage, 'id' | 'role'>
): IHistoryMessage {
  return {
    parentId: null,
    childrenIds: [],
    content: '',
    done: true,
    timestamp: 1,
    ...fields
  };
}

/** A chat whose one answer `a1` (to `u1`) is the given assistant message. */
function answeredChat(answer: Partial<IHistoryMessage>): IChatResponse {
  const history: IHistory = {
    messages: {
      u1: message({
        id: 'u1',
        role: 'user',
        content: 'Question',
        childrenIds: ['a1']
      }),
      a1: message({
        id: 'a1',
        role: 'assistant',
        parentId: 'u1',
        content: 'Old answer',
        model: 'm2',
        ...answer
      })
    },
    currentId: 'a1'
  };
  return chatResponse('c1', { title: 'Saved', models: ['m2'], history });
}

/** Let the controller's pending promise chains run to their end. */
const settle = (): Promise<void> =>
  new Promise(resolve => setImmediate(resolve));

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('ChatController', () => {
  let stored: Map<string, IChatResponse>;
  let client: FakeClient;
  let socket: FakeSocket;
  let controller: ChatController;
  let errors: string[];
  let listChanges: ({ id: string; title?: string } | null)[];
  let changedIds: string[][];

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const storage = new Map<string, string>();
    vi.stubGlobal('window', globalThis);
    vi.stubGlobal('localStorage', {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => storage.set(key, value)
    });
    stored = new Map();
    client = fakeClient(stored);
    socket = new FakeSocket();
    controller = new ChatController({ socket, client });
    errors = [];
    listChanges = [];
    changedIds = [];
    controller.errorOccurred.connect((_, error) => errors.push(error));
    controller.listChanged.connect((_, change) => listChanges.push(change));
    controller.messagesChanged.connect((_, ids) => changedIds.push(ids));
    await controller.loadModels();
  });

  afterEach(() => {
    controller.dispose();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('uses the injected socket and picks the first model', () => {
    expect(controller.socket).toBe(socket);
    expect(controller.models.map(m => m.id)).toEqual(['m1', 'm2']);
    expect(controller.model).toBe('m1');
  });

  it('sends a first message: creates the chat, then posts the turn', async () => {
    await controller.send('Plot the data\nplease');

    expect(client.newChat).toHaveBeenCalledWith({
      title: 'Plot the data',
      models: ['m1'],
      history: { messages: {}, currentId: null },
      messages: []
    });
    expect(listChanges).toEqual([{ id: 'c1', title: 'Plot the data' }]);
    expect(client.startCompletion).toHaveBeenCalledTimes(1);
    expect(client.startCompletion.mock.calls[0][0]).toEqual({
      model: 'm1',
      messages: [{ role: 'user', content: 'Plot the data\nplease' }],
      stream: true,
      chat_id: 'c1',
      parent_id: null,
      session_id: 'session-1',
      files: undefined,
      features: { workspace: true }
    });

    // The local placeholders took the ids the server gave them.
    const history = controller.history;
    expect(controller.chatId).toBe('c1');
    expect(controller.title).toBe('Plot the data');
    expect(Object.keys(history.messages).sort()).toEqual(['a1', 'u1']);
    expect(history.currentId).toBe('a1');
    expect(history.messages.u1).toMatchObject({
      role: 'user',
      parentId: null,
      childrenIds: ['a1'],
      content: 'Plot the data\nplease'
    });
    expect(history.messages.a1).toMatchObject({
      role: 'assistant',
      parentId: 'u1',
      content: '',
      model: 'm1',
      done: false
    });
    expect(controller.generating).toBe(true);
  });

  it('sends the workspace and files options with the turn', async () => {
    const files = [{ type: 'file' as const, id: 'f1', name: 'data.csv' }];
    await controller.send('Summarise', { files, workspace: false });

    const request = client.startCompletion.mock.calls[0][0];
    expect(request.files).toEqual(files);
    expect(request.features).toEqual({ workspace: false });
    expect(controller.history.messages.u1.files).toEqual(files);
  });

  it('streams the answer in from the events socket, then re-reads the chat', async () => {
    await controller.send('Hello');
    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a1',
      data: { delta: 'Hi', offset: 0 }
    });
    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a1',
      data: { delta: ' there', offset: 2 }
    });
    expect(controller.history.messages.a1.content).toBe('Hi there');
    expect(controller.generating).toBe(true);
    expect(changedIds).toEqual([['a1'], ['a1']]);

    const final = answeredChat({ content: 'Hi there', model: 'm1' });
    final.chat.history!.messages.u1.content = 'Hello';
    stored.set('c1', final);
    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a1',
      data: { done: true, usage: { total_tokens: 7 } }
    });
    expect(controller.history.messages.a1).toMatchObject({
      content: 'Hi there',
      done: true,
      usage: { total_tokens: 7 }
    });
    expect(controller.generating).toBe(false);
    expect(listChanges).toContainEqual({ id: 'c1' });

    expect(client.getChat).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(400);
    expect(client.getChat).toHaveBeenCalledWith('c1');
    expect(controller.history.messages.a1.content).toBe('Hi there');
    expect(controller.title).toBe('Saved');
  });

  it('streams frames that beat the POST answer into the placeholder', async () => {
    const started = deferred<ICompletionStarted>();
    client.startCompletion.mockReturnValueOnce(started.promise);
    const sending = controller.send('Hello');
    await settle();
    expect(client.startCompletion).toHaveBeenCalledTimes(1);

    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a1',
      data: { delta: 'Early' }
    });
    const assistants = Object.values(controller.history.messages).filter(
      m => m.role === 'assistant'
    );
    expect(assistants.map(m => [m.id, m.content])).toEqual([['a1', 'Early']]);

    started.resolve({ chat_id: 'c1', message_id: 'a1', user_message_id: 'u1' });
    await sending;
    expect(Object.keys(controller.history.messages).sort()).toEqual([
      'a1',
      'u1'
    ]);
    expect(controller.history.messages.a1.content).toBe('Early');
    expect(controller.history.messages.u1.childrenIds).toEqual(['a1']);
  });

  it('leaves the open chat alone on frames of another chat', async () => {
    await controller.send('Hello');
    const before = controller.history;
    socket.push({
      type: 'chat:completion',
      chat_id: 'c2',
      message_id: 'x1',
      data: { delta: 'elsewhere', done: true }
    });
    expect(controller.history).toBe(before);
    expect(listChanges).toContainEqual({ id: 'c2' });
  });

  it('applies a title frame to the open chat and the list', async () => {
    await controller.send('Hello');
    socket.push({ type: 'chat:title', chat_id: 'c1', data: 'Greetings' });
    expect(controller.title).toBe('Greetings');
    expect(listChanges).toContainEqual({ id: 'c1', title: 'Greetings' });
  });

  describe('stop', () => {
    it('asks the server to stop, and re-reads the chat if no end comes', async () => {
      await controller.send('Hello');
      await controller.stop();
      expect(client.stopChat).toHaveBeenCalledWith('c1');
      expect(socket.sent).toEqual([]);

      stored.set('c1', answeredChat({ content: '', stopped: true }));
      await vi.advanceTimersByTimeAsync(2000);
      expect(client.getChat).toHaveBeenCalledWith('c1');
      expect(controller.generating).toBe(false);
      expect(errors).toEqual([]);
    });

    it('does not re-read a chat whose answer ended meanwhile', async () => {
      await controller.send('Hello');
      await controller.stop();
      socket.push({ type: 'chat:tasks:cancel', chat_id: 'c1' });
      expect(controller.history.messages.a1.done).toBe(true);
      expect(controller.generating).toBe(false);
      client.getChat.mockClear();
      await vi.advanceTimersByTimeAsync(2000);
      // Only the re-read the cancel frame asks for, none for the stop.
      expect(client.getChat).toHaveBeenCalledTimes(1);
    });

    it('falls back to a stop frame on the socket when the request fails', async () => {
      await controller.send('Hello');
      client.stopChat.mockRejectedValueOnce(responseError(502, 'Bad gateway'));
      await controller.stop();
      expect(socket.sent).toEqual([{ type: 'chat:stop', chat_id: 'c1' }]);
      expect(errors).toEqual([]);
    });

    it('reports the error when neither the request nor the socket works', async () => {
      await controller.send('Hello');
      client.stopChat.mockRejectedValueOnce(responseError(503, 'Gone'));
      socket.state = 'closed';
      await controller.stop();
      expect(errors).toEqual(['Could not stop: Gone (HTTP 503)']);
    });

    it('does nothing without an open chat', async () => {
      await controller.stop();
      expect(client.stopChat).not.toHaveBeenCalled();
    });
  });

  describe('regenerate and continue', () => {
    it('regenerates: a new sibling answer under the same question', async () => {
      stored.set('c1', answeredChat({}));
      await controller.openChat('c1');
      expect(controller.model).toBe('m2');
      client.startCompletion.mockResolvedValueOnce({
        chat_id: 'c1',
        message_id: 'a2'
      });

      await controller.regenerate('a1');

      expect(client.startCompletion.mock.calls[0][0]).toEqual({
        model: 'm2',
        messages: [{ role: 'user', content: 'Question' }],
        stream: true,
        chat_id: 'c1',
        parent_id: 'u1',
        session_id: 'session-1',
        regenerate: true,
        files: undefined,
        features: { workspace: true }
      });
      const history = controller.history;
      expect(history.messages.u1.childrenIds).toEqual(['a1', 'a2']);
      expect(history.currentId).toBe('a2');
      expect(history.messages.a2).toMatchObject({
        role: 'assistant',
        parentId: 'u1',
        content: '',
        done: false
      });
      expect(history.messages.a1.content).toBe('Old answer');
      expect(controller.generating).toBe(true);
    });

    it('continues a stopped answer in the same message', async () => {
      stored.set('c1', answeredChat({ content: 'Half', stopped: true }));
      await controller.openChat('c1');
      client.startCompletion.mockResolvedValueOnce({
        chat_id: 'c1',
        message_id: 'a1'
      });

      await controller.continueAnswer('a1');

      expect(client.startCompletion.mock.calls[0][0]).toEqual({
        model: 'm2',
        messages: [
          { role: 'user', content: 'Question' },
          { role: 'assistant', content: 'Half' }
        ],
        stream: true,
        chat_id: 'c1',
        parent_id: 'a1',
        session_id: 'session-1',
        continue: true,
        files: undefined,
        features: { workspace: true }
      });
      expect(controller.history.messages.a1).toMatchObject({
        content: 'Half',
        done: false
      });
      expect(controller.history.messages.a1.stopped).toBeUndefined();
      expect(controller.generating).toBe(true);

      socket.push({
        type: 'chat:completion',
        chat_id: 'c1',
        message_id: 'a1',
        data: { delta: ' and the rest', offset: 4 }
      });
      expect(controller.history.messages.a1.content).toBe('Half and the rest');
    });

    it('does not continue while an answer is streaming', async () => {
      stored.set('c1', answeredChat({ content: 'Half', done: false }));
      await controller.openChat('c1');
      await controller.continueAnswer('a1');
      expect(client.startCompletion).not.toHaveBeenCalled();
    });
  });

  describe('the Workspace checkbox', () => {
    const workspaceOf = (call: number): unknown =>
      client.startCompletion.mock.calls[call][0].features;

    beforeEach(() => {
      client.startCompletion.mockResolvedValue({
        chat_id: 'c1',
        message_id: 'a2'
      });
    });

    it('regenerates, continues and edits with the value it is given', async () => {
      stored.set('c1', answeredChat({ stopped: true }));
      await controller.openChat('c1');
      // The setting says on; the checkbox says off: the checkbox wins.
      expect(controller.settings.workspaceKnowledge).toBe(true);

      await controller.regenerate('a1', { workspace: false });
      expect(workspaceOf(0)).toEqual({ workspace: false });

      await controller.openChat('c1');
      await controller.continueAnswer('a1', { workspace: false });
      expect(workspaceOf(1)).toEqual({ workspace: false });

      await controller.openChat('c1');
      await controller.editAndResend('u1', 'Changed', { workspace: false });
      expect(workspaceOf(2)).toEqual({ workspace: false });
    });

    it("falls back to the chat's last choice, not the setting", async () => {
      stored.set('c1', answeredChat({}));
      await controller.openChat('c1');
      controller.workspace = false;

      await controller.regenerate('a1');

      expect(workspaceOf(0)).toEqual({ workspace: false });
    });

    it('remembers the choice per chat, across controllers', async () => {
      stored.set('c1', answeredChat({}));
      stored.set('c2', { ...answeredChat({}), id: 'c2' });
      await controller.openChat('c1');
      expect(controller.workspace).toBe(true);
      await controller.regenerate('a1', { workspace: false });
      expect(controller.workspace).toBe(false);

      await controller.openChat('c2');
      expect(controller.workspace).toBe(true);
      controller.newChat();
      expect(controller.workspace).toBe(true);

      // A reload of the page: a new controller reads the kept choice.
      const again = new ChatController({ socket: new FakeSocket(), client });
      await again.loadModels();
      await again.openChat('c1');
      expect(again.workspace).toBe(false);
      await again.openChat('c2');
      expect(again.workspace).toBe(true);
      again.dispose();
    });

    it("keeps a new chat's first choice under the id it is given", async () => {
      client.startCompletion.mockResolvedValueOnce({
        chat_id: 'created-1',
        message_id: 'a1'
      });
      await controller.send('Hello', { workspace: false });
      const created = client.newChat.mock.results[0]
        .value as Promise<IChatResponse>;
      const id = (await created).id;
      stored.set(id, { ...answeredChat({}), id });

      controller.newChat();
      await controller.openChat(id);

      expect(controller.workspace).toBe(false);
    });
  });

  describe('errors', () => {
    it('shows a failed completion on its answer', async () => {
      client.startCompletion.mockRejectedValueOnce(
        responseError(500, 'Model exploded')
      );
      await controller.send('Hello');

      const answer = Object.values(controller.history.messages).find(
        m => m.role === 'assistant'
      )!;
      expect(answer).toMatchObject({
        done: true,
        error: 'Model exploded (HTTP 500)'
      });
      expect(changedIds).toContainEqual([answer.id]);
      expect(controller.generating).toBe(false);
      expect(errors).toEqual([]);

      // The next message does not hang under the turn the server never saved.
      await controller.send('Again');
      const retry = client.startCompletion.mock.calls[1][0];
      expect(retry.parent_id).toBeNull();
      expect(retry.messages).toEqual([{ role: 'user', content: 'Again' }]);
    });

    it('reports a chat that cannot be created, and sends nothing', async () => {
      client.newChat.mockRejectedValueOnce(responseError(500, 'Disk full'));
      await controller.send('Hello');
      expect(errors).toEqual([
        'Could not create the chat: Disk full (HTTP 500)'
      ]);
      expect(client.startCompletion).not.toHaveBeenCalled();
      expect(controller.chatId).toBeNull();
      expect(controller.history.messages).toEqual({});
    });

    it('reports models that cannot be listed, then sends nothing', async () => {
      client.listModels.mockRejectedValueOnce(
        new ServerConnection.NetworkError(new TypeError('Failed to fetch'))
      );
      controller.newChat();
      await controller.loadModels();
      expect(errors).toEqual([
        'Could not list models: Cannot reach the Jupyter server: Failed to fetch'
      ]);
      expect(controller.models).toEqual([]);

      await controller.send('Hello');
      expect(errors[1]).toMatch(/^No model is available/);
      expect(client.newChat).not.toHaveBeenCalled();
    });

    it('reports a chat that cannot be re-read', async () => {
      await controller.send('Hello');
      client.getChat.mockRejectedValueOnce(responseError(500, 'Locked'));
      await controller.resync();
      expect(errors).toEqual(['Could not refresh the chat: Locked (HTTP 500)']);
      expect(controller.history.messages.a1.done).toBe(false);
    });
  });

  it('reloads the models when the server says the list changed', async () => {
    const changes: number[] = [];
    controller.modelsChanged.connect(() =>
      changes.push(controller.models.length)
    );
    client.listModels.mockResolvedValueOnce([
      { id: 'm1' },
      { id: 'm2' },
      { id: 'late', connection: '1' }
    ]);
    socket.push({ type: 'models:updated', data: {} });
    await settle();
    expect(client.listModels).toHaveBeenCalledTimes(2);
    expect(controller.models.map(m => m.id)).toEqual(['m1', 'm2', 'late']);
    expect(controller.model).toBe('m1');
    expect(changes).toEqual([3]);
  });

  it('re-reads the open chat and the list after a reconnect', async () => {
    await controller.send('Hello');
    stored.set('c1', answeredChat({ content: 'Done meanwhile' }));
    socket.reconnect();
    await settle();
    expect(client.getChat).toHaveBeenCalledWith('c1');
    expect(listChanges).toContainEqual(null);
    expect(controller.history.messages.a1.content).toBe('Done meanwhile');
    expect(controller.generating).toBe(false);
  });

  describe('sharing', () => {
    let shares: Map<string, IChatResponse>;

    beforeEach(async () => {
      controller.dispose();
      shares = new Map();
      client = fakeClient(stored, shares);
      socket = new FakeSocket();
      controller = new ChatController({ socket, client });
      errors = [];
      listChanges = [];
      controller.errorOccurred.connect((_, error) => errors.push(error));
      controller.listChanged.connect((_, change) => listChanges.push(change));
      await controller.loadModels();
      const alice = answeredChat({ content: '<img src=x onerror=alert(1)>' });
      alice.id = 'alice-chat';
      alice.user_id = 'alice';
      stored.set(alice.id, alice);
    });

    it('shares a chat: its share id', async () => {
      expect(await controller.share('alice-chat')).toBe('share-alice-chat');
      expect(client.shareChat).toHaveBeenCalledWith('alice-chat');
      expect(shares.has('share-alice-chat')).toBe(true);
      expect(errors).toEqual([]);
    });

    it('reports a refused share and gives no id', async () => {
      expect(await controller.share('nope')).toBeNull();
      expect(errors).toEqual([
        'Could not share: Chat nope not found (HTTP 404)'
      ]);
    });

    it('ends a link', async () => {
      await controller.share('alice-chat');
      expect(await controller.unshare('alice-chat')).toBe(true);
      expect(client.unshareChat).toHaveBeenCalledWith('alice-chat');
      expect(shares.size).toBe(0);
    });

    it('shows a snapshot read-only, its owner named', async () => {
      const shareId = (await controller.share('alice-chat'))!;
      let reloads = 0;
      controller.reloaded.connect(() => reloads++);

      expect(await controller.openShared(shareId)).toBe(true);

      expect(client.getSharedChat).toHaveBeenCalledWith('share-alice-chat');
      expect(controller.shared).toEqual({
        shareId: 'share-alice-chat',
        owner: 'alice'
      });
      // Not one's own chat: nothing may write to alice's chat id.
      expect(controller.chatId).toBeNull();
      expect(controller.title).toBe('Saved');
      expect(controller.history.messages.a1.content).toBe(
        '<img src=x onerror=alert(1)>'
      );
      expect(reloads).toBe(1);

      await controller.send('Can I add to it?');
      await controller.regenerate('a1');
      await controller.continueAnswer('a1');
      await controller.editAndResend('u1', 'Changed');
      expect(client.newChat).not.toHaveBeenCalled();
      expect(client.startCompletion).not.toHaveBeenCalled();
      expect(client.updateChat).not.toHaveBeenCalled();
    });

    it('tells an unknown or ended link apart from other failures', async () => {
      expect(await controller.openShared('gone')).toBe(false);
      expect(errors).toEqual([
        'This share link is unknown or has ended: ask its owner for a new one.'
      ]);
      expect(controller.shared).toBeNull();

      client.getSharedChat.mockRejectedValueOnce(
        responseError(503, 'The oui team service is not reachable')
      );
      expect(await controller.openShared('x')).toBe(false);
      expect(errors[1]).toBe(
        'Could not open the shared chat: The oui team service is not reachable (HTTP 503)'
      );
    });

    it("clones the snapshot into a chat of one's own and opens it", async () => {
      const shareId = (await controller.share('alice-chat'))!;
      await controller.openShared(shareId);

      expect(await controller.cloneShared()).toBe('clone-1');

      expect(client.cloneSharedChat).toHaveBeenCalledWith('share-alice-chat');
      expect(controller.shared).toBeNull();
      expect(controller.chatId).toBe('clone-1');
      expect(controller.title).toBe('Clone of Saved');
      expect(controller.model).toBe('m2');
      expect(Object.keys(controller.history.messages).sort()).toEqual([
        'a1',
        'u1'
      ]);
      expect(listChanges).toEqual([{ id: 'clone-1', title: 'Clone of Saved' }]);
      // The clone is one's own: it takes new turns.
      await controller.send('Continue from here');
      expect(client.startCompletion.mock.calls[0][0]).toMatchObject({
        chat_id: 'clone-1',
        parent_id: 'a1'
      });
    });

    it('clones nothing without a snapshot on show; a failed clone keeps it', async () => {
      expect(await controller.cloneShared()).toBeNull();
      expect(client.cloneSharedChat).not.toHaveBeenCalled();

      const shareId = (await controller.share('alice-chat'))!;
      await controller.openShared(shareId);
      client.cloneSharedChat.mockRejectedValueOnce(responseError(500, 'boom'));
      expect(await controller.cloneShared()).toBeNull();
      expect(errors).toEqual(['Could not clone: boom (HTTP 500)']);
      expect(controller.shared?.shareId).toBe('share-alice-chat');
    });

    it("leaves the snapshot for a new chat or one of one's own", async () => {
      const shareId = (await controller.share('alice-chat'))!;
      await controller.openShared(shareId);
      controller.newChat();
      expect(controller.shared).toBeNull();

      await controller.openShared(shareId);
      await controller.openChat('alice-chat');
      expect(controller.shared).toBeNull();
      expect(controller.chatId).toBe('alice-chat');
    });
  });
  it('rates an answer: Open WebUI feedback, then the annotation on the message', async () => {
    stored.set('c1', answeredChat({}));
    await controller.openChat('c1');
    expect(await controller.rate('a1', { rating: 1 })).toBe(true);
    expect(client.submitFeedback).toHaveBeenLastCalledWith(
      {
        type: 'rating',
        data: {
          rating: 1,
          model_id: 'm2',
          sibling_model_ids: null,
          reason: '',
          comment: ''
        },
        meta: { chat_id: 'c1', message_id: 'a1', arena: false }
      },
      undefined
    );
    expect(controller.history.messages.a1.feedbackId).toBe('fb1');
    expect(controller.history.messages.a1.annotation?.rating).toBe(1);
    // The details update the same rating, by its id.
    await controller.rate('a1', { rating: -1, score: 3, comment: ' Wrong ' });
    const [form, id] = client.submitFeedback.mock.calls[1];
    expect(id).toBe('fb1');
    expect(form.data).toMatchObject({
      rating: -1,
      details: { rating: 3 },
      comment: ' Wrong '
    });
    expect(controller.history.messages.a1.annotation?.details).toEqual({
      rating: 3
    });
    expect(changedIds.slice(-2)).toEqual([['a1'], ['a1']]);
  });

  it('tells a rating that could not be saved, and keeps the message as it was', async () => {
    stored.set('c1', answeredChat({}));
    await controller.openChat('c1');
    client.submitFeedback.mockRejectedValueOnce(
      responseError(404, 'Message a1 not found')
    );
    expect(await controller.rate('a1', { rating: 1 })).toBe(false);
    expect(errors).toEqual([
      'Could not save the rating: Message a1 not found (HTTP 404)'
    ]);
    expect(controller.history.messages.a1.annotation).toBeUndefined();
  });

  it('an arena turn shows both answers, unnamed, each learning its model', async () => {
    client.startCompletion.mockImplementationOnce(async request => ({
      chat_id: request.chat_id,
      message_id: 'a1',
      message_ids: ['a1', 'b1'],
      user_message_id: 'u1'
    }));
    await controller.setModel('arena-model');
    await controller.send('Which is faster?');
    expect(client.startCompletion.mock.calls[0][0].model).toBe('arena-model');
    const history = controller.history;
    expect(history.messages.u1.childrenIds).toEqual(['a1', 'b1']);
    expect(history.messages.a1).toMatchObject({ arena: true, done: false });
    expect(history.messages.a1.model).toBeUndefined();
    expect(history.messages.b1).toMatchObject({
      arena: true,
      parentId: 'u1',
      done: false
    });
    expect(history.currentId).toBe('a1');
    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'b1',
      data: {
        content: '',
        done: false,
        model: 'm2',
        parentId: 'u1',
        arena: true
      }
    });
    expect(controller.history.messages.b1.model).toBe('m2');
    // Rating one compares it with the other's model.
    socket.push({
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a1',
      data: { content: 'A', done: true, model: 'm1', arena: true }
    });
    await controller.rate('a1', { rating: 1 });
    expect(client.submitFeedback.mock.calls[0][0]).toMatchObject({
      data: { rating: 1, model_id: 'm1', sibling_model_ids: ['m2'] },
      meta: { chat_id: 'c1', message_id: 'a1', arena: true }
    });
  });
});
