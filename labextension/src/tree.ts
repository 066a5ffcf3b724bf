/**
 * Pure navigation over an Open WebUI message tree (`chat.history`).
 *
 * Every function returns new objects and never mutates its inputs.
 */
import type { IHistory, IHistoryMessage } from './api';
import { normalizeSources } from './format';

/** An empty tree. */
export function emptyHistory(): IHistory {
  return { messages: {}, currentId: null };
}

/** The messages from the root down to `leafId` (default: the current one). */
export function branch(
  history: IHistory,
  leafId: string | null = history.currentId
): IHistoryMessage[] {
  const path: IHistoryMessage[] = [];
  const seen = new Set<string>();
  let id = leafId;
  while (id !== null && id !== undefined && !seen.has(id)) {
    const message: IHistoryMessage | undefined = history.messages[id];
    if (!message) {
      break;
    }
    seen.add(id);
    path.push(message);
    id = message.parentId;
  }
  return path.reverse();
}

/** The ids of the message's siblings, itself included, in creation order. */
export function siblings(history: IHistory, id: string): string[] {
  const message = history.messages[id];
  if (!message) {
    return [];
  }
  if (message.parentId !== null && message.parentId !== undefined) {
    const parent = history.messages[message.parentId];
    if (parent) {
      return parent.childrenIds.filter(child => child in history.messages);
    }
  }
  return Object.values(history.messages)
    .filter(m => m.parentId === null || m.parentId === undefined)
    .sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0))
    .map(m => m.id);
}

/** Position of a message among its siblings: `{index, count}` (index 0-based). */
export function siblingPosition(
  history: IHistory,
  id: string
): { index: number; count: number } {
  const ids = siblings(history, id);
  return { index: Math.max(0, ids.indexOf(id)), count: ids.length };
}

/** Follow the last child down from `id` to a leaf. */
export function latestLeaf(history: IHistory, id: string): string {
  const seen = new Set<string>();
  let current = id;
  for (;;) {
    seen.add(current);
    const children = (history.messages[current]?.childrenIds ?? []).filter(
      child => child in history.messages && !seen.has(child)
    );
    if (children.length === 0) {
      return current;
    }
    current = children[children.length - 1];
  }
}

/**
 * Move to the sibling `step` away from `id` (e.g. -1 for "<", +1 for ">")
 * and return the new `currentId`: the latest leaf under that sibling.
 * Returns the unchanged `currentId` when there is no such sibling.
 */
export function switchSibling(
  history: IHistory,
  id: string,
  step: number
): string | null {
  const ids = siblings(history, id);
  const target = ids.indexOf(id) + step;
  if (ids.indexOf(id) < 0 || target < 0 || target >= ids.length) {
    return history.currentId;
  }
  return latestLeaf(history, ids[target]);
}

/** Add `message` as a child of its `parentId` and make it current. */
export function addMessage(
  history: IHistory,
  message: IHistoryMessage
): IHistory {
  const messages = { ...history.messages, [message.id]: message };
  const parentId = message.parentId;
  if (parentId !== null && parentId !== undefined && messages[parentId]) {
    const parent = messages[parentId];
    if (!parent.childrenIds.includes(message.id)) {
      messages[parentId] = {
        ...parent,
        childrenIds: [...parent.childrenIds, message.id]
      };
    }
  }
  return { messages, currentId: message.id };
}

/** Replace one message (same id) without touching the rest. */
export function updateMessage(
  history: IHistory,
  message: IHistoryMessage
): IHistory {
  return {
    ...history,
    messages: { ...history.messages, [message.id]: message }
  };
}

