import { caretLeftIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { ILeaderboard, IModel } from './api';
import { errorMessage } from './handler';
import { iconButton } from './ui';

/** "66.7%", or "–" for a model with no win or loss. */
export function formatWinRate(rate: number | null): string {
  return rate === null ? '\u2013' : `${(rate * 100).toFixed(1)}%`;
}

/**
 * The leaderboard's rows as the table shows them: rank, model (its listed name where
 * known), Elo, won, lost, win rate.
 */
export function leaderboardRows(
  board: ILeaderboard,
  models: IModel[] = []
): string[][] {
  const names = new Map(models.map(m => [m.id, m.name || m.id]));
  return board.models.map(entry => [
    String(entry.rank),
    names.get(entry.id) ?? entry.id,
    entry.rating.toFixed(1),
    String(entry.won),
    String(entry.lost),
    formatWinRate(entry.win_rate)
  ]);
}

/** Fill `body` (a tbody) with the rows: every cell is text, never markup. */
export function fillLeaderboard(
  body: HTMLTableSectionElement,
  board: ILeaderboard,
  models: IModel[] = []
): void {
  const rows = leaderboardRows(board, models);
  body.replaceChildren(
    ...rows.map((cells, i) => {
      const row = document.createElement('tr');
      row.dataset.modelId = board.models[i].id;
      for (const text of cells) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.appendChild(cell);
      }
      row.children[1].setAttribute('title', board.models[i].id);
      return row;
    })
  );
}

/** The sidebar's leaderboard: per-model Elo and win rate from everyone's ratings. */
export class LeaderboardView extends Widget {
  constructor(options: LeaderboardView.IOptions) {
    super();
    this._options = options;
    this.addClass('jp-OuiLeaderboard');
    const header = document.createElement('div');
    header.className = 'jp-OuiLeaderboard-header';
    const back = iconButton(
      caretLeftIcon,
      'Back to the chat list',
      'jp-OuiLeaderboard-back',
      'Chats'
    );
    back.onclick = () => options.onBack();
    const title = document.createElement('h2');
    title.className = 'jp-OuiLeaderboard-title';
    title.textContent = 'Leaderboard';
    const refresh = iconButton(
      refreshIcon,
      'Refresh the leaderboard',
      'jp-OuiLeaderboard-refresh'
    );
    refresh.onclick = () => void this.refresh();
    header.append(back, title, refresh);

    this._status = document.createElement('div');
    this._status.className = 'jp-OuiLeaderboard-status';
    this._status.setAttribute('aria-live', 'polite');
    const table = document.createElement('table');
    table.className = 'jp-OuiLeaderboard-table';
    const head = table.createTHead().insertRow();
    for (const name of ['#', 'Model', 'Elo', 'Won', 'Lost', 'Win rate']) {
      const cell = document.createElement('th');
      cell.scope = 'col';
      cell.textContent = name;
      head.appendChild(cell);
    }
    this._body = table.createTBody();
    const note = document.createElement('p');
    note.className = 'jp-OuiLeaderboard-note';
    note.textContent =
      'Elo (K = 32, from 1000) counts arena and side-by-side ratings as games; ' +
      'a thumb on a single answer moves its win rate only.';
    this.node.append(header, this._status, table, note);
  }

  /** Read the leaderboard again. */
  async refresh(): Promise<void> {
    this._status.textContent = 'Loading\u2026';
    try {
      const board = await this._options.load();
      fillLeaderboard(this._body, board, this._options.models());
      this._status.textContent = board.models.length
        ? `${board.feedbacks} rating${board.feedbacks === 1 ? '' : 's'}`
        : 'No ratings yet: rate answers with the thumbs under them.';
    } catch (error) {
      this._status.textContent = `Could not load the leaderboard: ${errorMessage(error)}`;
    }
  }

  private _options: LeaderboardView.IOptions;
  private _status: HTMLElement;
  private _body: HTMLTableSectionElement;
}

export namespace LeaderboardView {
  export interface IOptions {
    load: () => Promise<ILeaderboard>;
    /** The listed models, for their names. */
    models: () => IModel[];
    onBack: () => void;
  }
}
