import { describe, expect, it } from 'vitest';

import type { IHistory, IHistoryMessage } from '../src/api';
import {
  answerNotice,
  applyCompletion,
  canContinue,
  completionData,
  errorText,
  imageFiles,
  indexProgress,
  parseFrame,
  reduceChatEvent,
  titleOf
} from '../src/reducer';
import { addMessage, emptyHistory } from '../src/tree';

const assistant = (
  content = '',
  extra: Partial<IHistoryMessage> = {}
): IHistoryMessage => ({
  id: 'a',
  parentId: 'u',
  childrenIds: [],
  role: 'assistant',
  content,
  done: false,
  ...extra
});

function chat(): IHistory {
  let h = emptyHistory();
  h = addMessage(h, {
    id: 'u',
    parentId: null,
    childrenIds: [],
    role: 'user',
    content: 'hi'
  });
  h = addMessage(h, assistant());
  return h;
}

describe('completionData', () => {
  it('reads our shape, Open WebUI content and OpenAI chunks', () => {
    expect(completionData({ delta: 'He', offset: 0 })).toEqual({
      delta: 'He',
      offset: 0
    });
    expect(completionData({ content: 'Hello' })).toEqual({ content: 'Hello' });
    expect(completionData({ choices: [{ delta: { content: 'x' } }] })).toEqual({
      delta: 'x'
    });
    expect(
      completionData({
        done: true,
        citations: [{ source: 'a.py' }, { bogus: 1 }]
      })
    ).toEqual({
      done: true,
      sources: [
        {
          source: 'a.py',
          cell: null,
          cell_id: null,
          start_line: null,
          end_line: null,
          page: null,
          openable: true
        }
      ]
    });
    expect(completionData({ error: { content: 'boom' } })).toEqual({
      error: 'boom'
    });
    expect(completionData('nonsense')).toEqual({});
  });
});

describe('applyCompletion', () => {
  it('appends deltas and replaces with full content', () => {
    let m = assistant();
    m = applyCompletion(m, { delta: 'Hel' }).message;
    m = applyCompletion(m, { delta: 'lo' }).message;
    expect(m.content).toBe('Hello');
    m = applyCompletion(m, { content: 'Hello, world' }).message;
    expect(m.content).toBe('Hello, world');
    expect(m.done).toBe(false);
  });

  it('uses offsets to drop replays and detect gaps', () => {
    const m = assistant('Hello');
    expect(
      applyCompletion(m, { delta: ' you', offset: 5 }).message.content
    ).toBe('Hello you');
    expect(
      applyCompletion(m, { delta: 'lo!', offset: 3 }).message.content
    ).toBe('Hello!');
    const gap = applyCompletion(m, { delta: 'zz', offset: 9 });
    expect(gap.resync).toBe(true);
    expect(gap.message.content).toBe('Hello');
  });

  it('finishes with sources, usage and errors', () => {
    const done = applyCompletion(assistant('x', { status: 'Searching' }), {
      done: true,
      sources: [{ source: 'nb.ipynb', cell: 2 }],
      usage: { total_tokens: 3 }
    });
    expect(done.message.done).toBe(true);
    expect(done.message.status).toBeUndefined();
    expect(done.message.sources).toEqual([{ source: 'nb.ipynb', cell: 2 }]);
    const failed = applyCompletion(assistant('x'), { error: 'upstream 502' });
    expect(failed.message.error).toBe('upstream 502');
    expect(failed.message.done).toBe(true);
  });

  it('reports no change for an empty frame', () => {
    const m = assistant('x');
    const result = applyCompletion(m, {});
    expect(result.changed).toBe(false);
    expect(result.message).toBe(m);
  });
});