/** Rename a message id (a client-side placeholder getting its server id). */
export function renameMessage(
  history: IHistory,
  oldId: string,
  newId: string
): IHistory {
  if (oldId === newId || !(oldId in history.messages)) {
    return history;
  }
  const messages: Record<string, IHistoryMessage> = {};
  for (const message of Object.values(history.messages)) {
    const renamed: IHistoryMessage = {
      ...message,
      id: message.id === oldId ? newId : message.id,
      parentId: message.parentId === oldId ? newId : message.parentId,
      childrenIds: message.childrenIds.map(c => (c === oldId ? newId : c))
    };
    messages[renamed.id] = renamed;
  }
  return {
    messages,
    currentId: history.currentId === oldId ? newId : history.currentId
  };
}

/** Remove a message and its whole subtree. */
export function removeSubtree(history: IHistory, id: string): IHistory {
  const target = history.messages[id];
  if (!target) {
    return history;
  }
  const doomed = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (doomed.has(next)) {
      continue;
    }
    doomed.add(next);
    stack.push(...(history.messages[next]?.childrenIds ?? []));
  }
  const messages: Record<string, IHistoryMessage> = {};
  for (const message of Object.values(history.messages)) {
    if (doomed.has(message.id)) {
      continue;
    }
    messages[message.id] =
      message.id === target.parentId
        ? { ...message, childrenIds: message.childrenIds.filter(c => c !== id) }
        : message;
  }
  let currentId = history.currentId;
  if (currentId !== null && doomed.has(currentId)) {
    currentId = target.parentId ?? null;
  }
  return { messages, currentId };
}

/**
 * Make sure a history read from the server is well formed: every message has
 * `childrenIds`, and `currentId` names a message (else the newest leaf).
 */
export function normalizeHistory(
  history: Partial<IHistory> | undefined
): IHistory {
  const messages: Record<string, IHistoryMessage> = {};
  for (const [id, message] of Object.entries(history?.messages ?? {})) {
    messages[id] = {
      ...message,
      id: message.id ?? id,
      parentId: message.parentId ?? null,
      childrenIds: Array.isArray(message.childrenIds)
        ? message.childrenIds
        : [],
      content: typeof message.content === 'string' ? message.content : ''
    };
    if (message.sources !== undefined && message.sources !== null) {
      messages[id].sources = normalizeSources(message.sources);
    }
  }
  let currentId = history?.currentId ?? null;
  if (currentId === null || !(currentId in messages)) {
    const newest = Object.values(messages).sort(
      (a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0)
    )[0];
    currentId = newest
      ? latestLeaf({ messages, currentId: null }, newest.id)
      : null;
  }
  return { messages, currentId };
}

/**
 * The server's tree, plus what only this tab knows: text streamed here that
 * the server has not saved yet, and answers still streaming (or failed)
 * that the server has not stored. The local current branch wins when the
 * server has it.
 */
export function mergeHistories(local: IHistory, server: IHistory): IHistory {
  let merged: IHistory = { ...server, messages: { ...server.messages } };
  for (const mine of Object.values(local.messages)) {
    const saved = merged.messages[mine.id];
    if (
      saved &&
      saved.done === false &&
      mine.content.length > saved.content.length &&
      mine.content.startsWith(saved.content)
    ) {
      merged.messages[mine.id] = { ...saved, content: mine.content };
    }
  }
  const keep: IHistoryMessage[] = [];
  const path = branch(local);
  for (let i = path.length - 1; i >= 0; i--) {
    const mine = path[i];
    const live =
      mine.role === 'assistant' && (mine.done === false || !!mine.error);
    if (live && !(mine.id in server.messages)) {
      for (let j = i; j >= 0 && !(path[j].id in server.messages); j--) {
        keep.unshift(path[j]);
      }
      break;
    }
  }
  for (const mine of keep) {
    const parentId =
      mine.parentId !== null && mine.parentId in merged.messages
        ? mine.parentId
        : mine.parentId === null
          ? null
          : merged.currentId;
    merged = addMessage(merged, { ...mine, parentId, childrenIds: [] });
  }
  const currentId =
    keep.length > 0
      ? keep[keep.length - 1].id
      : local.currentId !== null && local.currentId in merged.messages
        ? local.currentId
        : merged.currentId;
  return { ...merged, currentId };
}
