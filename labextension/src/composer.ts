import {
  closeIcon,
  fileUploadIcon,
  imageIcon
} from '@jupyterlab/ui-components';
import { Drag } from '@lumino/dragdrop';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import type { IKnowledge, IMessageFile, IPrompt } from './api';
import { Dictation, DictationState } from './audio';
import { basename, fenced } from './format';
import { errorMessage } from './handler';
import {
  fileUrl,
  IImageAttachment,
  isImage,
  rememberThumbnail,
  thumbnail
} from './images';
import {
  fillBuiltins,
  filterPrompts,
  nextVariable,
  PromptMenu,
  slashQuery
} from './prompts';
import { ToolPicker } from './toolpicker';
import { button, iconButton } from './ui';
import { IChatContext, IChatSettings } from './tokens';

/** The file browser's drag payload: the dragged paths. */
const CONTENTS_MIME = 'application/x-jupyter-icontents';

/** What the composer submits. */
export interface IComposerSubmit {
  text: string;
  files: IMessageFile[];
  workspace: boolean;
  /** Answer with images generated from the text (the Image toggle). */
  image: boolean;
}

/**
 * The message input: text, context chips, attachments (upload or drag from
 * the file browser), workspace-knowledge toggle, collection picker, and
 * the send / stop button.
 */
export class Composer extends Widget {
  constructor(options: Composer.IOptions) {
    super();
    this._options = options;
    this._settings = options.settings;
    this.addClass('jp-OuiComposer');

    this._chips = document.createElement('div');
    this._chips.className = 'jp-OuiComposer-chips';
    this._chips.setAttribute('aria-label', 'Attachments and context');

    this._input = document.createElement('textarea');
    this._input.className = 'jp-mod-styled jp-OuiComposer-input';
    this._input.rows = 3;
    this._input.setAttribute('aria-label', 'Message');
    this._input.onkeydown = this._onKeyDown;
    this._menu = new PromptMenu(prompt => this._insertPrompt(prompt));
    this._input.setAttribute('aria-autocomplete', 'list');
    this._input.setAttribute('aria-controls', this._menu.node.id);
    this._input.oninput = () => void this._updateMenu();
    this._input.onblur = () => this._menu.hide();
    this._input.onfocus = () => void this._updateMenu();
    this._input.onpaste = event => {
      const pasted = Array.from(event.clipboardData?.files ?? []).filter(
        isImage
      );
      if (pasted.length > 0) {
        event.preventDefault();
        pasted.forEach(
          file => void this._attach(file, file.name || 'pasted.png')
        );
      }
    };

    const controls = document.createElement('div');
    controls.className = 'jp-OuiComposer-controls';

    this._fileInput = document.createElement('input');
    this._fileInput.type = 'file';
    this._fileInput.multiple = true;
    this._fileInput.hidden = true;
    this._fileInput.onchange = () => {
      const files = Array.from(this._fileInput.files ?? []);
      this._fileInput.value = '';
      files.forEach(file => void this._attach(file, file.name));
    };
    const attach = iconButton(
      fileUploadIcon,
      'Attach files (or drop them here from the file browser)',
      'jp-OuiComposer-attach'
    );
    attach.onclick = () => this._fileInput.click();
    const attachOutput = iconButton(
      imageIcon,
      "Attach the active notebook cell's image output",
      'jp-OuiComposer-attachOutput'
    );
    attachOutput.onclick = () => this.attachOutput();
    attachOutput.hidden = !options.outputImage;

    const toggle = document.createElement('label');
    toggle.className = 'jp-OuiComposer-workspace';
    toggle.title = 'Answer with knowledge from the files of this workspace';
    this._workspace = document.createElement('input');
    this._workspace.type = 'checkbox';
    this._workspace.checked = options.settings.workspaceKnowledge;
    this._workspace.onchange = () =>
      this._options.onWorkspaceChange?.(this._workspace.checked);
    toggle.append(this._workspace, document.createTextNode(' Workspace'));

    this._imageToggle = document.createElement('label');
    this._imageToggle.className = 'jp-OuiComposer-image';
    this._imageToggle.title =
      'Generate an image from the next message instead of a text answer';
    this._image = document.createElement('input');
    this._image.type = 'checkbox';
    this._image.setAttribute('aria-label', 'Generate an image');
    this._imageToggle.append(this._image, document.createTextNode(' Image'));
    this._imageToggle.hidden = true;

    this._collection = document.createElement('select');
    this._collection.className = 'jp-mod-styled jp-OuiComposer-collection';
    this._collection.setAttribute('aria-label', 'Knowledge collection');
    this._collection.title = 'Search a knowledge collection too';
    this._collection.onfocus = () => void this.loadCollections();
    this._setCollections([]);

    this._dictation = new Dictation({
      onText: text => this.insertText(text),
      onError: message => this._options.onError(message),
      onState: state => this._showDictation(state)
    });
    this._mic = button('Dictate', 'jp-OuiComposer-dictate');
    this._mic.onclick = () => void this._dictation.toggle();
    this._mic.hidden = true;
    this._showDictation('idle');

    this._send = button('Send', 'jp-mod-accept jp-OuiComposer-send');
    this._send.setAttribute('aria-label', 'Send message');
    this._send.onclick = () => this.submit();
    this._stop = button('Stop', 'jp-mod-warn jp-OuiComposer-stop');
    this._stop.setAttribute('aria-label', 'Stop generating');
    this._stop.onclick = () => options.onStop();
    this._stop.hidden = true;

    this._tools = new ToolPicker({
      onChange: ids => this._options.onToolsChange?.(ids),
      onError: message => this._options.onError(message)
    });

    controls.append(
      this._fileInput,
      attach,
      attachOutput,
      toggle,
      this._imageToggle,
      this._collection,
      this._tools.node,
      this._mic,
      this._send,
      this._stop
    );
    this.node.append(this._chips, this._menu.node, this._input, controls);
    this.settings = options.settings;
  }

