import { Signal } from '@lumino/signaling';
import { describe, expect, it, vi } from 'vitest';

import type { IChatClient, IHistoryMessage } from '../src/api';
import { ChatController } from '../src/controller';
import type { ConnectionState, IEventSocket } from '../src/events';
import type { IEventFrame } from '../src/reducer';
import {
  changedPath,
  revertIfClean,
  undoableTurn,
  undoneText
} from '../src/undo';

function answer(toolCalls: unknown): IHistoryMessage {
  return {
    id: 'a1',
    parentId: 'u1',
    childrenIds: [],
    role: 'assistant',
    content: 'done',
    tool_calls: toolCalls
  } as IHistoryMessage;
}

describe('undoableTurn', () => {
  it('is true for a done edit_notebook or run_cells call', () => {
    expect(
      undoableTurn(answer([{ name: 'edit_notebook', status: 'done' }]))
    ).toBe(true);
    expect(
      undoableTurn(
        answer([
          { name: 'read_file', status: 'done' },
          { name: 'run_cells', status: 'done' }
        ])
      )
    ).toBe(true);
  });

  it('is false for other tools, unfinished or denied calls and junk', () => {
    expect(undoableTurn(answer([{ name: 'read_file', status: 'done' }]))).toBe(
      false
    );
    expect(
      undoableTurn(answer([{ name: 'run_cells', status: 'denied' }]))
    ).toBe(false);
    expect(
      undoableTurn(answer([{ name: 'edit_notebook', status: 'error' }]))
    ).toBe(false);
    expect(undoableTurn(answer(undefined))).toBe(false);
    expect(undoableTurn(answer('edit_notebook'))).toBe(false);
    expect(undoableTurn(answer([null, 3, { name: 7, status: 'done' }]))).toBe(
      false
    );
    const user = {
      ...answer([{ name: 'edit_notebook', status: 'done' }]),
      role: 'user'
    };
    expect(undoableTurn(user as IHistoryMessage)).toBe(false);
  });
});

describe('notebook:changed', () => {
  it('reads the path of the frame', () => {
    expect(changedPath({ path: 'a/b.ipynb' })).toBe('a/b.ipynb');
    expect(changedPath({ path: '' })).toBeNull();
    expect(changedPath({ path: 3 })).toBeNull();
    expect(changedPath(null)).toBeNull();
  });

  it('says what was restored', () => {
    expect(undoneText({ restored: ['a.ipynb', 'b.ipynb'] })).toBe(
      'Undone: restored a.ipynb, b.ipynb.'
    );
    expect(undoneText({ restored: [] })).toBe('Undone: nothing had changed.');
  });

  function docManager(dirty: boolean | null) {
    const revert = vi.fn(async () => undefined);
    const widget = dirty === null ? undefined : {};
    const manager = {
      findWidget: vi.fn(() => widget),
      contextForWidget: vi.fn(() => ({
        isReady: true,
        model: { dirty },
        revert
      }))
    };
    return { manager: manager as never, revert };
  }

  it('reverts a clean open document and leaves a dirty one alone', async () => {
    const clean = docManager(false);
    expect(await revertIfClean(clean.manager, 'a.ipynb')).toBe(true);
    expect(clean.revert).toHaveBeenCalledTimes(1);
    const dirty = docManager(true);
    expect(await revertIfClean(dirty.manager, 'a.ipynb')).toBe(false);
    expect(dirty.revert).not.toHaveBeenCalled();
    const closed = docManager(null);
    expect(await revertIfClean(closed.manager, 'a.ipynb')).toBe(false);
  });

  it('comes out of the controller as a signal', () => {
    const received = new Signal<IEventSocket, IEventFrame>({} as IEventSocket);
    const socket = {
      sessionId: 's',
      state: 'open' as ConnectionState,
      isDisposed: false,
      received,
      stateChanged: new Signal<IEventSocket, ConnectionState>(
        {} as IEventSocket
      ),
      reconnected: new Signal<IEventSocket, void>({} as IEventSocket),
      send: () => true,
      dispose: () => undefined
    } as unknown as IEventSocket;
    const client = {} as IChatClient;
    const controller = new ChatController({ socket, client });
    const paths: string[] = [];
    controller.notebookChanged.connect((_, path) => paths.push(path));
    received.emit({ type: 'notebook:changed', data: { path: 'nb.ipynb' } });
    received.emit({ type: 'notebook:changed', data: {} });
    expect(paths).toEqual(['nb.ipynb']);
  });
});
