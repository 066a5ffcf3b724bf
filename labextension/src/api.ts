/**
 * Typed access to the oui-jupyter REST API (shapes follow Open WebUI).
 */
import { requestAPI } from './handler';

/** A chat as listed (no message bodies). */
export interface IChatSummary {
  id: string;
  title: string;
  updated_at: number;
  created_at: number;
  pinned?: boolean | null;
  archived?: boolean;
  folder_id?: string | null;
}

/** A retrieval source cited by an answer. */
export interface ISource {
  /** Path relative to the server root, or a file / collection name. */
  source: string;
  /** 0-based cell index in a notebook. */
  cell?: number | null;
  cell_id?: string | null;
  /** 1-based lines. */
  start_line?: number | null;
  end_line?: number | null;
  page?: number | null;
  snippet?: string;
  score?: number;
  name?: string;
  /** False for sources that are not workspace files (uploads, collections). */
  openable?: boolean;
}

/** A file attached to a message (Open WebUI `files` entries; `image`: shown to a vision model). */
export interface IMessageFile {
  type: 'file' | 'collection' | 'image';
  id: string;
  name: string;
  /** Images: the file's content URL (`/api/v1/files/<id>/content`). */
  url?: string;
}

/** One OpenAI content part of a message. */
export type IContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } };

/** One tool call the server ran (or asked about) for an answer (`tool_calls` records). */
export interface IToolCall {
  id: string;
  name: string;
  /** The JSON text of the arguments, as the model sent it. */
  arguments: string;
  round?: number;
  /** Where in the answer's text the model made the call. */
  offset?: number;
  status:
    'running' | 'awaiting_approval' | 'done' | 'error' | 'denied' | string;
  result?: string | null;
  approval?: string | null;
  duration_ms?: number | null;
}

/** A tool of `GET v1/tools/`. */
export interface ITool {
  id: string;
  name: string;
  meta?: { description?: string };
  requires_approval?: boolean;
}

/** A decision on a tool call that waits for approval. */
export type ToolDecision = 'approve' | 'deny' | 'approve_chat';

/** One node of the message tree. */
export interface IHistoryMessage {
  id: string;
  parentId: string | null;
  childrenIds: string[];
  role: 'user' | 'assistant' | 'system';
  content: string;
  model?: string;
  timestamp?: number;
  sources?: ISource[];
  files?: IMessageFile[];
  done?: boolean;
  error?: string | { content?: string; message?: string } | null;
  usage?: Record<string, unknown>;
  /** Stopped by the user before its end. */
  stopped?: boolean;
  /** The server stopped (crashed, was killed) while writing it: the text saved until then. */
  interrupted?: boolean;
  /** Status line (e.g. "Searching the workspace"). Client-side only. */
  status?: string;
  /** One of an arena turn's answers: its model stays unnamed until rated. */
  arena?: boolean;
  /** The user's rating of this answer (Open WebUI's `annotation`). */
  annotation?: IAnnotation | null;
  /** The id of that rating (`v1/evaluations/feedback/{id}`). */
  feedbackId?: string | null;
  /** The server's tool calls of this answer, in order. */
  tool_calls?: IToolCall[];
}

/** A rating as it is kept on its message. */
export interface IAnnotation {
  /** Thumbs up (1) or down (-1). */
  rating: 1 | -1;
  details?: { rating?: number | null } | null;
  reason?: string | null;
  comment?: string | null;
  tags?: string[] | null;
}

/** Body of `POST oui/api/v1/evaluations/feedback` (Open WebUI's shape). */
export interface IFeedbackForm {
  type: 'rating';
  data: {
    rating: 1 | -1;
    model_id: string;
    sibling_model_ids?: string[] | null;
    reason?: string;
    comment?: string;
    details?: { rating?: number | null } | null;
  };
  meta: {
    chat_id: string;
    message_id: string;
    arena?: boolean;
  };
}

/** A stored rating, as the server answers it. */
export interface IFeedback {
  id: string;
  user_id: string;
  version: number;
  type: string;
  data: IFeedbackForm['data'];
  meta: IFeedbackForm['meta'];
  created_at: number;
  updated_at: number;
}

/** One row of `v1/evaluations/leaderboard`. */
export interface ILeaderboardEntry {
  rank: number;
  id: string;
  rating: number;
  won: number;
  lost: number;
  count: number;
  win_rate: number | null;
}

/** The answer of `v1/evaluations/leaderboard`. */
export interface ILeaderboard {
  models: ILeaderboardEntry[];
  feedbacks: number;
  k_factor: number;
  initial_rating: number;
}

/** The message tree of a chat. */
export interface IHistory {
  messages: Record<string, IHistoryMessage>;
  currentId: string | null;
}

/** The `chat` JSON blob of a chat. */
export interface IChatBody {
  title?: string;
  models?: string[];
  history?: IHistory;
  messages?: IHistoryMessage[];
  [key: string]: unknown;
}

