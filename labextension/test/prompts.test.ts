import { describe, expect, it } from 'vitest';

import type { IPrompt } from '../src/api';
import { memoryDate, memoryEnabled, withMemory } from '../src/memorysettings';
import {
  builtinValues,
  fillBuiltins,
  filterPrompts,
  nextVariable,
  promptVariables,
  slashQuery
} from '../src/prompts';

function prompt(command: string, title = command, content = ''): IPrompt {
  return {
    command,
    title,
    content,
    user_id: 'alice',
    timestamp: 0,
    access_control: {}
  };
}

const LIBRARY = [
  prompt('/summarize', 'Summarise a notebook'),
  prompt('/review', 'Code review'),
  prompt('/sum-table', 'Sum a table'),
  prompt('/explain', 'Explain like I am five: a summary')
];

describe('slashQuery', () => {
  it('finds a /word at the start or after a space, up to the caret', () => {
    expect(slashQuery('/su', 3)).toEqual({ start: 0, query: 'su' });
    expect(slashQuery('please /Rev', 11)).toEqual({ start: 7, query: 'rev' });
    expect(slashQuery('line one\n/', 10)).toEqual({ start: 9, query: '' });
  });

  it('ignores slashes inside words, paths and before the caret', () => {
    expect(slashQuery('a/b', 3)).toBeNull();
    expect(slashQuery('see src/data.py', 15)).toBeNull();
    expect(slashQuery('/sum more', 9)).toBeNull();
    expect(slashQuery('/sum more', 4)).toEqual({ start: 0, query: 'sum' });
    expect(slashQuery('/a b!', 5)).toBeNull();
  });
});

describe('filterPrompts', () => {
  it('lists command prefixes first, then commands or titles that contain it', () => {
    expect(filterPrompts(LIBRARY, 'sum').map(p => p.command)).toEqual([
      '/summarize',
      '/sum-table',
      '/explain'
    ]);
    expect(filterPrompts(LIBRARY, 'REVIEW').map(p => p.command)).toEqual([
      '/review'
    ]);
    expect(filterPrompts(LIBRARY, 'nothing')).toEqual([]);
  });

  it('lists everything for a bare slash, up to the limit', () => {
    expect(filterPrompts(LIBRARY, '')).toHaveLength(4);
    expect(filterPrompts(LIBRARY, '', 2).map(p => p.command)).toEqual([
      '/summarize',
      '/review'
    ]);
  });
});

describe('variables', () => {
  const content =
    'Review {{topic}} for {{ audience | select:options=["a"] }} and {{topic}}';

  it('names each variable once, in order', () => {
    expect(promptVariables(content)).toEqual(['topic', 'audience']);
    expect(promptVariables('no {single} braces')).toEqual([]);
  });

  it('fills the built-ins only', () => {
    const values = builtinValues(new Date(2026, 0, 5, 9, 4, 3), 'Alice');
    expect(values.CURRENT_DATE).toBe('2026-01-05');
    expect(values.CURRENT_TIME).toBe('09:04:03');
    expect(values.CURRENT_WEEKDAY).toBe('Monday');
    expect(
      fillBuiltins('On {{CURRENT_DATE}} {{USER_NAME}} asks {{topic}}', values)
    ).toBe('On 2026-01-05 Alice asks {{topic}}');
  });

  it('steps from one variable to the next, wrapping', () => {
    const first = nextVariable(content, 0);
    expect(first).toEqual({ start: 7, end: 16 });
    const second = nextVariable(content, first!.end);
    expect(content.slice(second!.start, second!.end)).toMatch(/^\{\{ audience/);
    const third = nextVariable(content, second!.end);
    expect(third!.start).toBe(content.lastIndexOf('{{topic}}'));
    expect(nextVariable(content, content.length)).toEqual(first);
    expect(nextVariable('plain', 0)).toBeNull();
  });
});

describe('memory settings', () => {
  it('reads and sets ui.memory, keeping the other settings', () => {
    expect(memoryEnabled({})).toBe(false);
    expect(memoryEnabled({ ui: { memory: 'yes' } })).toBe(false);
    const on = withMemory({ ui: { theme: 'dark' }, other: 1 }, true);
    expect(on).toEqual({ ui: { theme: 'dark', memory: true }, other: 1 });
    expect(memoryEnabled(on)).toBe(true);
    expect(memoryEnabled(withMemory(on, false))).toBe(false);
    expect(memoryDate(new Date(2026, 11, 1, 12).getTime() / 1000)).toBe(
      '2026-12-01'
    );
  });
});
