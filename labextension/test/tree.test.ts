import { describe, expect, it } from 'vitest';

import type { IHistory, IHistoryMessage } from '../src/api';
import {
  addMessage,
  branch,
  emptyHistory,
  latestLeaf,
  mergeHistories,
  normalizeHistory,
  removeSubtree,
  renameMessage,
  siblingPosition,
  siblings,
  switchSibling
} from '../src/tree';

function msg(
  id: string,
  parentId: string | null,
  role: 'user' | 'assistant',
  extra: Partial<IHistoryMessage> = {}
): IHistoryMessage {
  return {
    id,
    parentId,
    childrenIds: [],
    role,
    content: id,
    timestamp: 1,
    ...extra
  };
}

/** u1 -> a1, a1' (regenerated) ; a1 -> u2 -> a2 ; u1' (edited) -> a3 */
function tree(): IHistory {
  let h = emptyHistory();
  h = addMessage(h, msg('u1', null, 'user', { timestamp: 1 }));
  h = addMessage(h, msg('a1', 'u1', 'assistant'));
  h = addMessage(h, msg('u2', 'a1', 'user'));
  h = addMessage(h, msg('a2', 'u2', 'assistant'));
  h = addMessage(h, msg('a1b', 'u1', 'assistant'));
  h = addMessage(h, msg('u1b', null, 'user', { timestamp: 2 }));
  h = addMessage(h, msg('a3', 'u1b', 'assistant'));
  return h;
}

describe('branch', () => {
  it('walks from the current message to the root', () => {
    const h = tree();
    expect(branch(h).map(m => m.id)).toEqual(['u1b', 'a3']);
    expect(branch(h, 'a2').map(m => m.id)).toEqual(['u1', 'a1', 'u2', 'a2']);
  });

  it('survives a cycle and a missing parent', () => {
    const h: IHistory = {
      messages: {
        x: msg('x', 'y', 'user'),
        y: msg('y', 'x', 'assistant'),
        z: msg('z', 'gone', 'assistant')
      },
      currentId: 'x'
    };
    expect(branch(h).map(m => m.id)).toEqual(['y', 'x']);
    expect(branch(h, 'z').map(m => m.id)).toEqual(['z']);
    expect(branch(emptyHistory())).toEqual([]);
  });
});

describe('siblings and switching', () => {
  it('lists children of the parent, and roots by time', () => {
    const h = tree();
    expect(siblings(h, 'a1')).toEqual(['a1', 'a1b']);
    expect(siblings(h, 'u1b')).toEqual(['u1', 'u1b']);
    expect(siblingPosition(h, 'a1b')).toEqual({ index: 1, count: 2 });
    expect(siblingPosition(h, 'a2')).toEqual({ index: 0, count: 1 });
  });

  it('switches to the latest leaf under the sibling', () => {
    const h = { ...tree(), currentId: 'a1b' };
    expect(switchSibling(h, 'a1b', -1)).toBe('a2');
    expect(switchSibling(h, 'a1', 1)).toBe('a1b');
    expect(switchSibling(h, 'u1', 1)).toBe('a3');
    // Out of range: unchanged.
    expect(switchSibling(h, 'a1b', 1)).toBe('a1b');
    expect(switchSibling(h, 'nope', 1)).toBe('a1b');
    expect(latestLeaf(h, 'u1')).toBe('a1b');
  });
});

describe('edits', () => {
  it('adds without mutating the input', () => {
    const h = tree();
    const before = JSON.stringify(h);
    const next = addMessage(h, msg('a4', 'u1b', 'assistant'));
    expect(JSON.stringify(h)).toBe(before);
    expect(next.messages.u1b.childrenIds).toEqual(['a3', 'a4']);
    expect(next.currentId).toBe('a4');
  });

  it('renames a placeholder everywhere', () => {
    const h = renameMessage(tree(), 'u1b', 'U');
    expect(h.messages.U.childrenIds).toEqual(['a3']);
    expect(h.messages.a3.parentId).toBe('U');
    expect('u1b' in h.messages).toBe(false);
  });

  it('removes a subtree and moves current up', () => {
    const h = removeSubtree({ ...tree(), currentId: 'a2' }, 'a1');
    expect(Object.keys(h.messages).sort()).toEqual(['a1b', 'a3', 'u1', 'u1b']);
    expect(h.messages.u1.childrenIds).toEqual(['a1b']);
    expect(h.currentId).toBe('u1');
  });

  it('normalises server histories', () => {
    const h = normalizeHistory({
      messages: {
        a: {
          id: 'a',
          parentId: null,
          role: 'user',
          content: 'hi',
          timestamp: 1
        } as unknown as IHistoryMessage,
        b: {
          id: 'b',
          parentId: 'a',
          childrenIds: [],
          role: 'assistant',
          content: 'yo',
          timestamp: 2
        }
      },
      currentId: 'missing'
    });
    expect(h.messages.a.childrenIds).toEqual([]);
    expect(h.currentId).toBe('b');
    expect(normalizeHistory(undefined)).toEqual({
      messages: {},
      currentId: null
    });
  });
});

describe('mergeHistories', () => {
  it('keeps text streamed locally that the server has not saved', () => {
    let server = emptyHistory();
    server = addMessage(server, msg('u', null, 'user'));
    server = addMessage(
      server,
      msg('a', 'u', 'assistant', { content: 'Hel', done: false })
    );
    const local = {
      ...server,
      messages: {
        ...server.messages,
        a: { ...server.messages.a, content: 'Hello wor' }
      }
    };
    const merged = mergeHistories(local, server);
    expect(merged.messages.a.content).toBe('Hello wor');
  });

  it('keeps a streaming answer and its user message the server does not have yet', () => {
    let server = emptyHistory();
    server = addMessage(server, msg('u', null, 'user'));
    server = addMessage(server, msg('a', 'u', 'assistant', { done: true }));
    let local = addMessage(server, msg('local-u', 'a', 'user'));
    local = addMessage(
      local,
      msg('local-a', 'local-u', 'assistant', { done: false })
    );
    const merged = mergeHistories(local, server);
    expect(branch(merged).map(m => m.id)).toEqual([
      'u',
      'a',
      'local-u',
      'local-a'
    ]);
  });

  it('drops finished local placeholders the server replaced', () => {
    let server = emptyHistory();
    server = addMessage(server, msg('u', null, 'user'));
    server = addMessage(server, msg('a', 'u', 'assistant', { done: true }));
    let local = emptyHistory();
    local = addMessage(local, msg('local-u', null, 'user'));
    local = addMessage(local, msg('a', 'local-u', 'assistant', { done: true }));
    const merged = mergeHistories(local, server);
    expect(Object.keys(merged.messages).sort()).toEqual(['a', 'u']);
    expect(merged.currentId).toBe('a');
  });
});
