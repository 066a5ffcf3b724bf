/**
 * Ratings of answers and the arena: what a rating sends, and how arena answers are named.
 */
import type {
  IAnnotation,
  IFeedbackForm,
  IHistory,
  IHistoryMessage
} from './api';

/** The virtual model whose turns two models drawn at random answer. */
export const ARENA_MODEL_ID = 'arena-model';

/** What the user gave: thumbs, then optionally a 1-10 score and a comment. */
export interface IRating {
  rating: 1 | -1;
  score?: number | null;
  comment?: string;
  reason?: string;
}

/** The most characters of a comment the server takes. */
export const MAX_COMMENT = 4000;

/**
 * The arena answers shown together with `message`: its parent's children marked `arena`,
 * in the server's order; empty when `message` is not one of at least two.
 */
export function arenaGroup(
  history: IHistory,
  message: IHistoryMessage
): IHistoryMessage[] {
  if (!message.arena || !message.parentId) {
    return [];
  }
  const parent = history.messages[message.parentId];
  if (!parent) {
    return [];
  }
  const group = parent.childrenIds
    .map(id => history.messages[id])
    .filter((m): m is IHistoryMessage => !!m && m.arena === true);
  return group.length >= 2 ? group : [];
}

/** "Model A", "Model B"... */
export function arenaLabel(index: number): string {
  return `Model ${String.fromCharCode(65 + (index % 26))}`;
}

/** The arena's names show once one of its answers is rated. */
export function arenaRevealed(group: IHistoryMessage[]): boolean {
  return group.some(m => !!m.annotation);
}

/** The header of an arena answer: its letter, and its model once revealed. */
export function arenaTitle(
  index: number,
  message: IHistoryMessage,
  revealed: boolean
): string {
  const label = arenaLabel(index);
  return revealed && message.model ? `${label}: ${message.model}` : label;
}

/** The models of the other answers to the same user message (none twice, not its own). */
export function siblingModels(
  history: IHistory,
  message: IHistoryMessage
): string[] {
  const parent = message.parentId ? history.messages[message.parentId] : null;
  if (!parent) {
    return [];
  }
  const models = new Set<string>();
  for (const id of parent.childrenIds) {
    const other = history.messages[id];
    if (
      id !== message.id &&
      other?.role === 'assistant' &&
      other.model &&
      other.model !== message.model &&
      other.model !== ARENA_MODEL_ID
    ) {
      models.add(other.model);
    }
  }
  return [...models];
}

/** The body that rates `message` (Open WebUI's feedback shape). */
export function feedbackForm(
  chatId: string,
  history: IHistory,
  message: IHistoryMessage,
  rating: IRating
): IFeedbackForm {
  const siblings = siblingModels(history, message);
  const data: IFeedbackForm['data'] = {
    rating: rating.rating,
    model_id: message.model ?? '',
    sibling_model_ids: siblings.length ? siblings : null,
    reason: rating.reason ?? '',
    comment: (rating.comment ?? '').slice(0, MAX_COMMENT)
  };
  if (rating.score) {
    data.details = { rating: rating.score };
  }
  return {
    type: 'rating',
    data,
    meta: {
      chat_id: chatId,
      message_id: message.id,
      arena: message.arena === true
    }
  };
}

/** The annotation a saved rating leaves on its message (what the server stores too). */
export function annotationOf(rating: IRating): IAnnotation {
  return {
    rating: rating.rating,
    details: rating.score ? { rating: rating.score } : null,
    reason: rating.reason ?? '',
    comment: (rating.comment ?? '').slice(0, MAX_COMMENT),
    tags: null
  };
}
