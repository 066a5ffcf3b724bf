import { Token } from '@lumino/coreutils';

import type { IImageAttachment } from './images';

/** Ids of the commands the extension registers. */
export namespace CommandIDs {
  export const open = 'oui-jupyter:open';
  export const newChat = 'oui-jupyter:new-chat';
  export const openShared = 'oui-jupyter:open-shared';
  export const copyCode = 'oui-jupyter:copy-code';
  export const insertBelow = 'oui-jupyter:insert-cell-below';
  export const replaceCell = 'oui-jupyter:replace-active-cell';
  export const insertAndRun = 'oui-jupyter:insert-and-run';
  export const openSource = 'oui-jupyter:open-source';
  export const askSelection = 'oui-jupyter:ask-about-selection';
  export const askCell = 'oui-jupyter:ask-about-cell';
  export const explainError = 'oui-jupyter:explain-error';
  export const askOutput = 'oui-jupyter:ask-about-output';
  export const insertImage = 'oui-jupyter:insert-image';
}

/** A piece of workspace context sent with the next message. */
export interface IChatContext {
  /** Short label shown on the chip, e.g. "analysis.ipynb, cell 3". */
  label: string;
  /** The text sent to the model. */
  text: string;
}

/** The chat sidebar, for other plugins to feed it. */
export interface IOuiChat {
  /** Reveal the sidebar and focus its input. */
  open(): void;
  /** Attach context to the next message and focus the input. */
  addContext(context: IChatContext): void;
  /** Send `prompt` (with optional context) in the open chat, or a new one. */
  ask(prompt: string, context?: IChatContext[]): Promise<void>;
  /** Attach an image (a cell's output) to the next message and reveal the sidebar. */
  attachImage(image: IImageAttachment): Promise<void>;
  /** Where the composer's attach-output button takes the active cell's image from. */
  setOutputImageSource(source: () => IImageAttachment | null): void;
  /** Where turns that use tools take the current notebook's path from. */
  setNotebookPathSource(source: () => string | null): void;
}

export const IOuiChat = new Token<IOuiChat>(
  'oui-jupyter:IOuiChat',
  'The Open WebUI chat sidebar.'
);

/** The sidebar's settings (schema/plugin.json). */
export interface IChatSettings {
  defaultModel: string;
  sendWith: 'Enter' | 'Shift Enter';
  workspaceKnowledge: boolean;
  codeActions: boolean;
}

export const DEFAULT_SETTINGS: IChatSettings = {
  defaultModel: '',
  sendWith: 'Enter',
  workspaceKnowledge: true,
  codeActions: true
};