/** Open WebUI's ChatResponse. */
export interface IChatResponse {
  id: string;
  user_id?: string;
  title: string;
  chat: IChatBody;
  created_at: number;
  updated_at: number;
  pinned?: boolean | null;
  archived?: boolean;
  folder_id?: string | null;
  /** Set while the chat is shared by link. */
  share_id?: string | null;
  /** The owner's display name, where the server tells it. */
  user_name?: string;
}

/** A model as listed by `oui/api/models`. */
export interface IModel {
  id: string;
  name?: string;
  owned_by?: string;
  connection?: string;
  available?: boolean;
  unavailable_reason?: string | null;
  /** The arena: two models drawn at random answer each prompt. */
  arena?: boolean;
  /** Its connection has not answered yet: listed from what it listed last. */
  pending?: boolean;
}

/** A knowledge collection. */
export interface IKnowledge {
  id: string;
  name: string;
  description?: string;
}

/** An uploaded file (Open WebUI FileModel, the fields we use). */
export interface IFileModel {
  id: string;
  filename?: string;
  meta?: { name?: string; size?: number; content_type?: string };
}

/** One message of an OpenAI chat request. */
export interface ICompletionMessage {
  role: 'user' | 'assistant' | 'system';
  content: string | IContentPart[];
}

/** Body of `POST oui/api/chat/completions` as the sidebar sends it. */
export interface ICompletionRequest {
  model: string;
  messages: ICompletionMessage[];
  stream: true;
  chat_id: string;
  /** The message the new messages hang under (see .handoff/frontend.md). */
  parent_id: string | null;
  session_id: string;
  /** Only add an assistant answer under `parent_id` (a user message). */
  regenerate?: boolean;
  /** Extend the assistant message `parent_id` (stored under its id). */
  continue?: boolean;
  files?: IMessageFile[];
  features?: { workspace: boolean };
  /** The server's tools the model may call (`GET v1/tools/` ids). */
  tool_ids?: string[];
  /** The notebook the chat is about (relative to the server root), for the tools. */
  notebook_path?: string;
}

/** Immediate answer of a completion started with a `session_id`. */
export interface ICompletionStarted {
  task_id?: string;
  chat_id: string;
  message_id: string;
  user_message_id?: string;
  /** Every answer's id: two for an arena turn, the first being `message_id`. */
  message_ids?: string[];
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json' }
});

/** Normalise list answers that are either a bare array or `{items|data: [...]}`. */
function asList<T>(data: unknown): T[] {
  if (Array.isArray(data)) {
    return data as T[];
  }
  if (data !== null && typeof data === 'object') {
    const obj = data as { items?: unknown; data?: unknown };
    if (Array.isArray(obj.items)) {
      return obj.items as T[];
    }
    if (Array.isArray(obj.data)) {
      return obj.data as T[];
    }
  }
  return [];
}

export async function listChats(page: number): Promise<IChatSummary[]> {
  return asList<IChatSummary>(
    await requestAPI<unknown>(`v1/chats/?page=${page}`)
  );
}

export async function searchChats(
  text: string,
  page = 1
): Promise<IChatSummary[]> {
  const query = `text=${encodeURIComponent(text)}&page=${page}`;
  return asList<IChatSummary>(
    await requestAPI<unknown>(`v1/chats/search?${query}`)
  );
}

export function getChat(id: string): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(`v1/chats/${encodeURIComponent(id)}`);
}

export function newChat(chat: IChatBody): Promise<IChatResponse> {
  return requestAPI<IChatResponse>('v1/chats/new', json({ chat }));
}

/**
 * Merge-update a chat. The answer leaves out the message tree (`Prefer: return=minimal`):
 * its size grows with the chat, and nobody here reads it.
 */
export function updateChat(
  id: string,
  chat: IChatBody
): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(`v1/chats/${encodeURIComponent(id)}`, {
    ...json({ chat }),
    headers: { 'Content-Type': 'application/json', Prefer: 'return=minimal' }
  });
}

export function pinChat(id: string): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(`v1/chats/${encodeURIComponent(id)}/pin`, {
    method: 'POST'
  });
}

export async function deleteChat(id: string): Promise<void> {
  await requestAPI<unknown>(`v1/chats/${encodeURIComponent(id)}`, {
    method: 'DELETE'
  });
}

export async function listModels(): Promise<IModel[]> {
  return asList<IModel>(await requestAPI<unknown>('models'));
}

export async function listKnowledge(): Promise<IKnowledge[]> {
  return asList<IKnowledge>(await requestAPI<unknown>('v1/knowledge/'));
}

/** Upload a file; `process: false` keeps it out of the index (images). */
export function uploadFile(
  file: Blob,
  name: string,
  process = true
): Promise<IFileModel> {
  const form = new FormData();
  form.append('file', file, name);
  return requestAPI<IFileModel>(
    process ? 'v1/files/' : 'v1/files/?process=false',
    {
      method: 'POST',
      body: form
    }
  );
}

export function startCompletion(
  request: ICompletionRequest
): Promise<ICompletionStarted> {
  return requestAPI<ICompletionStarted>('chat/completions', json(request));
}

export async function listTools(): Promise<ITool[]> {
  return asList<ITool>(await requestAPI<unknown>('v1/tools/'));
}

