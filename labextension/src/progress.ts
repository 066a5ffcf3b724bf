import { Widget } from '@lumino/widgets';

import type { IIndexProgress } from './reducer';

/** The workspace indexing progress bar, shown while the index is built. */
export class IndexProgressBar extends Widget {
  constructor() {
    super();
    this.addClass('jp-OuiIndexProgress');
    this._bar = document.createElement('progress');
    this._bar.max = 1;
    this._label = document.createElement('span');
    this._label.className = 'jp-OuiIndexProgress-label';
    this._label.id = `jp-OuiIndexProgress-label-${Math.random().toString(36).slice(2)}`;
    this._bar.setAttribute('aria-labelledby', this._label.id);
    this.node.append(this._label, this._bar);
    this.hide();
  }

  setProgress(progress: IIndexProgress | null): void {
    if (!progress || !progress.active) {
      this.hide();
      return;
    }
    this._bar.value = progress.fraction;
    this._label.textContent = `${progress.label} (${Math.round(progress.fraction * 100)}%)`;
    this.show();
  }

  private _bar: HTMLProgressElement;
  private _label: HTMLElement;
}