describe('interrupted and stopped answers', () => {
  it('reads the interrupted mark of a frame and clears it when the answer streams again', () => {
    expect(
      completionData({ done: true, content: 'tok0 ', interrupted: true })
    ).toEqual({
      done: true,
      content: 'tok0 ',
      interrupted: true
    });
    const marked = applyCompletion(assistant('tok0 '), {
      done: true,
      interrupted: true
    });
    expect(marked.changed).toBe(true);
    expect(marked.message.interrupted).toBe(true);
    expect(marked.message.done).toBe(true);
    const resumed = applyCompletion(marked.message, { content: 'tok0 ' });
    expect(resumed.message.done).toBe(false);
    expect(resumed.message.interrupted).toBeUndefined();
    const finished = applyCompletion(resumed.message, {
      done: true,
      delta: 'tok1 '
    });
    expect(finished.message.interrupted).toBeUndefined();
    expect(finished.message.content).toBe('tok0 tok1 ');
    const stopped = applyCompletion(assistant('x'), {
      done: true,
      stopped: true
    });
    expect(stopped.message.stopped).toBe(true);
  });

  it('shows a notice and offers Continue for interrupted answers only when finished', () => {
    const interrupted = assistant('half', { done: true, interrupted: true });
    expect(answerNotice(interrupted)).toMatch(/^Interrupted: /);
    expect(canContinue(interrupted)).toBe(true);
    expect(answerNotice(assistant('half', { interrupted: true }))).toBeNull(); // streaming again
    expect(canContinue(assistant('half', { interrupted: true }))).toBe(false);
    expect(canContinue(assistant('half', { done: true, stopped: true }))).toBe(
      true
    );
    expect(
      answerNotice(assistant('half', { done: true, stopped: true }))
    ).toBeNull();
    expect(canContinue(assistant('all', { done: true }))).toBe(false);
    expect(
      canContinue(
        assistant('half', { done: true, interrupted: true, error: 'boom' })
      )
    ).toBe(false);
    const user: IHistoryMessage = {
      id: 'u',
      parentId: null,
      childrenIds: [],
      role: 'user',
      content: 'hi',
      interrupted: true
    };
    expect(answerNotice(user)).toBeNull();
    expect(canContinue(user)).toBe(false);
  });
});

describe('reduceChatEvent', () => {
  it('updates only the targeted message', () => {
    const h = chat();
    const r = reduceChatEvent(h, 'c1', {
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'a',
      data: { delta: 'Hi' }
    });
    expect(r.changed).toEqual(['a']);
    expect(r.structural).toBe(false);
    expect(r.history.messages.a.content).toBe('Hi');
    expect(r.history.messages.u).toBe(h.messages.u);
  });

  it('ignores other chats', () => {
    const h = chat();
    const r = reduceChatEvent(h, 'c1', {
      type: 'chat:completion',
      chat_id: 'c2',
      message_id: 'a',
      data: { delta: 'x' }
    });
    expect(r.history).toBe(h);
    expect(r.changed).toEqual([]);
  });

  it('creates a placeholder for an unknown message and asks for a resync', () => {
    const h = chat();
    const r = reduceChatEvent(h, 'c1', {
      type: 'chat:completion',
      chat_id: 'c1',
      message_id: 'b',
      data: { content: 'From another tab' }
    });
    expect(r.structural).toBe(true);
    expect(r.resync).toBe(true);
    expect(r.history.currentId).toBe('b');
    expect(r.history.messages.b.parentId).toBe('a');
    expect(r.history.messages.b.content).toBe('From another tab');
  });

  it('handles status and cancel', () => {
    let h = chat();
    h = reduceChatEvent(h, 'c1', {
      type: 'status',
      chat_id: 'c1',
      message_id: 'a',
      data: { description: 'Searching the workspace' }
    }).history;
    expect(h.messages.a.status).toBe('Searching the workspace');
    const cancelled = reduceChatEvent(h, 'c1', {
      type: 'chat:tasks:cancel',
      chat_id: 'c1'
    });
    expect(cancelled.changed).toEqual(['a']);
    expect(cancelled.history.messages.a.done).toBe(true);
  });

  it('streams 2,000 deltas touching one message each time', () => {
    let h = chat();
    const untouched = h.messages.u;
    for (let i = 0; i < 2000; i++) {
      const r = reduceChatEvent(h, 'c1', {
        type: 'chat:completion',
        chat_id: 'c1',
        message_id: 'a',
        data: { delta: 't' }
      });
      expect(r.changed).toEqual(['a']);
      h = r.history;
    }
    expect(h.messages.a.content.length).toBe(2000);
    expect(h.messages.u).toBe(untouched);
  });
});

