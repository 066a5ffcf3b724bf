import { describe, expect, it } from 'vitest';

import { backoffDelay, randomId } from '../src/backoff';
import {
  normalizeSource,
  normalizeSources,
  citationLabel,
  dateGroup,
  fenced,
  hasError,
  outputsText,
  placeholderTitle,
  stripAnsi,
  toMillis,
  uniqueSources
} from '../src/format';

describe('citations', () => {
  it('labels cells, lines and pages', () => {
    expect(citationLabel({ source: 'dir/a.ipynb', cell: 3 })).toBe(
      'a.ipynb · cell 4'
    );
    expect(
      citationLabel({ source: 'x.py', start_line: 10, end_line: 20 })
    ).toBe('x.py · L10-20');
    expect(citationLabel({ source: 'x.py', start_line: 7, end_line: 7 })).toBe(
      'x.py · L7'
    );
    expect(citationLabel({ source: 'p.pdf', page: 2 })).toBe('p.pdf · p. 2');
    expect(citationLabel({ source: 'notes.md' })).toBe('notes.md');
  });

  it('collapses duplicates, best score first', () => {
    const u = uniqueSources([
      { source: 'a.py', start_line: 1, score: 0.1 },
      { source: 'b.py', score: 0.9 },
      { source: 'a.py', start_line: 1, score: 0.5 }
    ]);
    expect(u.map(s => [s.source, s.score])).toEqual([
      ['b.py', 0.9],
      ['a.py', 0.5]
    ]);
  });
});

describe('normalizeSource', () => {
  it('reads the retrieval shape (path + Open WebUI source object)', () => {
    const raw = {
      id: 1,
      source: {
        id: 'nb/a.ipynb',
        name: 'nb/a.ipynb',
        type: 'workspace',
        collection: 'workspace'
      },
      document: ['x = 1'],
      path: 'nb/a.ipynb',
      cell: 3,
      cell_id: 'abc',
      start_line: 1,
      end_line: 2,
      page: null,
      snippet: 'x = 1',
      score: 0.7
    };
    expect(normalizeSource(raw)).toEqual({
      source: 'nb/a.ipynb',
      name: 'nb/a.ipynb',
      cell: 3,
      cell_id: 'abc',
      start_line: 1,
      end_line: 2,
      page: null,
      snippet: 'x = 1',
      score: 0.7,
      openable: true
    });
    expect(citationLabel(normalizeSource(raw)!)).toBe('a.ipynb · cell 4');
  });

  it('marks uploads and collections as not openable, drops junk', () => {
    const upload = normalizeSource({
      source: { id: 'f1', name: 'paper.pdf', type: 'collection' },
      document: ['abc'],
      page: 2
    });
    expect(upload).toMatchObject({
      source: 'f1',
      name: 'paper.pdf',
      page: 2,
      snippet: 'abc',
      openable: false
    });
    expect(
      normalizeSources([null, 3, {}, { path: 'a.py' }]).map(s => s.source)
    ).toEqual(['a.py']);
    expect(normalizeSources('nope')).toEqual([]);
  });
});

describe('outputs', () => {
  it('turns outputs into text, errors without colours', () => {
    const outputs = [
      { output_type: 'stream', text: ['a\n', 'b'] },
      { output_type: 'execute_result', data: { 'text/plain': '42' } },
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback: ['\u001b[0;31mZeroDivisionError\u001b[0m: division by zero']
      }
    ];
    expect(outputsText(outputs)).toBe(
      'a\nb\n42\nZeroDivisionError: division by zero'
    );
    expect(hasError(outputs)).toBe(true);
    expect(hasError(outputs.slice(0, 2))).toBe(false);
    expect(
      outputsText([{ output_type: 'stream', text: 'x'.repeat(50) }], 10)
    ).toBe('xxxxxxxxxx\n… (truncated)');
    expect(stripAnsi('\u001b[1;32mok\u001b[0m')).toBe('ok');
  });

  it('fences text containing backticks', () => {
    expect(fenced('print(1)', 'python')).toBe('```python\nprint(1)\n```');
    expect(fenced('a ```` b')).toBe('`````\na ```` b\n`````');
  });
});

describe('dates', () => {
  it('normalises seconds, ms and ns and groups them', () => {
    const now = new Date(2026, 10, 25, 12).getTime();
    expect(toMillis(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toMillis(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(toMillis(1_700_000_000_000_000_000)).toBe(1_700_000_000_000);
    expect(dateGroup(now / 1000, now)).toBe('Today');
    expect(dateGroup(now / 1000 - 24 * 3600, now)).toBe('Yesterday');
    expect(dateGroup(now / 1000 - 3 * 24 * 3600, now)).toBe('Previous 7 days');
    expect(dateGroup(now / 1000 - 20 * 24 * 3600, now)).toBe(
      'Previous 30 days'
    );
    expect(dateGroup(0, now)).toBe('Older');
  });
});

describe('back-off', () => {
  it('grows exponentially with a cap and bounded jitter', () => {
    const none = () => 0;
    expect(
      [0, 1, 2, 3, 10].map(a => backoffDelay(a, 500, 15000, none))
    ).toEqual([500, 1000, 2000, 4000, 15000]);
    expect(backoffDelay(0, 500, 15000, () => 1)).toBe(600);
    expect(randomId()).not.toBe(randomId());
  });
});

describe('placeholder titles', () => {
  it('keeps a short prompt whole and cuts a long one after a word', () => {
    expect(placeholderTitle('  What is a  monad?\nmore')).toBe(
      'What is a monad?'
    );
    const long =
      'Can you explain how the garbage collector in CPython decides when to run?';
    const title = placeholderTitle(long);
    expect(title).toBe('Can you explain how the garbage collector in CPython…');
    expect(Array.from(title).length).toBeLessThanOrEqual(60);
    expect(long.startsWith(title.slice(0, -1))).toBe(true);
  });

  it('skips code fences and cuts a single long word only as a last resort', () => {
    expect(placeholderTitle('```python\nprint(1)\n```\nWhy no output?')).toBe(
      'print(1)'
    );
    expect(placeholderTitle('x'.repeat(80))).toBe('x'.repeat(59) + '…');
    expect(placeholderTitle('   ')).toBe('New Chat');
  });
});