export async function approveToolCall(
  chatId: string,
  messageId: string,
  callId: string,
  decision: ToolDecision
): Promise<void> {
  await requestAPI<unknown>(
    'v1/tools/approve',
    json({
      chat_id: chatId,
      message_id: messageId,
      call_id: callId,
      decision
    })
  );
}

export function getRetrievalStatus(): Promise<Record<string, unknown>> {
  return requestAPI<Record<string, unknown>>('v1/retrieval/status');
}

export async function stopChat(chatId: string): Promise<void> {
  await requestAPI<unknown>(`tasks/chat/${encodeURIComponent(chatId)}/stop`, {
    method: 'POST'
  });
}

/** Share a snapshot of the chat (again: a new snapshot under the same `share_id`). */
export function shareChat(id: string): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(`v1/chats/${encodeURIComponent(id)}/share`, {
    method: 'POST'
  });
}

/** End the chat's share link. */
export async function unshareChat(id: string): Promise<void> {
  await requestAPI<unknown>(`v1/chats/${encodeURIComponent(id)}/share`, {
    method: 'DELETE'
  });
}

/** The snapshot a share link shows (any user of the team). */
export function getSharedChat(shareId: string): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(
    `v1/chats/share/${encodeURIComponent(shareId)}`
  );
}

/** Copy a shared snapshot into a new chat of one's own. */
export function cloneSharedChat(shareId: string): Promise<IChatResponse> {
  return requestAPI<IChatResponse>(
    `v1/chats/share/${encodeURIComponent(shareId)}/clone`,
    { method: 'POST' }
  );
}

/** Rate an answer; with `feedbackId`, update that rating. */
export function submitFeedback(
  form: IFeedbackForm,
  feedbackId?: string | null
): Promise<IFeedback> {
  const path = feedbackId
    ? `v1/evaluations/feedback/${encodeURIComponent(feedbackId)}`
    : 'v1/evaluations/feedback';
  return requestAPI<IFeedback>(path, json(form));
}

/** Per-model Elo and win rate from every rating. */
export function getLeaderboard(): Promise<ILeaderboard> {
  return requestAPI<ILeaderboard>('v1/evaluations/leaderboard');
}

/** A prompt of the library (`v1/prompts`, Open WebUI's shape). */
export interface IPrompt {
  command: string;
  user_id: string;
  title: string;
  content: string;
  timestamp: number;
  access_control: Record<string, unknown> | null;
}

/** The prompts the user may use, newest first. */
export async function listPrompts(): Promise<IPrompt[]> {
  return asList<IPrompt>(await requestAPI<unknown>('v1/prompts/'));
}

/** A remembered fact (`v1/memories`, Open WebUI's shape). */
export interface IMemory {
  id: string;
  user_id: string;
  content: string;
  created_at: number;
  updated_at: number;
}

export async function listMemories(): Promise<IMemory[]> {
  return asList<IMemory>(await requestAPI<unknown>('v1/memories/'));
}

export function addMemory(content: string): Promise<IMemory> {
  return requestAPI<IMemory>('v1/memories/add', json({ content }));
}

export async function deleteMemory(id: string): Promise<void> {
  await requestAPI<unknown>(`v1/memories/${encodeURIComponent(id)}`, {
    method: 'DELETE'
  });
}

export async function deleteAllMemories(): Promise<void> {
  await requestAPI<unknown>('v1/memories/delete/user', { method: 'DELETE' });
}

/** The user's own settings (Open WebUI's: `ui.memory` turns memories on). */
export function getUserSettings(): Promise<Record<string, unknown>> {
  return requestAPI<Record<string, unknown>>('v1/users/user/settings');
}

export function updateUserSettings(
  settings: Record<string, unknown>
): Promise<Record<string, unknown>> {
  return requestAPI<Record<string, unknown>>(
    'v1/users/user/settings/update',
    json(settings)
  );
}

/**
 * The calls the sidebar controller makes. This module's functions are the real client;
 * a test passes a fake.
 */
export interface IChatClient {
  listModels(): Promise<IModel[]>;
  getRetrievalStatus(): Promise<Record<string, unknown>>;
  getChat(id: string): Promise<IChatResponse>;
  newChat(chat: IChatBody): Promise<IChatResponse>;
  updateChat(id: string, chat: IChatBody): Promise<IChatResponse>;
  startCompletion(request: ICompletionRequest): Promise<ICompletionStarted>;
  stopChat(chatId: string): Promise<void>;
  shareChat(id: string): Promise<IChatResponse>;
  unshareChat(id: string): Promise<void>;
  getSharedChat(shareId: string): Promise<IChatResponse>;
  cloneSharedChat(shareId: string): Promise<IChatResponse>;
  submitFeedback(
    form: IFeedbackForm,
    feedbackId?: string | null
  ): Promise<IFeedback>;
  /** Decide a waiting tool call (`approveToolCall` of this module when absent). */
  approveToolCall?(
    chatId: string,
    messageId: string,
    callId: string,
    decision: ToolDecision
  ): Promise<void>;
}
