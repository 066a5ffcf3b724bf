/**
 * Pure reduction of `oui/api/events` frames into the message tree.
 *
 * Fields consumed are listed in `.handoff/frontend.md`; keep them in sync.
 */
import type {
  IHistory,
  IHistoryMessage,
  IMessageFile,
  ISource,
  IToolCall
} from './api';
import { normalizeSources } from './format';
import { addMessage, updateMessage } from './tree';

/** A frame of the events WebSocket. */
export interface IEventFrame {
  type: string;
  chat_id?: string;
  message_id?: string;
  data?: unknown;
}

/** The `data` of a `chat:completion` frame, as far as the UI reads it. */
export interface ICompletionData {
  /** Text to append. */
  delta?: string;
  /** Offset in the message content where `delta` starts (optional). */
  offset?: number;
  /** The full text so far (wins over `delta`). */
  content?: string;
  done?: boolean;
  sources?: ISource[];
  usage?: Record<string, unknown>;
  error?: string | null;
  model?: string;
  /** The server marked the answer interrupted (a server that stopped while writing it). */
  interrupted?: boolean;
  stopped?: boolean;
  /** One of an arena turn's answers (its start event says so). */
  arena?: boolean;
  /** The answer's generated images (file items of our files API). */
  files?: IMessageFile[];
  /** The user message it answers (its start event names it). */
  parentId?: string;
  /** The server's tool calls (the final event carries them all). */
  tool_calls?: IToolCall[];
}

/** Result of applying one frame to one message. */
export interface IApplyResult {
  message: IHistoryMessage;
  /** Whether anything visible changed. */
  changed: boolean;
  /** The frame cannot be applied (a gap in the deltas): re-read the chat. */
  resync: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Parse one text frame; `null` when it is not a JSON object with a `type`. */
export function parseFrame(text: string): IEventFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.type !== 'string') {
    return null;
  }
  return value as unknown as IEventFrame;
}

/** Readable text of an error field: a string, `{content}`, `{message}` or `{detail}`. */
export function errorText(error: unknown): string | null {
  if (error === null || error === undefined || error === false) {
    return null;
  }
  if (typeof error === 'string') {
    return error;
  }
  if (isObject(error)) {
    for (const key of ['content', 'message', 'detail']) {
      if (typeof error[key] === 'string') {
        return error[key] as string;
      }
    }
  }
  return JSON.stringify(error);
}

/**
 * Normalise a `chat:completion` payload. Accepts our `{delta, content, ...}`,
 * Open WebUI's `{content}` and OpenAI chunks `{choices: [{delta: {content}}]}`.
 */
export function completionData(data: unknown): ICompletionData {
  if (!isObject(data)) {
    return {};
  }
  const result: ICompletionData = {};
  if (typeof data.delta === 'string') {
    result.delta = data.delta;
  } else if (Array.isArray(data.choices) && isObject(data.choices[0])) {
    const choice = data.choices[0];
    if (isObject(choice.delta) && typeof choice.delta.content === 'string') {
      result.delta = choice.delta.content;
    }
  }
  if (typeof data.offset === 'number') {
    result.offset = data.offset;
  }
  if (typeof data.content === 'string') {
    result.content = data.content;
  }
  if (data.done === true) {
    result.done = true;
  }
  const sources = Array.isArray(data.sources)
    ? data.sources
    : Array.isArray(data.citations)
      ? data.citations
      : undefined;
  if (sources) {
    result.sources = normalizeSources(sources);
  }
  if (isObject(data.usage)) {
    result.usage = data.usage;
  }
  const error = errorText(data.error);
  if (error !== null) {
    result.error = error;
  }
  if (typeof data.model === 'string') {
    result.model = data.model;
  }
  if (data.interrupted === true) {
    result.interrupted = true;
  }
  if (data.stopped === true) {
    result.stopped = true;
  }
  if (data.arena === true) {
    result.arena = true;
  }
  const files = imageFiles(data.files);
  if (files.length > 0) {
    result.files = files;
  }
  if (typeof data.parentId === 'string') {
    result.parentId = data.parentId;
  }
  if (Array.isArray(data.tool_calls)) {
    result.tool_calls = data.tool_calls
      .map(toolCall)
      .filter((c): c is IToolCall => c !== null);
  }
  return result;
}