describe('frames', () => {
  it('parses frames and rejects junk', () => {
    expect(parseFrame('{"type":"status","data":{}}')).toEqual({
      type: 'status',
      data: {}
    });
    expect(parseFrame('not json')).toBeNull();
    expect(parseFrame('[1,2]')).toBeNull();
    expect(parseFrame('{"data":1}')).toBeNull();
  });

  it('reads titles, errors and index progress', () => {
    expect(titleOf({ type: 'chat:title', data: 'T' })).toBe('T');
    expect(titleOf({ type: 'chat:title', data: { title: 'U' } })).toBe('U');
    expect(titleOf({ type: 'chat:title', data: 3 })).toBeNull();
    expect(errorText(null)).toBeNull();
    expect(errorText({ message: 'm' })).toBe('m');
    expect(errorText({ code: 1 })).toBe('{"code":1}');
    const p = indexProgress({
      files_done: 2,
      files_total: 4,
      chunks_embedded: 10,
      chunks_total: 40
    });
    expect(p).toEqual({
      fraction: 0.25,
      label: 'Indexing workspace: 2/4 files, 10/40 chunks',
      active: true
    });
    expect(
      indexProgress({
        files_done: 4,
        files_total: 4,
        chunks_embedded: 40,
        chunks_total: 40
      })?.active
    ).toBe(false);
    expect(indexProgress(null)).toBeNull();
  });
});

describe('index progress and status edge cases', () => {
  it('reads the retrieval status shape and states', () => {
    expect(
      indexProgress({
        files: 2,
        files_total: 5,
        chunks: 10,
        embedded: 5,
        state: 'indexing'
      })
    ).toMatchObject({
      fraction: 0.5,
      active: true
    });
    expect(
      indexProgress({
        files: 5,
        files_total: 5,
        chunks: 10,
        embedded: 10,
        state: 'idle'
      })?.active
    ).toBe(false);
    expect(
      indexProgress({
        files: 5,
        files_total: 5,
        chunks: 10,
        embedded: 10,
        state: 'scanning'
      })?.active
    ).toBe(true);
    expect(indexProgress({ state: 'error' })?.active).toBe(false);
  });

  it('says the first scan is under way instead of "0/0 files"', () => {
    for (const state of ['starting', 'scanning']) {
      expect(indexProgress({ files_done: 0, files_total: 0, state })).toEqual({
        fraction: 0,
        label: 'Scanning workspace…',
        active: true
      });
    }
    // An empty workspace, once scanned, is simply done.
    expect(
      indexProgress({ files_done: 0, files_total: 0, state: 'idle' })?.active
    ).toBe(false);
  });

  it('applies a status without message id to the streaming answer', () => {
    const r = reduceChatEvent(chat(), 'c1', {
      type: 'status',
      chat_id: 'c1',
      data: { description: 'Searching sources', done: false }
    });
    expect(r.history.messages.a.status).toBe('Searching sources');
    expect(r.changed).toEqual(['a']);
  });

  it('applies a status for a message not known yet to the streaming answer', () => {
    const r = reduceChatEvent(chat(), 'c1', {
      type: 'status',
      chat_id: 'c1',
      message_id: 'server-id',
      data: { description: 'Starting the local model…', done: false }
    });
    expect(r.history.messages.a.status).toBe('Starting the local model…');
  });

  it('shows the status until the first words arrive', () => {
    const waiting = assistant('', { status: 'Reading 3 sources…' });
    const started = applyCompletion(waiting, { content: '', done: false });
    expect(started.message.status).toBe('Reading 3 sources…');
    const first = applyCompletion(waiting, { delta: 'Hi', offset: 0 });
    expect(first.message.status).toBeUndefined();
    expect(first.message.content).toBe('Hi');
  });
});

describe('generated images', () => {
  it('takes image file items with our file ids and drops the rest', () => {
    expect(
      imageFiles([
        {
          type: 'image',
          id: 'f1',
          url: '/api/v1/files/f1/content',
          name: 'a.png'
        },
        { type: 'image', url: '/api/v1/files/f2/content' },
        { type: 'image', url: 'https://evil.example/x.png' },
        { type: 'image', id: '../x' },
        { type: 'file', id: 'f3' },
        'nope'
      ])
    ).toEqual([
      {
        type: 'image',
        id: 'f1',
        name: 'a.png',
        url: '/api/v1/files/f1/content'
      },
      {
        type: 'image',
        id: 'f2',
        name: 'image',
        url: '/api/v1/files/f2/content'
      }
    ]);
    expect(imageFiles(undefined)).toEqual([]);
  });

  it('a done event with files puts them on the answer', () => {
    const data = completionData({
      done: true,
      content: 'a red square',
      files: [{ type: 'image', id: 'f1', url: '/api/v1/files/f1/content' }]
    });
    const { message, changed } = applyCompletion(assistant(''), data);
    expect(changed).toBe(true);
    expect(message.done).toBe(true);
    expect(message.files?.map(f => f.id)).toEqual(['f1']);
  });
});
