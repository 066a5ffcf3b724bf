import { Widget } from '@lumino/widgets';

import type { IModel } from './api';

/**
 * A native `<select>` of the models: keyboard friendly, themed by
 * JupyterLab's `jp-mod-styled`; unavailable models are disabled with
 * their reason.
 */
export class ModelPicker extends Widget {
  constructor(onChange: (id: string) => void) {
    super();
    this.addClass('jp-OuiModelPicker');
    const label = document.createElement('label');
    label.className = 'jp-OuiModelPicker-label';
    label.textContent = 'Model';
    this._select = document.createElement('select');
    this._select.className = 'jp-mod-styled jp-OuiModelPicker-select';
    const id = `jp-OuiModelPicker-${Private.nextId()}`;
    this._select.id = id;
    label.htmlFor = id;
    this._select.onchange = () => {
      this._showFullName();
      onChange(this._select.value);
    };
    this.node.append(label, this._select);
  }

  /** Show `models`, with `selected` chosen. */
  setModels(models: IModel[], selected: string): void {
    const options = models.map(model => {
      const option = document.createElement('option');
      option.value = model.id;
      const name = model.name || model.id;
      const unavailable = model.available === false;
      option.textContent = unavailable
        ? `${name} (unavailable${model.unavailable_reason ? `: ${model.unavailable_reason}` : ''})`
        : model.connection
          ? `${name} · ${model.connection}`
          : name;
      option.disabled = unavailable;
      option.title = unavailable
        ? model.unavailable_reason || 'Unavailable'
        : `${model.id}${model.owned_by ? ` (${model.owned_by})` : ''}`;
      return option;
    });
    if (models.length === 0) {
      const none = document.createElement('option');
      none.value = '';
      none.textContent = 'No models';
      none.disabled = true;
      options.push(none);
    } else if (selected && !models.some(m => m.id === selected)) {
      const missing = document.createElement('option');
      missing.value = selected;
      missing.textContent = `${selected} (not found)`;
      missing.disabled = true;
      options.unshift(missing);
    }
    this._select.replaceChildren(...options);
    this._select.value = selected;
    this._showFullName();
  }

  /** The narrow sidebar cuts long names: the whole one shows on hover. */
  private _showFullName(): void {
    const option = this._select.selectedOptions[0];
    this._select.title = option?.textContent ?? '';
  }

  get value(): string {
    return this._select.value;
  }

  private _select: HTMLSelectElement;
}

namespace Private {
  let counter = 0;

  /** A number not given out before, for unique element ids. */
  export function nextId(): number {
    return counter++;
  }
}