/** Apply one `chat:completion` payload to the assistant message it targets. */
export function applyCompletion(
  message: IHistoryMessage,
  data: ICompletionData
): IApplyResult {
  let content = message.content;
  let resync = false;
  if (data.content !== undefined) {
    content = data.content;
  } else if (data.delta !== undefined && data.delta.length > 0) {
    if (data.offset === undefined || data.offset === content.length) {
      content = content + data.delta;
    } else if (data.offset < content.length) {
      // A replayed delta after a resynchronisation: overwrite from its offset.
      content = content.slice(0, data.offset) + data.delta;
    } else {
      resync = true;
    }
  }
  const next: IHistoryMessage = { ...message, content };
  if (data.done) {
    next.done = true;
    next.status = undefined;
    next.interrupted = data.interrupted || undefined;
    next.stopped = data.stopped || undefined;
  } else if (data.delta !== undefined || data.content !== undefined) {
    next.done = false;
    if (data.delta !== undefined && data.delta.length > 0) {
      // The first words are in: what the server was doing before them is over.
      next.status = undefined;
    }
    // Streaming again (a continue): no longer interrupted nor stopped.
    next.interrupted = undefined;
    next.stopped = undefined;
  }
  if (data.sources !== undefined) {
    next.sources = data.sources;
  }
  if (data.usage !== undefined) {
    next.usage = data.usage;
  }
  if (data.error !== undefined && data.error !== null) {
    next.error = data.error;
    next.done = true;
  }
  if (data.files !== undefined) {
    next.files = data.files;
  }
  if (data.tool_calls !== undefined) {
    next.tool_calls = data.tool_calls;
  }
  if (data.arena && !message.arena) {
    next.arena = true;
  }
  // An arena placeholder learns its real model from the server (shown once rated).
  if (data.model !== undefined && (!message.model || next.arena)) {
    next.model = data.model;
  }
  const changed =
    next.content !== message.content ||
    next.done !== message.done ||
    next.sources !== message.sources ||
    next.error !== message.error ||
    next.usage !== message.usage ||
    next.interrupted !== message.interrupted ||
    next.stopped !== message.stopped ||
    next.arena !== message.arena ||
    next.files !== message.files ||
    next.tool_calls !== message.tool_calls ||
    next.model !== message.model ||
    next.status !== message.status;
  return { message: changed ? next : message, changed, resync };
}

/** The notice shown under an answer that did not end normally, or null. */
export function answerNotice(message: IHistoryMessage): string | null {
  if (message.role !== 'assistant' || message.done === false) {
    return null;
  }
  if (message.interrupted) {
    return 'Interrupted: the server stopped before this answer was finished.';
  }
  return null;
}

/** Whether an answer can be continued where it ended (stopped or interrupted). */
export function canContinue(message: IHistoryMessage): boolean {
  return (
    message.role === 'assistant' &&
    message.done !== false &&
    !errorText(message.error) &&
    (message.interrupted === true || message.stopped === true)
  );
}

/** Result of reducing a frame into the open chat's tree. */
export interface IReduceResult {
  history: IHistory;
  /** Ids of the messages whose rendering changed. */
  changed: string[];
  /** The branch (structure) changed: the view must rebuild its message list. */
  structural: boolean;
  /** The client lacks part of the tree or text: re-read the chat from the server. */
  resync: boolean;
}

/**
 * Reduce one frame for the chat `chatId` into its history.
 *
 * A completion for a message the client does not know yet (another tab
 * started the turn, or the POST has not answered) creates a placeholder
 * assistant message under the current message and asks for a resync.
 */
export function reduceChatEvent(
  history: IHistory,
  chatId: string,
  frame: IEventFrame
): IReduceResult {
  const none: IReduceResult = {
    history,
    changed: [],
    structural: false,
    resync: false
  };
  if (frame.chat_id !== chatId) {
    return none;
  }
  const messageId = frame.message_id;
  switch (frame.type) {
    case 'chat:completion': {
      if (!messageId) {
        return none;
      }
      const data = completionData(frame.data);
      let next = history;
      let structural = false;
      let resync = false;
      let message = history.messages[messageId];
      if (!message) {
        // An answer this tab did not start (or an arena's second): under the user message
        // its start event names, else the current one.
        const parent =
          data.parentId && data.parentId in history.messages
            ? data.parentId
            : history.currentId;
        message = {
          id: messageId,
          parentId: parent,
          childrenIds: [],
          role: 'assistant',
          content: '',
          done: false,
          timestamp: Math.floor(Date.now() / 1000)
        };
        next = addMessage(history, message);
        structural = true;
        resync = true;
      }
      const applied = applyCompletion(message, data);
      if (applied.changed) {
        next = updateMessage(next, applied.message);
      }
      return {
        history: next,
        changed: applied.changed || structural ? [messageId] : [],
        structural,
        resync: resync || applied.resync
      };
    }
    case 'tool:call': {
      const message = messageId ? history.messages[messageId] : undefined;
      const call = toolCall(frame.data);
      if (!message || !call) {
        return none;
      }
      return {
        history: updateMessage(history, {
          ...message,
          tool_calls: withCall(message.tool_calls ?? [], call)
        }),
        changed: [message.id],
        structural: false,
        resync: false
      };
    }
    case 'status': {
      // Without a message id (or one the client does not know yet, when the status beats
      // the POST's answer): the answer streaming in this chat.
      const message =
        (messageId ? history.messages[messageId] : undefined) ??
        Object.values(history.messages)
          .filter(m => m.role === 'assistant' && m.done === false)
          .pop();
      if (!message || !isObject(frame.data)) {
        return none;
      }
      const description =
        typeof frame.data.description === 'string'
          ? frame.data.description
          : '';
      const status =
        frame.data.done === true ? undefined : description || undefined;
      if (status === message.status) {
        return none;
      }
      return {
        history: updateMessage(history, { ...message, status }),
        changed: [message.id],
        structural: false,
        resync: false
      };
    }
    case 'chat:tasks:cancel': {
      const changed: string[] = [];
      let next = history;
      for (const message of Object.values(history.messages)) {
        if (message.role === 'assistant' && message.done === false) {
          next = updateMessage(next, {
            ...message,
            done: true,
            status: undefined
          });
          changed.push(message.id);
        }
      }
      return { history: next, changed, structural: false, resync: false };
    }
    default:
      return none;
  }
}