  set settings(settings: IChatSettings) {
    this._settings = settings;
    this._input.placeholder =
      settings.sendWith === 'Enter'
        ? 'Ask about your workspace (Enter to send, Shift+Enter for a new line)'
        : 'Ask about your workspace (Shift+Enter to send)';
  }

  /** Show the stop button instead of send while an answer streams. */
  set generating(value: boolean) {
    this._generating = value;
    this._stop.hidden = !value;
    this._send.hidden = value;
  }

  /** Offer the Image toggle (the server generates images). */
  set imageGeneration(enabled: boolean) {
    this._imageToggle.hidden = !enabled;
    if (!enabled) {
      this._image.checked = false;
    }
  }

  /** Offer dictation (the server has speech to text). */
  set dictation(enabled: boolean) {
    this._mic.hidden = !enabled;
  }

  /** Add `text` to what is typed (dictation), on a new word. */
  insertText(text: string): void {
    const typed = this._input.value;
    const gap = typed && !/\s$/.test(typed) ? ' ' : '';
    this._input.value = `${typed}${gap}${text}`;
    this._input.focus();
  }

  /** Whether the Workspace checkbox is ticked. */
  get workspace(): boolean {
    return this._workspace.checked;
  }
  set workspace(value: boolean) {
    this._workspace.checked = value;
  }

  /** Reset the workspace toggle to the settings' default (new chat). */
  resetWorkspace(): void {
    this._workspace.checked = this._settings.workspaceKnowledge;
  }

  focusInput(): void {
    this._input.focus();
  }

  addContext(context: IChatContext): void {
    this._contexts.push(context);
    this._renderChips();
  }

  /** Send what is typed, with the context and attachments. */
  submit(): void {
    if (this._generating) {
      return;
    }
    if (this._uploads > 0) {
      this._options.onError('Wait for the attachments to finish uploading.');
      return;
    }
    const typed = this._input.value.trim();
    const images = this._files.some(f => f.type === 'image');
    const image = this._image.checked && !this._imageToggle.hidden;
    if (!typed && this._contexts.length === 0 && !images) {
      return;
    }
    if (image && !typed) {
      this._options.onError('Describe the image to generate first.');
      return;
    }
    const context = this._contexts
      .map(c => `${c.label}:\n${c.text}`)
      .join('\n\n');
    const text = context
      ? `${typed || 'Explain this.'}\n\n${context}`
      : typed || 'What does this image show?';
    const files = [...this._files];
    const collection = this._knowledge.find(
      k => k.id === this._collection.value
    );
    if (collection) {
      files.push({
        type: 'collection',
        id: collection.id,
        name: collection.name
      });
    }
    this._input.value = '';
    this._contexts = [];
    this._files = [];
    this._image.checked = false; // for one message: the next answers in text again
    this._renderChips();
    this._options.onSubmit({
      text,
      files,
      workspace: this._workspace.checked,
      image
    });
  }

