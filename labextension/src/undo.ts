import type { IDocumentManager } from '@jupyterlab/docmanager';

import type { IHistoryMessage } from './api';
import { requestAPI } from './handler';

/** The tools whose done calls change a notebook: a turn with one can be undone. */
export const NOTEBOOK_TOOLS = new Set(['edit_notebook', 'run_cells']);

/** The answer of `POST v1/tools/undo`. */
export interface IUndoResult {
  restored: string[];
}

/**
 * Whether the answer's stored `tool_calls` hold a done `edit_notebook` or `run_cells` call
 * (read defensively: the field is the tool loop's, and anything else means no).
 */
export function undoableTurn(message: IHistoryMessage): boolean {
  if (message.role !== 'assistant') {
    return false;
  }
  const calls = (message as { tool_calls?: unknown }).tool_calls;
  if (!Array.isArray(calls)) {
    return false;
  }
  return calls.some(call => {
    if (call === null || typeof call !== 'object') {
      return false;
    }
    const { name, status } = call as { name?: unknown; status?: unknown };
    return (
      typeof name === 'string' && NOTEBOOK_TOOLS.has(name) && status === 'done'
    );
  });
}

/** Restore the notebooks the turn `messageId` of chat `chatId` changed. */
export function undoTurn(
  chatId: string,
  messageId: string
): Promise<IUndoResult> {
  return requestAPI<IUndoResult>('v1/tools/undo', {
    method: 'POST',
    body: JSON.stringify({ chat_id: chatId, message_id: messageId })
  });
}

/** What the user reads after an undo. */
export function undoneText(result: IUndoResult): string {
  const paths = result.restored ?? [];
  return paths.length > 0
    ? `Undone: restored ${paths.join(', ')}.`
    : 'Undone: nothing had changed.';
}

/**
 * The path of a `notebook:changed` frame's data, or null when it is not one.
 */
export function changedPath(data: unknown): string | null {
  if (data === null || typeof data !== 'object') {
    return null;
  }
  const path = (data as { path?: unknown }).path;
  return typeof path === 'string' && path.length > 0 ? path : null;
}

/**
 * A file the server changed: an open document of it that has no unsaved changes is
 * read again from disk; one with unsaved changes is left alone (the user's edits win,
 * and JupyterLab warns when they save over the newer file).
 */
export async function revertIfClean(
  docManager: IDocumentManager,
  path: string
): Promise<boolean> {
  const widget = docManager.findWidget(path);
  if (!widget) {
    return false;
  }
  const context = docManager.contextForWidget(widget);
  if (!context || !context.isReady || context.model.dirty) {
    return false;
  }
  await context.revert();
  return true;
}