/** Title carried by a `chat:title` frame (`data` a string or `{title}`). */
export function titleOf(frame: IEventFrame): string | null {
  if (typeof frame.data === 'string') {
    return frame.data;
  }
  if (isObject(frame.data) && typeof frame.data.title === 'string') {
    return frame.data.title;
  }
  return null;
}

/** Progress of the workspace index from an `index:progress` frame. */
export interface IIndexProgress {
  /** 0..1 */
  fraction: number;
  label: string;
  active: boolean;
}

/**
 * Read an `index:progress` payload, or the `v1/retrieval/status` answer
 * (`files`, `chunks`, `embedded`, `state`).
 */
export function indexProgress(data: unknown): IIndexProgress | null {
  if (!isObject(data)) {
    return null;
  }
  const num = (...keys: string[]): number => {
    for (const key of keys) {
      if (typeof data[key] === 'number') {
        return data[key] as number;
      }
    }
    return 0;
  };
  const filesDone = num('files_done', 'files');
  const filesTotal = num('files_total');
  const chunksDone = num('chunks_embedded', 'embedded');
  const chunksTotal = num('chunks_total', 'chunks');
  const state = typeof data.state === 'string' ? data.state : '';
  if (state === 'error') {
    return { fraction: 0, label: 'Workspace index: error', active: false };
  }
  const fraction =
    chunksTotal > 0
      ? Math.min(1, chunksDone / chunksTotal)
      : filesTotal > 0
        ? Math.min(1, filesDone / filesTotal)
        : 1;
  const busy =
    state === 'scanning' || state === 'indexing' || state === 'starting';
  if (busy && filesTotal === 0) {
    // The first walk of the workspace has not counted anything yet: no "0/0 files".
    return { fraction: 0, label: 'Scanning workspace…', active: true };
  }
  const finished =
    data.done === true ||
    (!busy && filesDone >= filesTotal && chunksDone >= chunksTotal);
  const parts = [`${filesDone}/${filesTotal} files`];
  if (chunksTotal > 0) {
    parts.push(`${chunksDone}/${chunksTotal} chunks`);
  }
  return {
    fraction: finished ? 1 : fraction,
    label: `Indexing workspace: ${parts.join(', ')}`,
    active: !finished
  };
}

const FILE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The image items of a message's `files` (each with a file id of ours; others dropped). */
export function imageFiles(value: unknown): IMessageFile[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const found: IMessageFile[] = [];
  for (const item of value) {
    if (!isObject(item) || item.type !== 'image') {
      continue;
    }
    const url = typeof item.url === 'string' ? item.url : '';
    const fromUrl = /(?:^|\/)api\/v1\/files\/([^/?#]+)\/content$/.exec(url);
    const id = typeof item.id === 'string' ? item.id : (fromUrl?.[1] ?? '');
    if (!FILE_ID.test(id)) {
      continue;
    }
    const name =
      typeof item.name === 'string' && item.name ? item.name : 'image';
    found.push({ type: 'image', id, name, url: `/api/v1/files/${id}/content` });
  }
  return found;
}

/** A `tool:call` record as the UI reads it; `null` when it is not one. */
export function toolCall(data: unknown): IToolCall | null {
  if (
    !isObject(data) ||
    typeof data.id !== 'string' ||
    typeof data.name !== 'string'
  ) {
    return null;
  }
  return {
    id: data.id,
    name: data.name,
    arguments: typeof data.arguments === 'string' ? data.arguments : '',
    round: typeof data.round === 'number' ? data.round : 0,
    offset: typeof data.offset === 'number' ? data.offset : 0,
    status: typeof data.status === 'string' ? data.status : 'running',
    result: typeof data.result === 'string' ? data.result : null,
    approval: typeof data.approval === 'string' ? data.approval : null,
    duration_ms: typeof data.duration_ms === 'number' ? data.duration_ms : null
  };
}

/** `calls` with `call` replacing the record of the same id (or added at the end). */
export function withCall(calls: IToolCall[], call: IToolCall): IToolCall[] {
  const at = calls.findIndex(c => c.id === call.id);
  if (at < 0) {
    return [...calls, call];
  }
  const next = [...calls];
  next[at] = call;
  return next;
}