  /**
   * Read the knowledge collections into the picker. Quietly at start (the
   * picker stays hidden without collections); loudly when the user asks.
   */
  async loadCollections(quiet = false): Promise<void> {
    if (this._loadingCollections) {
      return;
    }
    this._loadingCollections = true;
    try {
      this._setCollections(await api.listKnowledge());
    } catch (error) {
      if (!quiet) {
        this._options.onError(
          `Could not list collections: ${errorMessage(error)}`
        );
      }
    } finally {
      this._loadingCollections = false;
    }
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case 'lm-dragenter':
      case 'lm-dragover': {
        const drag = event as Drag.Event;
        if (drag.mimeData.hasData(CONTENTS_MIME)) {
          drag.preventDefault();
          drag.stopPropagation();
          drag.dropAction = drag.proposedAction;
          this.addClass('jp-mod-dropTarget');
        }
        break;
      }
      case 'lm-dragleave':
        this.removeClass('jp-mod-dropTarget');
        break;
      case 'lm-drop': {
        const drag = event as Drag.Event;
        this.removeClass('jp-mod-dropTarget');
        if (!drag.mimeData.hasData(CONTENTS_MIME)) {
          return;
        }
        drag.preventDefault();
        drag.stopPropagation();
        drag.dropAction = drag.proposedAction;
        const paths = drag.mimeData.getData(CONTENTS_MIME) as string[];
        paths.forEach(path => void this.attachPath(path));
        break;
      }
      case 'dragover':
        if ((event as DragEvent).dataTransfer?.types.includes('Files')) {
          event.preventDefault();
        }
        break;
      case 'drop': {
        const files = Array.from(
          (event as DragEvent).dataTransfer?.files ?? []
        );
        if (files.length > 0) {
          event.preventDefault();
          files.forEach(file => void this._attach(file, file.name));
        }
        break;
      }
      default:
        break;
    }
  }

  /** Attach an image (a cell's output, a pasted picture): uploaded, shown as a thumbnail. */
  attachImage(image: IImageAttachment): Promise<void> {
    return this._attach(image.blob, image.name);
  }

  /** Attach the image output of the active notebook cell. */
  attachOutput(): void {
    const image = this._options.outputImage?.();
    if (!image) {
      this._options.onError(
        'Select a notebook cell that shows an image (a plot) first.'
      );
      return;
    }
    void this.attachImage(image);
  }

  /** Attach a file of the workspace (read through the contents API, then uploaded). */
  async attachPath(path: string): Promise<void> {
    try {
      const blob = await this._options.readPath(path);
      await this._attach(blob, basename(path));
    } catch (error) {
      this._options.onError(`Could not attach ${path}: ${errorMessage(error)}`);
    }
  }

  protected onAfterAttach(): void {
    for (const type of [
      'lm-dragenter',
      'lm-dragleave',
      'lm-dragover',
      'lm-drop',
      'dragover',
      'drop'
    ]) {
      this.node.addEventListener(type, this);
    }
    void this.loadCollections(true);
  }

  protected onBeforeDetach(): void {
    for (const type of [
      'lm-dragenter',
      'lm-dragleave',
      'lm-dragover',
      'lm-drop',
      'dragover',
      'drop'
    ]) {
      this.node.removeEventListener(type, this);
    }
  }

  private async _attach(blob: Blob, name: string): Promise<void> {
    this._uploads++;
    this._pending.push(name);
    this._renderChips();
    try {
      const image = isImage(blob);
      const uploaded = await api.uploadFile(blob, name, !image);
      const shown = uploaded.meta?.name || uploaded.filename || name;
      if (image) {
        rememberThumbnail(uploaded.id, blob);
        this._files.push({
          type: 'image',
          id: uploaded.id,
          name: shown,
          url: fileUrl(uploaded.id)
        });
      } else {
        this._files.push({ type: 'file', id: uploaded.id, name: shown });
      }
    } catch (error) {
      this._options.onError(`Could not upload ${name}: ${errorMessage(error)}`);
    } finally {
      this._uploads--;
      this._pending.splice(this._pending.indexOf(name), 1);
      this._renderChips();
    }
  }

  private _setCollections(items: IKnowledge[]): void {
    const selected = this._collection.value;
    this._knowledge = items;
    const none = document.createElement('option');
    none.value = '';
    none.textContent = 'No collection';
    const options = items.map(item => {
      const option = document.createElement('option');
      option.value = item.id;
      option.textContent = item.name;
      option.title = item.description ?? '';
      return option;
    });
    this._collection.replaceChildren(none, ...options);
    this._collection.value = items.some(i => i.id === selected) ? selected : '';
    this._collection.hidden = items.length === 0;
  }

  private _renderChips(): void {
    const chips: HTMLElement[] = [];
    this._contexts.forEach((context, i) => {
      chips.push(
        chip(
          `Context: ${context.label}`,
          fenced(context.text).slice(0, 400),
          () => {
            this._contexts.splice(i, 1);
            this._renderChips();
          }
        )
      );
    });
    this._files.forEach((file, i) => {
      const image = file.type === 'image';
      const c = chip(
        file.name,
        image ? `Attached image ${file.name}` : `Attached file ${file.name}`,
        () => {
          this._files.splice(i, 1);
          this._renderChips();
        }
      );
      if (image) {
        c.classList.add('jp-OuiChip-image');
        c.prepend(thumbnail(file.id, file.name));
      }
      chips.push(c);
    });
    for (const name of this._pending) {
      const c = chip(`Uploading ${name}…`, `Uploading ${name}`, null);
      c.setAttribute('aria-busy', 'true');
      chips.push(c);
    }
    this._chips.replaceChildren(...chips);
  }

  private _showDictation(state: DictationState): void {
    const labels: Record<DictationState, [string, string]> = {
      idle: ['Dictate', 'Dictate into the message (microphone)'],
      recording: ['Stop dictation', 'Stop recording and transcribe'],
      transcribing: ['Transcribing…', 'Transcribing the recording']
    };
    const [text, label] = labels[state];
    this._mic.textContent = text;
    this._mic.title = label;
    this._mic.setAttribute('aria-label', text);
    this._mic.disabled = state === 'transcribing';
    this._mic.classList.toggle('jp-mod-recording', state === 'recording');
  }

  /** The `/` menu: the user's prompts that fit the `/word` at the caret. */
  private async _updateMenu(): Promise<void> {
    const input = this._input;
    const slash = slashQuery(input.value, input.selectionStart ?? 0);
    if (!slash) {
      this._menu.hide();
      input.removeAttribute('aria-activedescendant');
      return;
    }
    const prompts = await this._prompts();
    const now = slashQuery(input.value, input.selectionStart ?? 0);
    if (!now || now.query !== slash.query) {
      return; // typed on meanwhile: that input's own update shows the menu
    }
    this._menu.show(filterPrompts(prompts, slash.query), slash.query);
    this._showActive();
  }

  /** The prompts, read at most every 30 s (they change rarely). */
  private async _prompts(): Promise<IPrompt[]> {
    const fresh = Date.now() - this._promptsAt < 30_000;
    if (this._promptList && fresh) {
      return this._promptList;
    }
    try {
      const load = this._options.listPrompts ?? api.listPrompts;
      this._promptList = await load();
      this._promptsAt = Date.now();
    } catch (error) {
      this._options.onError(`Could not list prompts: ${errorMessage(error)}`);
      this._promptList = this._promptList ?? [];
    }
    return this._promptList;
  }

  /** Put `prompt`'s content in place of the `/word`, the first variable selected. */
  private _insertPrompt(prompt: IPrompt): void {
    const input = this._input;
    const caret = input.selectionStart ?? input.value.length;
    const slash = slashQuery(input.value, caret);
    const start = slash ? slash.start : caret;
    const content = fillBuiltins(prompt.content);
    input.value =
      input.value.slice(0, start) + content + input.value.slice(caret);
    this._menu.hide();
    input.removeAttribute('aria-activedescendant');
    input.focus();
    const variable = nextVariable(input.value, start);
    if (variable && variable.start < start + content.length) {
      input.setSelectionRange(variable.start, variable.end);
    } else {
      input.setSelectionRange(start + content.length, start + content.length);
    }
  }

  private _showActive(): void {
    const row = this._menu.items.length
      ? `${this._menu.node.id}-${this._menu.active}`
      : '';
    if (row) {
      this._input.setAttribute('aria-activedescendant', row);
    } else {
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  /** Keys of the open `/` menu: arrows move, Enter or Tab choose, Escape closes. */
  private _menuKey(event: KeyboardEvent): boolean {
    if (!this._menu.open) {
      return false;
    }
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      this._menu.move(event.key === 'ArrowDown' ? 1 : -1);
      this._showActive();
    } else if (
      (event.key === 'Enter' || event.key === 'Tab') &&
      !event.shiftKey &&
      this._menu.items.length > 0
    ) {
      this._menu.choose();
    } else if (event.key === 'Escape') {
      this._menu.hide();
      this._input.removeAttribute('aria-activedescendant');
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    if (this._menuKey(event)) {
      return;
    }
    if (event.key === 'Tab' && !event.shiftKey) {
      const input = this._input;
      const next = nextVariable(input.value, input.selectionEnd ?? 0);
      if (next) {
        event.preventDefault(); // Tab goes from one {{variable}} to the next
        input.setSelectionRange(next.start, next.end);
        return;
      }
    }
    if (event.key === 'Escape' && this._generating) {
      event.preventDefault();
      this._options.onStop();
      return;
    }
    if (event.key !== 'Enter' || event.isComposing) {
      return;
    }
    const wantsShift = this._settings.sendWith === 'Shift Enter';
    if (
      event.shiftKey === wantsShift &&
      !event.altKey &&
      !event.ctrlKey &&
      !event.metaKey
    ) {
      event.preventDefault();
      this.submit();
    }
  };

  private _options: Composer.IOptions;
  private _settings: IChatSettings;
  private _input: HTMLTextAreaElement;
  private _chips: HTMLElement;
  private _fileInput: HTMLInputElement;
  private _workspace: HTMLInputElement;
  private _collection: HTMLSelectElement;
  private _tools: ToolPicker;
  private _imageToggle: HTMLLabelElement;
  private _image: HTMLInputElement;
  private _send: HTMLButtonElement;
  private _stop: HTMLButtonElement;
  private _mic: HTMLButtonElement;
  private _dictation: Dictation;
  private _generating = false;
  private _contexts: IChatContext[] = [];
  private _files: IMessageFile[] = [];
  private _pending: string[] = [];
  private _uploads = 0;
  private _knowledge: IKnowledge[] = [];
  private _loadingCollections = false;
  private _menu: PromptMenu;
  private _promptList: IPrompt[] | null = null;
  private _promptsAt = 0;
}

export namespace Composer {
  export interface IOptions {
    settings: IChatSettings;
    onSubmit: (value: IComposerSubmit) => void;
    /** The user ticked or cleared the Workspace checkbox. */
    onWorkspaceChange?: (value: boolean) => void;
    /** The ticked tools of the Tools picker changed. */
    onToolsChange?: (ids: string[]) => void;
    onStop: () => void;
    onError: (message: string) => void;
    /** Read a workspace file as a Blob (drag from the file browser). */
    readPath: (path: string) => Promise<Blob>;
    /** The active notebook cell's image output, if any (the attach-output button). */
    outputImage?: () => IImageAttachment | null;
    /** The prompts of the `/` menu (default: `v1/prompts/`). */
    listPrompts?: () => Promise<IPrompt[]>;
  }
}

function chip(
  label: string,
  title: string,
  onRemove: (() => void) | null
): HTMLElement {
  const span = document.createElement('span');
  span.className = 'jp-OuiChip';
  span.title = title;
  const text = document.createElement('span');
  text.textContent = label;
  span.appendChild(text);
  if (onRemove) {
    const remove = iconButton(
      closeIcon,
      `Remove ${label}`,
      'jp-OuiChip-remove'
    );
    remove.onclick = onRemove;
    span.appendChild(remove);
  }
  return span;
}
