import { describe, expect, it } from 'vitest';

import type { IHistory, IHistoryMessage } from '../src/api';
import {
  annotationOf,
  arenaGroup,
  arenaLabel,
  arenaRevealed,
  arenaTitle,
  feedbackForm,
  MAX_COMMENT,
  siblingModels
} from '../src/feedback';

function message(
  fields: Partial<IHistoryMessage> & Pick<IHistoryMessage, 'id' | 'role'>
): IHistoryMessage {
  return {
    parentId: null,
    childrenIds: [],
    content: '',
    done: true,
    ...fields
  };
}

/** A user message `u` answered by `a` and `b` (arena) and `c` (a regeneration by m1). */
function arenaHistory(): IHistory {
  return {
    messages: {
      u: message({ id: 'u', role: 'user', childrenIds: ['a', 'b', 'c'] }),
      a: message({
        id: 'a',
        role: 'assistant',
        parentId: 'u',
        model: 'm1',
        arena: true
      }),
      b: message({
        id: 'b',
        role: 'assistant',
        parentId: 'u',
        model: 'm2',
        arena: true
      }),
      c: message({ id: 'c', role: 'assistant', parentId: 'u', model: 'm1' })
    },
    currentId: 'a'
  };
}

describe('arena', () => {
  it('groups the arena answers of one user message, in order', () => {
    const history = arenaHistory();
    expect(arenaGroup(history, history.messages.b).map(m => m.id)).toEqual([
      'a',
      'b'
    ]);
    expect(arenaGroup(history, history.messages.c)).toEqual([]);
    const lone = { ...history, messages: { ...history.messages } };
    lone.messages.u = { ...lone.messages.u, childrenIds: ['a'] };
    expect(arenaGroup(lone, lone.messages.a)).toEqual([]);
  });

  it('names the answers Model A and B until one is rated', () => {
    const history = arenaHistory();
    const group = arenaGroup(history, history.messages.a);
    expect([arenaLabel(0), arenaLabel(1)]).toEqual(['Model A', 'Model B']);
    expect(arenaRevealed(group)).toBe(false);
    expect(arenaTitle(1, group[1], false)).toBe('Model B');
    group[0] = { ...group[0], annotation: { rating: 1 } };
    expect(arenaRevealed(group)).toBe(true);
    expect(arenaTitle(1, group[1], true)).toBe('Model B: m2');
  });
});

describe('feedbackForm', () => {
  it("compares an answer with its siblings' other models", () => {
    const history = arenaHistory();
    expect(siblingModels(history, history.messages.a)).toEqual(['m2']);
    expect(siblingModels(history, history.messages.c)).toEqual(['m2']);
    const form = feedbackForm('chat', history, history.messages.b, {
      rating: -1,
      score: 4,
      comment: 'x'.repeat(MAX_COMMENT + 10)
    });
    expect(form.type).toBe('rating');
    expect(form.meta).toEqual({
      chat_id: 'chat',
      message_id: 'b',
      arena: true
    });
    expect(form.data.model_id).toBe('m2');
    expect(form.data.sibling_model_ids).toEqual(['m1']);
    expect(form.data.details).toEqual({ rating: 4 });
    expect(form.data.comment).toHaveLength(MAX_COMMENT);
  });

  it('sends no siblings for a lone answer, and no details without a score', () => {
    const history: IHistory = {
      messages: {
        u: message({ id: 'u', role: 'user', childrenIds: ['a'] }),
        a: message({ id: 'a', role: 'assistant', parentId: 'u', model: 'm1' })
      },
      currentId: 'a'
    };
    const form = feedbackForm('chat', history, history.messages.a, {
      rating: 1
    });
    expect(form.data.sibling_model_ids).toBeNull();
    expect(form.data.details).toBeUndefined();
    expect(annotationOf({ rating: 1, score: 7, comment: 'ok' })).toEqual({
      rating: 1,
      details: { rating: 7 },
      reason: '',
      comment: 'ok',
      tags: null
    });
  });
});
