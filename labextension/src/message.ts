import { MimeModel, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { CommandRegistry } from '@lumino/commands';
import { caretLeftIcon, caretRightIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type {
  IHistoryMessage,
  IMessageFile,
  ISource,
  IToolCall,
  ToolDecision
} from './api';
import { audioFeatures, readAloud } from './audio';
import { decorateCodeBlocks } from './codeblocks';
import { IRating, MAX_COMMENT } from './feedback';
import { citationLabel, uniqueSources } from './format';
import { errorMessage } from './handler';
import { answerNotice, canContinue, errorText } from './reducer';
import { renderQueue } from './renderqueue';
import { thumbDownIcon, thumbUpIcon } from './icons';
import { CommandIDs } from './tokens';
import { button, iconButton } from './ui';
import { undoableTurn } from './undo';
import { loadHeldImage } from './remotemedia';
import { thumbnail } from './images';
import { fillCard, segments } from './toolcards';

/** Render counters, read by the benchmarks and browser tests. */
export interface IRenderStats {
  markdownRenders: number;
  byMessage: Record<string, number>;
}

declare global {
  // The DOM's own interface, augmented: its name is not ours to choose.
  // eslint-disable-next-line @typescript-eslint/naming-convention
  interface Window {
    ouiJupyterStats?: IRenderStats;
  }
}

function stats(): IRenderStats {
  if (!window.ouiJupyterStats) {
    window.ouiJupyterStats = { markdownRenders: 0, byMessage: {} };
  }
  return window.ouiJupyterStats;
}

/** A message got its server id: its render count follows it. */
export function renameRenderStats(from: string, to: string): void {
  const s = stats();
  if (from in s.byMessage) {
    s.byMessage[to] = (s.byMessage[to] ?? 0) + s.byMessage[from];
    delete s.byMessage[from];
  }
}

let warmed: Promise<void> | null = null;

/**
 * Render a tiny markdown document once, off screen, so the first streamed
 * answer does not pay for loading the markdown parser (a lazy chunk): its
 * first render would otherwise look slow and space out the next ones.
 */
export function warmUpMarkdown(rendermime: IRenderMimeRegistry): Promise<void> {
  if (!warmed) {
    const renderer = rendermime.createRenderer('text/markdown');
    warmed = renderer
      .renderModel(
        new MimeModel({ data: { 'text/markdown': '*warm*' }, trusted: false })
      )
      .catch(() => undefined)
      .then(() => renderer.dispose());
  }
  return warmed;
}

/** What a message can ask of the chat. */
export interface IMessageActions {
  regenerate(id: string): void;
  /** Extend a stopped or interrupted answer where it ended. */
  continueAnswer(id: string): void;
  editAndResend(id: string, content: string): void;
  switchBranch(id: string, step: number): void;
  rendered(widget: MessageWidget): void;
  /** Rate an answer; resolves whether the rating was saved. */
  rate(id: string, rating: IRating): Promise<boolean>;
  /** Undo the notebook changes of answer `id`'s tool calls: what to tell the user. */
  undoTurn(id: string): Promise<string>;
  /** Decide a tool call of the answer `id` that waits for approval. */
  approveTool?(id: string, callId: string, decision: ToolDecision): void;
}

/**
 * One message of the chat: markdown through the (sanitizing) rendermime
 * registry, re-rendered at most once per animation frame while streaming,
 * and only once visible.
 */
export class MessageWidget extends Widget {
  constructor(options: MessageWidget.IOptions) {
    super();
    this._rendermime = options.rendermime;
    this._commands = options.commands;
    this._actions = options.actions;
    this.codeActions = options.codeActions;
    this.userLabel = options.userLabel ?? 'You';
    this.addClass('jp-OuiMessage');
    this.node.setAttribute('role', 'article');

    this._header = document.createElement('div');
    this._header.className = 'jp-OuiMessage-header';
    this._role = document.createElement('span');
    this._role.className = 'jp-OuiMessage-role';
    this._nav = document.createElement('span');
    this._nav.className = 'jp-OuiMessage-branches';
    this._header.append(this._role, this._nav);

    this._files = document.createElement('div');
    this._files.className = 'jp-OuiMessage-files';
    this._body = document.createElement('div');
    this._body.className = 'jp-OuiMessage-body';
    this._status = document.createElement('div');
    this._status.className = 'jp-OuiMessage-status';
    this._status.setAttribute('aria-live', 'polite');
    this._status.hidden = true;
    this._error = document.createElement('div');
    this._error.className = 'jp-OuiMessage-error';
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this._notice = document.createElement('div');
    this._notice.className = 'jp-OuiMessage-notice';
    this._notice.setAttribute('role', 'status');
    this._notice.hidden = true;
    this._citations = document.createElement('div');
    this._citations.className = 'jp-OuiMessage-citations';
    this._toolbar = document.createElement('div');
    this._toolbar.className = 'jp-OuiMessage-actions';
    this.node.append(
      this._header,
      this._files,
      this._body,
      this._status,
      this._error,
      this._notice,
      this._citations,
      this._toolbar
    );

    this._renderer = this._rendermime.createRenderer('text/markdown');
    this._renderer.addClass('jp-OuiMessage-markdown');
    this._body.appendChild(this._renderer.node);
    this._plain = document.createElement('div');
    this._plain.className = 'jp-OuiMessage-plain';
    // The tool calls and the text after them (toolcards.ts), after the first text piece.
    this._segmentsNode = document.createElement('div');
    this._segmentsNode.className = 'jp-OuiMessage-segments';
    this._body.append(this._segmentsNode, this._plain);
    this._body.addEventListener('click', event => {
      const held = (event.target as Element | null)?.closest?.(
        '.jp-OuiRemoteImage'
      );
      if (held instanceof HTMLElement) {
        event.preventDefault();
        loadHeldImage(held);
      }
    });
    this.setMessage(options.message, options.position);
  }

  /** Show code-block actions (copy, insert, run) under code blocks. */
  codeActions: boolean;

  /** Who wrote the user messages: "You", or a shared chat's owner (applied by `setMessage`). */
  userLabel: string;

  /** Whether answers show the rating buttons (one's own chats, not shared snapshots). */
  get rateable(): boolean {
    return this._rateable;
  }
  set rateable(value: boolean) {
    if (value !== this._rateable) {
      this._rateable = value;
      this._schedule();
    }
  }

  /** An arena answer's header ("Model A", with its model once revealed); null otherwise. */
  get arenaTitle(): string | null {
    return this._arenaTitle;
  }
  set arenaTitle(value: string | null) {
    if (value !== this._arenaTitle) {
      this._arenaTitle = value;
      this._schedule();
    }
  }

  get message(): IHistoryMessage {
    return this._message;
  }

  /** Update the message; rendering happens on the next animation frame. */
  setMessage(
    message: IHistoryMessage,
    position: { index: number; count: number }
  ): void {
    const same =
      this._message === message &&
      this._position.index === position.index &&
      this._position.count === position.count;
    if (same) {
      return;
    }
    this._message = message;
    this._position = position;
    this._schedule();
  }

  /** The list tells the message when it scrolls into view. */
  setVisible(visible: boolean): void {
    if (visible && !this._visible) {
      this._visible = true;
      this._schedule();
    }
  }

  /** Put the message in edit mode (user messages). */
  edit(): void {
    if (this._message.role !== 'user' || this._editor) {
      return;
    }
    const form = document.createElement('form');
    form.className = 'jp-OuiMessage-edit';
    const area = document.createElement('textarea');
    area.className = 'jp-mod-styled';
    area.value = this._message.content;
    area.setAttribute('aria-label', 'Edit message');
    const save = button('Save & send', 'jp-mod-accept');
    save.type = 'submit';
    const cancel = button('Cancel');
    cancel.onclick = () => this._closeEditor();
    form.onsubmit = event => {
      event.preventDefault();
      const text = area.value.trim();
      this._closeEditor();
      if (text) {
        this._actions.editAndResend(this._message.id, text);
      }
    };
    area.onkeydown = event => {
      if (event.key === 'Escape') {
        this._closeEditor();
      } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        form.requestSubmit();
      }
    };
    const row = document.createElement('div');
    row.className = 'jp-OuiMessage-editButtons';
    row.append(cancel, save);
    form.append(area, row);
    this._body.hidden = true;
    this._body.after(form);
    this._editor = form;
    area.focus();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    window.clearTimeout(this._timer);
    this._renderer.dispose();
    super.dispose();
  }

  private _closeEditor(): void {
    this._editor?.remove();
    this._editor = null;
    this._body.hidden = false;
  }

  private _schedule(): void {
    if (this._frame || this._timer || this.isDisposed) {
      return;
    }
    // While streaming, rendering may take at most about half the time: a
    // long answer re-renders less often instead of janking the page.
    const wait = this._nextRenderAt - performance.now();
    if (wait > 0 && this._message.done === false) {
      this._timer = window.setTimeout(() => {
        this._timer = 0;
        this._schedule();
      }, wait);
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._update();
    });
  }

  private _update(): void {
    const m = this._message;
    const streaming = m.role === 'assistant' && m.done === false;
    this.node.dataset.role = m.role;
    this.node.dataset.messageId = m.id;
    this.toggleClass('jp-mod-streaming', streaming);
    this.node.setAttribute('aria-busy', streaming ? 'true' : 'false');
    const mine = this.userLabel === 'You';
    const author = this._arenaTitle ?? (m.model || 'Assistant');
    this._role.textContent = m.role === 'user' ? this.userLabel : author;
    this.node.setAttribute(
      'aria-label',
      m.role === 'user'
        ? mine
          ? 'Your message'
          : `Message from ${this.userLabel}`
        : `Answer from ${this._arenaTitle ?? (m.model || 'the assistant')}`
    );
    this._updateNav();
    this._updateFiles();
    this._status.textContent = m.status ?? '';
    this._status.hidden = !m.status;
    const error = errorText(m.error);
    this._error.textContent = error ? `Error: ${error}` : '';
    this._error.hidden = !error;
    // what the answer says of itself, else what a button of this answer last said (a later
    // update of the message, e.g. the chat's refresh after an undo, must not wipe it)
    const local =
      this._localNotice?.id === m.id ? this._localNotice.text : null;
    const notice = answerNotice(m) ?? local;
    this._notice.textContent = notice ?? '';
    this._notice.hidden = !notice;
    this.toggleClass(
      'jp-mod-interrupted',
      m.role === 'assistant' && m.interrupted === true && !streaming
    );
    this._updateCitations();
    this._updateToolbar(streaming);
    this._updateContent();
  }

  private _updateContent(): void {
    const content = this._message.content;
    if (!this._visible) {
      // Cheap, safe placeholder until the message scrolls into view.
      if (this._plain.textContent !== content) {
        this._plain.textContent = content;
      }
      this._plain.hidden = false;
      this._renderer.node.hidden = true;
      this._segmentsNode.hidden = true;
      return;
    }
    if (
      content === this._renderedContent &&
      this._message.tool_calls === this._renderedCalls
    ) {
      return;
    }
    if (this._rendering) {
      this._dirty = true;
      return;
    }
    this._rendering = true;
    this._dirty = false;
    const streaming = this._message.done === false;
    if (streaming || this._renderedContent !== null) {
      void this._render();
    } else {
      // First render of a finished message: share the frame budget.
      renderQueue.enqueue(() => this._render());
    }
  }

  /** Render the current content through rendermime (sanitised: untrusted). */
  private async _render(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    const source = this._message.content;
    const calls = this._message.tool_calls;
    const pieces = segments(source, calls ?? []);
    const s = stats();
    s.markdownRenders++;
    s.byMessage[this._message.id] = (s.byMessage[this._message.id] ?? 0) + 1;
    const started = performance.now();
    await this._renderText(this._renderer, pieces[0].text, 0);
    await this._renderSegments(pieces);
    const ended = performance.now();
    this._nextRenderAt = ended + (ended - started);
    if (this.isDisposed) {
      return;
    }
    this._renderedContent = source;
    this._renderedCalls = calls;
    this._rendering = false;
    this._plain.hidden = true;
    this._plain.textContent = '';
    this._renderer.node.hidden = false;
    this._segmentsNode.hidden = false;
    if (this._message.role === 'assistant' && this.codeActions) {
      decorateCodeBlocks(this._renderer.node, this._commands);
      for (const renderer of this._moreRenderers) {
        decorateCodeBlocks(renderer.node, this._commands);
      }
    }
    this._actions.rendered(this);
    if (this._dirty || this._message.content !== this._renderedContent) {
      this._dirty = false;
      this._schedule();
    }
  }

  /** Render `text` as markdown into `renderer` (skipped when it shows that already). */
  private async _renderText(
    renderer: IRenderMime.IRenderer,
    text: string,
    index: number
  ): Promise<void> {
    if (this._segmentTexts[index] === text && index > 0) {
      return;
    }
    this._segmentTexts[index] = text;
    const model = new MimeModel({
      data: { 'text/markdown': text },
      trusted: false
    });
    try {
      await renderer.renderModel(model);
    } catch {
      renderer.node.textContent = text;
    }
  }

  /** The tool cards at their offsets, each followed by the text that came after them. */
  private async _renderSegments(
    pieces: { text: string; calls: IToolCall[] }[]
  ): Promise<void> {
    const nodes: HTMLElement[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < pieces.length - 1; i++) {
      const group = document.createElement('div');
      group.className = 'jp-OuiToolCalls';
      for (const call of pieces[i].calls) {
        let card = this._cards.get(call.id);
        if (!card) {
          card = document.createElement('details');
          this._cards.set(call.id, card);
        }
        seen.add(call.id);
        const decide = this._actions.approveTool
          ? (decision: ToolDecision) =>
              this._actions.approveTool?.(this._message.id, call.id, decision)
          : null;
        fillCard(card, call, decide);
        group.appendChild(card);
      }
      nodes.push(group);
      let renderer = this._moreRenderers[i];
      if (!renderer) {
        renderer = this._rendermime.createRenderer('text/markdown');
        renderer.addClass('jp-OuiMessage-markdown');
        this._moreRenderers[i] = renderer;
      }
      await this._renderText(renderer, pieces[i + 1].text, i + 1);
      nodes.push(renderer.node);
    }
    for (const id of [...this._cards.keys()]) {
      if (!seen.has(id)) {
        this._cards.delete(id);
      }
    }
    this._segmentsNode.replaceChildren(...nodes);
  }

  private _updateNav(): void {
    const { index, count } = this._position;
    const key = `${index}/${count}`;
    if (this._navKey === key) {
      return;
    }
    this._navKey = key;
    this._nav.replaceChildren();
    if (count <= 1) {
      return;
    }
    const prev = iconButton(
      caretLeftIcon,
      'Previous version',
      'jp-OuiMessage-prev'
    );
    prev.disabled = index === 0;
    prev.onclick = () => this._actions.switchBranch(this._message.id, -1);
    const label = document.createElement('span');
    label.className = 'jp-OuiMessage-branchLabel';
    label.textContent = `${index + 1}/${count}`;
    label.setAttribute('aria-label', `Version ${index + 1} of ${count}`);
    const next = iconButton(
      caretRightIcon,
      'Next version',
      'jp-OuiMessage-next'
    );
    next.disabled = index === count - 1;
    next.onclick = () => this._actions.switchBranch(this._message.id, 1);
    this._nav.append(prev, label, next);
  }

  private _updateFiles(): void {
    const files = this._message.files ?? [];
    if (files === this._shownFiles) {
      return;
    }
    this._shownFiles = files;
    if (this._message.role === 'assistant') {
      this._files.replaceChildren(
        ...files
          .filter(f => f.type === 'image' && typeof f.id === 'string' && f.id)
          .map(file => this._generatedImage(file))
      );
      return;
    }
    this._files.replaceChildren(
      ...files.map(file => {
        const chip = document.createElement('span');
        chip.className = 'jp-OuiChip';
        chip.textContent =
          file.type === 'collection' ? `Collection: ${file.name}` : file.name;
        chip.title =
          file.type === 'collection'
            ? 'Knowledge collection'
            : file.type === 'image'
              ? 'Attached image'
              : 'Attached file';
        if (file.type === 'image' && typeof file.id === 'string' && file.id) {
          // From the file's id through the files API: never a URL the message carries.
          chip.classList.add('jp-OuiChip-image');
          chip.prepend(thumbnail(file.id, file.name));
        }
        return chip;
      })
    );
  }

  /** A generated image: larger, click to enlarge, and a button that puts it in a notebook. */
  private _generatedImage(file: IMessageFile): HTMLElement {
    const figure = document.createElement('figure');
    figure.className = 'jp-OuiMessage-image';
    // From the file's id through the files API: never a URL the message carries.
    const img = thumbnail(file.id, file.name);
    img.classList.add('jp-OuiMessage-imageView');
    img.tabIndex = 0;
    img.title = `${file.name} (click to enlarge)`;
    const zoom = (): void => {
      figure.classList.toggle('jp-mod-expanded');
    };
    img.onclick = zoom;
    img.onkeydown = event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        zoom();
      }
    };
    const insert = button('Insert into notebook', 'jp-OuiMessage-insertImage');
    insert.title =
      'Add a cell below the active cell of the current notebook with this image as its output';
    insert.onclick = () =>
      void this._commands.execute(CommandIDs.insertImage, {
        id: file.id,
        name: file.name
      });
    figure.append(img, insert);
    return figure;
  }

  private _updateCitations(): void {
    const sources = this._message.sources;
    if (sources === this._shownSources) {
      return;
    }
    this._shownSources = sources;
    const unique = uniqueSources(sources ?? []);
    this._citations.replaceChildren();
    if (unique.length === 0) {
      return;
    }
    const label = document.createElement('span');
    label.className = 'jp-OuiMessage-citationsLabel';
    label.textContent = 'Sources';
    this._citations.appendChild(label);
    unique.forEach((source: ISource, i: number) => {
      const label = `${i + 1}. ${citationLabel(source)}`;
      const tooltip = source.snippet
        ? `${source.source}\n\n${source.snippet}`
        : source.source;
      if (source.openable === false) {
        const chip = document.createElement('span');
        chip.className = 'jp-OuiChip jp-OuiCitation jp-mod-static';
        chip.textContent = label;
        chip.title = tooltip;
        this._citations.appendChild(chip);
        return;
      }
      const chip = button(label, 'jp-OuiChip jp-OuiCitation');
      chip.title = tooltip;
      chip.setAttribute('aria-label', `Open source ${citationLabel(source)}`);
      chip.onclick = () =>
        void this._commands.execute(
          CommandIDs.openSource,
          source as unknown as ReadonlyPartialJSONObject
        );
      this._citations.appendChild(chip);
    });
  }

  /** Rebuild the actions (the server's audio features came in). */
  refreshActions(): void {
    this._toolbarKey = '';
    const m = this._message;
    this._updateToolbar(m.role === 'assistant' && m.done === false);
  }

  private _updateToolbar(streaming: boolean): void {
    const resumable = canContinue(this._message);
    const speech = audioFeatures().tts;
    const rating = this._message.annotation?.rating ?? 0;
    const score = this._message.annotation?.details?.rating ?? 0;
    const key = [
      this._message.role,
      streaming,
      resumable,
      this._rateable,
      this._message.arena === true,
      rating,
      score,
      speech,
      undoableTurn(this._message)
    ].join('/');
    if (this._toolbarKey === key) {
      return;
    }
    this._toolbarKey = key;
    this._toolbar.replaceChildren();
    if (streaming) {
      return;
    }
    const copy = button('Copy', 'jp-OuiMessage-copy');
    copy.setAttribute('aria-label', 'Copy message');
    copy.onclick = () =>
      void this._commands.execute(CommandIDs.copyCode, {
        code: this._message.content
      });
    this._toolbar.appendChild(copy);
    if (this._message.role === 'user') {
      const edit = button('Edit', 'jp-OuiMessage-editButton');
      edit.setAttribute('aria-label', 'Edit and resend');
      edit.onclick = () => this.edit();
      this._toolbar.appendChild(edit);
    } else if (this._message.role === 'assistant') {
      if (resumable) {
        const more = button('Continue', 'jp-OuiMessage-continue');
        more.setAttribute('aria-label', 'Continue answer');
        more.onclick = () => this._actions.continueAnswer(this._message.id);
        this._toolbar.appendChild(more);
      }
      // An arena turn is answered once, by both models: no regenerating one of them.
      if (!this._message.arena) {
        const again = button('Regenerate', 'jp-OuiMessage-regenerate');
        again.setAttribute('aria-label', 'Regenerate answer');
        again.onclick = () => this._actions.regenerate(this._message.id);
        this._toolbar.appendChild(again);
      }
      if (speech && this._message.content.trim()) {
        const aloud = button('Read aloud', 'jp-OuiMessage-readAloud');
        aloud.setAttribute('aria-label', 'Read answer aloud');
        aloud.onclick = () => {
          aloud.disabled = true;
          readAloud
            .toggle(this._message.id, this._message.content)
            .catch(error => this._showSpeechError(errorMessage(error)))
            .finally(() => {
              aloud.disabled = false;
            });
        };
        this._toolbar.appendChild(aloud);
      }
      if (this._rateable && undoableTurn(this._message)) {
        this._toolbar.appendChild(this._undoButton());
      }
      if (this._rateable) {
        this._toolbar.appendChild(this._ratingButtons(rating, score));
      }
    }
  }

  /** Thumbs up and down; a thumb opens the 1-10 rating and comment form. */
  private _ratingButtons(rating: number, score: number): HTMLElement {
    const group = document.createElement('span');
    group.className = 'jp-OuiRating';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'Rate this answer');
    const thumb = (value: 1 | -1, label: string) => {
      const b = iconButton(
        value > 0 ? thumbUpIcon : thumbDownIcon,
        label,
        `jp-OuiRating-thumb jp-OuiRating-${value > 0 ? 'up' : 'down'}`
      );
      b.setAttribute('aria-pressed', rating === value ? 'true' : 'false');
      b.onclick = () => {
        void this._actions.rate(this._message.id, { rating: value });
        this._openRatingForm(value);
      };
      return b;
    };
    group.append(thumb(1, 'Good answer'), thumb(-1, 'Bad answer'));
    if (score) {
      const summary = document.createElement('span');
      summary.className = 'jp-OuiRating-summary';
      summary.textContent = `${score}/10`;
      group.appendChild(summary);
    }
    return group;
  }

  /** Open WebUI's rating form: 1-10, a comment, Save. */
  private _openRatingForm(rating: 1 | -1): void {
    this._ratingForm?.remove();
    const form = document.createElement('form');
    form.className = 'jp-OuiRating-form';
    form.setAttribute('aria-label', 'Rating details');
    const title = document.createElement('div');
    title.className = 'jp-OuiRating-formTitle';
    title.textContent =
      rating > 0 ? 'What was good? Rate 1-10' : 'What went wrong? Rate 1-10';
    const scale = document.createElement('div');
    scale.className = 'jp-OuiRating-scale';
    scale.setAttribute('role', 'group');
    scale.setAttribute('aria-label', 'Rating from 1 to 10');
    let score: number | null =
      this._message.annotation?.details?.rating ?? null;
    const choices: HTMLButtonElement[] = [];
    for (let n = 1; n <= 10; n++) {
      const choice = button(String(n), 'jp-OuiRating-score');
      choice.type = 'button';
      choice.setAttribute('aria-label', `${n} out of 10`);
      choice.setAttribute('aria-pressed', score === n ? 'true' : 'false');
      choice.onclick = () => {
        score = n;
        choices.forEach((c, i) =>
          c.setAttribute('aria-pressed', i + 1 === n ? 'true' : 'false')
        );
      };
      choices.push(choice);
    }
    scale.append(...choices);
    const comment = document.createElement('textarea');
    comment.className = 'jp-mod-styled jp-OuiRating-comment';
    comment.maxLength = MAX_COMMENT;
    comment.placeholder = 'Feel free to add specific details';
    comment.setAttribute('aria-label', 'Comment');
    comment.value = this._message.annotation?.comment ?? '';
    const save = button('Save', 'jp-mod-accept jp-OuiRating-save');
    save.type = 'submit';
    const cancel = button('Close', 'jp-OuiRating-close');
    cancel.type = 'button';
    cancel.onclick = () => this._closeRatingForm();
    form.onsubmit = event => {
      event.preventDefault();
      const value: IRating = { rating, score, comment: comment.value.trim() };
      void this._actions.rate(this._message.id, value).then(saved => {
        if (saved) {
          this._closeRatingForm();
        }
      });
    };
    const row = document.createElement('div');
    row.className = 'jp-OuiRating-formButtons';
    row.append(cancel, save);
    form.append(title, scale, comment, row);
    this._toolbar.after(form);
    this._ratingForm = form;
  }

  private _closeRatingForm(): void {
    this._ratingForm?.remove();
    this._ratingForm = null;
  }

  /** "Undo this turn": the notebooks the answer's tool calls changed go back. */
  private _undoButton(): HTMLElement {
    const undo = button('Undo this turn', 'jp-OuiMessage-undo');
    undo.setAttribute('aria-label', 'Undo the notebook changes of this answer');
    undo.onclick = () => {
      undo.disabled = true;
      this._actions
        .undoTurn(this._message.id)
        .then(text => this._showNotice(text))
        .catch(error => {
          this._showNotice(`Could not undo: ${errorMessage(error)}`);
          undo.disabled = false;
        });
    };
    return undo;
  }

  private _showNotice(text: string): void {
    this._localNotice = { id: this._message.id, text };
    this._notice.textContent = text;
    this._notice.hidden = false;
  }

  private _showSpeechError(message: string): void {
    this._showNotice(`Could not read aloud: ${message}`);
  }

  private _rendermime: IRenderMimeRegistry;
  private _commands: CommandRegistry;
  private _actions: IMessageActions;
  private _renderer: IRenderMime.IRenderer;
  private _message!: IHistoryMessage;
  private _position = { index: 0, count: 1 };
  private _header: HTMLElement;
  private _role: HTMLElement;
  private _nav: HTMLElement;
  private _files: HTMLElement;
  private _body: HTMLElement;
  private _plain: HTMLElement;
  private _status: HTMLElement;
  private _error: HTMLElement;
  private _notice: HTMLElement;
  private _localNotice: { id: string; text: string } | null = null;
  private _citations: HTMLElement;
  private _toolbar: HTMLElement;
  private _editor: HTMLFormElement | null = null;
  private _ratingForm: HTMLFormElement | null = null;
  private _rateable = false;
  private _arenaTitle: string | null = null;
  private _frame = 0;
  private _timer = 0;
  private _nextRenderAt = 0;
  private _visible = false;
  private _rendering = false;
  private _dirty = false;
  private _renderedContent: string | null = null;
  private _renderedCalls: IToolCall[] | undefined = undefined;
  private _segmentsNode: HTMLElement;
  private _moreRenderers: IRenderMime.IRenderer[] = [];
  private _segmentTexts: string[] = [];
  private _cards = new Map<string, HTMLDetailsElement>();
  private _navKey = '';
  private _toolbarKey = '';
  private _shownSources: ISource[] | undefined | null = null;
  private _shownFiles: unknown = null;
}

export namespace MessageWidget {
  export interface IOptions {
    message: IHistoryMessage;
    position: { index: number; count: number };
    rendermime: IRenderMimeRegistry;
    commands: CommandRegistry;
    actions: IMessageActions;
    codeActions: boolean;
    /** Who wrote the user messages; "You" by default. */
    userLabel?: string;
  }
}
