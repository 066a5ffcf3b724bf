import { describe, expect, it, vi } from 'vitest';

// The view's icons come from JupyterLab, which does not load in plain Node.
vi.mock('@jupyterlab/ui-components', () => ({
  caretLeftIcon: {},
  refreshIcon: {}
}));
vi.mock('@lumino/widgets', () => ({ Widget: class {} }));
vi.mock('../src/ui', () => ({ iconButton: () => ({}) }));
vi.mock('../src/handler', () => ({ errorMessage: (e: unknown) => String(e) }));

const { formatWinRate, leaderboardRows } = await import('../src/leaderboard');

describe('leaderboard', () => {
  const board = {
    models: [
      {
        rank: 1,
        id: 'fast',
        rating: 1016,
        won: 1,
        lost: 0,
        count: 1,
        win_rate: 1
      },
      {
        rank: 2,
        id: 'lone',
        rating: 1000,
        won: 0,
        lost: 0,
        count: 0,
        win_rate: null
      },
      {
        rank: 3,
        id: 'slow',
        rating: 983.4592,
        won: 2,
        lost: 1,
        count: 3,
        win_rate: 2 / 3
      }
    ],
    feedbacks: 3,
    k_factor: 32,
    initial_rating: 1000
  };

  it('shows rank, name, Elo, won, lost and win rate', () => {
    expect(
      leaderboardRows(board, [{ id: 'fast', name: 'Fast <b>model</b>' }])
    ).toEqual([
      ['1', 'Fast <b>model</b>', '1016.0', '1', '0', '100.0%'],
      ['2', 'lone', '1000.0', '0', '0', '\u2013'],
      ['3', 'slow', '983.5', '2', '1', '66.7%']
    ]);
  });

  it('formats win rates', () => {
    expect([formatWinRate(0), formatWinRate(0.5), formatWinRate(null)]).toEqual(
      ['0.0%', '50.0%', '\u2013']
    );
  });
});
