import { describe, expect, it } from 'vitest';

import type { IHistory, IToolCall } from '../src/api';
import { completionData, reduceChatEvent, toolCall } from '../src/reducer';
import { segments } from '../src/toolcards';
import { addMessage, emptyHistory } from '../src/tree';

const call = (id: string, offset: number, status = 'done'): IToolCall => ({
  id,
  name: 'read_file',
  arguments: '{"path": "a.py"}',
  round: 0,
  offset,
  status,
  result: 'text',
  approval: 'auto',
  duration_ms: 1
});

describe('segments', () => {
  it('is the whole text without calls', () => {
    expect(segments('hello', [])).toEqual([{ text: 'hello', calls: [] }]);
  });

  it('cuts the text at each offset, calls of one offset together', () => {
    const a = call('a', 6);
    const b = call('b', 6);
    const c = call('c', 11);
    expect(segments('Let me see. Found.', [a, b, c])).toEqual([
      { text: 'Let me', calls: [a, b] },
      { text: ' see.', calls: [c] },
      { text: ' Found.', calls: [] }
    ]);
  });

  it('keeps offsets inside the text', () => {
    const far = call('x', 99);
    expect(segments('ab', [far])).toEqual([
      { text: 'ab', calls: [far] },
      { text: '', calls: [] }
    ]);
  });
});

describe('tool:call frames', () => {
  const history = (): IHistory =>
    addMessage(emptyHistory(), {
      id: 'm1',
      parentId: null,
      childrenIds: [],
      role: 'assistant',
      content: 'Checking. ',
      done: false
    });

  it('add a call, then update it by id', () => {
    const frame = (status: string) => ({
      type: 'tool:call',
      chat_id: 'c1',
      message_id: 'm1',
      data: {
        ...call('k', 10, status),
        result: status === 'done' ? 'ok' : null
      }
    });
    const first = reduceChatEvent(history(), 'c1', frame('awaiting_approval'));
    expect(first.changed).toEqual(['m1']);
    expect(first.history.messages.m1.tool_calls?.map(c => c.status)).toEqual([
      'awaiting_approval'
    ]);
    const second = reduceChatEvent(first.history, 'c1', frame('done'));
    const calls = second.history.messages.m1.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    expect(calls[0].status).toBe('done');
    expect(calls[0].result).toBe('ok');
  });

  it('ignore other chats, unknown messages and junk', () => {
    const h = history();
    const data = call('k', 0);
    expect(
      reduceChatEvent(h, 'c1', {
        type: 'tool:call',
        chat_id: 'c2',
        message_id: 'm1',
        data
      }).changed
    ).toEqual([]);
    expect(
      reduceChatEvent(h, 'c1', {
        type: 'tool:call',
        chat_id: 'c1',
        message_id: 'nope',
        data
      }).changed
    ).toEqual([]);
    expect(toolCall({ id: 1 })).toBeNull();
    expect(toolCall('<img src=x onerror=alert(1)>')).toBeNull();
  });

  it('come with the final event', () => {
    const data = completionData({
      done: true,
      tool_calls: [call('k', 0), 'junk']
    });
    expect(data.tool_calls?.map(c => c.id)).toEqual(['k']);
  });
});
