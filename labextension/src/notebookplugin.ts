import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { CodeEditor } from '@jupyterlab/codeeditor';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { Cell, CodeCell } from '@jupyterlab/cells';

import { basename, fenced, hasError, IOutputLike, outputsText } from './format';
import {
  dataUrlBlob,
  fetchImage,
  IImageAttachment,
  IImageOutput,
  imageOutput,
  IOutputJSON,
  lastImageOutput
} from './images';
import { errorMessage } from './handler';
import { CommandIDs, IChatContext, IOuiChat } from './tokens';

/** Code-block actions on notebooks and the "Ask about..." context menu commands. */
export function activateNotebookActions(
  app: JupyterFrontEnd,
  chat: IOuiChat,
  notebooks: INotebookTracker,
  editors: IEditorTracker | null
): void {
  const { commands } = app;

  const target = (): NotebookPanel | null => {
    const panel = notebooks.currentWidget;
    if (!panel) {
      Notification.warning(
        'Open a notebook first: the code goes into its active cell.'
      );
      return null;
    }
    return panel;
  };
  const codeOf = (args: { code?: unknown }): string => String(args.code ?? '');

  commands.addCommand(CommandIDs.insertBelow, {
    label: 'Insert Code as a New Cell Below',
    caption: 'Insert the code below the active cell of the current notebook',
    execute: args => {
      const panel = target();
      if (panel) {
        insertBelow(panel, codeOf(args));
        app.shell.activateById(panel.id);
      }
    }
  });
  commands.addCommand(CommandIDs.insertImage, {
    label: 'Insert Image into Notebook',
    caption:
      'Add a cell below the active cell of the current notebook that shows the image',
    execute: async args => {
      const panel = notebooks.currentWidget;
      if (!panel) {
        Notification.warning(
          'Open a notebook first: the image goes below its active cell.'
        );
        return;
      }
      const id = String(args.id ?? '');
      try {
        const blob = await fetchImage(id);
        const output = imageOutput(
          new Uint8Array(await blob.arrayBuffer()),
          blob.type
        );
        insertOutputCell(panel, output);
        app.shell.activateById(panel.id);
      } catch (error) {
        Notification.error(
          `Could not insert the image: ${errorMessage(error)}`
        );
      }
    }
  });
  commands.addCommand(CommandIDs.replaceCell, {
    label: 'Replace the Active Cell with Code',
    caption: 'Replace the source of the active cell of the current notebook',
    execute: args => {
      const panel = target();
      const cell = panel?.content.activeCell;
      if (panel && cell) {
        cell.model.sharedModel.setSource(codeOf(args));
        app.shell.activateById(panel.id);
      }
    }
  });
  commands.addCommand(CommandIDs.insertAndRun, {
    label: 'Insert Code Below and Run It',
    caption: 'Insert the code below the active cell and run it',
    execute: async args => {
      const panel = target();
      if (panel) {
        insertBelow(panel, codeOf(args));
        app.shell.activateById(panel.id);
        await NotebookActions.run(panel.content, panel.sessionContext);
      }
    }
  });

  const activeCellContext = (withOutputs: boolean): IChatContext | null => {
    const panel = notebooks.currentWidget;
    const cell = notebooks.activeCell;
    if (!panel || !cell) {
      return null;
    }
    return cellContext(panel, cell, withOutputs);
  };

  commands.addCommand(CommandIDs.askSelection, {
    label: 'Ask about Selection',
    caption: 'Send the selected text to the Open WebUI chat',
    execute: () => {
      const context = selectionContext(app, notebooks, editors);
      if (context) {
        chat.addContext(context);
      } else {
        Notification.warning(
          'Select some text in a notebook cell or an editor first.'
        );
      }
    }
  });
  commands.addCommand(CommandIDs.askCell, {
    label: 'Ask about This Cell',
    caption: 'Send the cell and its outputs to the Open WebUI chat',
    execute: () => {
      const context = activeCellContext(true);
      if (context) {
        chat.addContext(context);
      }
    }
  });
  commands.addCommand(CommandIDs.explainError, {
    label: 'Explain This Error',
    caption: 'Ask the Open WebUI chat to explain the error of this cell',
    isVisible: () => {
      const cell = notebooks.activeCell;
      return (
        cell instanceof CodeCell &&
        hasError(cell.model.outputs.toJSON() as IOutputLike[])
      );
    },
    execute: async () => {
      const context = activeCellContext(true);
      if (context) {
        await chat.ask('Explain this error and how to fix it.', [context]);
      }
    }
  });

  /** The image output of the active cell (its last one), named after the notebook. */
  const activeCellImage = (): IImageAttachment | null => {
    const panel = notebooks.currentWidget;
    const cell = notebooks.activeCell;
    if (!panel || !(cell instanceof CodeCell)) {
      return null;
    }
    const index = panel.content.widgets.indexOf(cell);
    const name = `${basename(panel.context.path).replace(/\.ipynb$/, '')}-cell${index + 1}`;
    return lastImageOutput(cell.model.outputs.toJSON() as IOutputJSON[], name);
  };
  chat.setOutputImageSource(activeCellImage);
  chat.setNotebookPathSource(
    () => notebooks.currentWidget?.context.path ?? null
  );

  commands.addCommand(CommandIDs.askOutput, {
    label: 'Ask about This Output',
    caption: 'Attach this image output to a message in the Open WebUI chat',
    execute: async () => {
      // The image right-clicked on; else (a keyboard-opened menu) the active cell's.
      const node = app.contextMenuHitTest(
        n => n.classList.contains('jp-RenderedImage') || n.tagName === 'IMG'
      );
      const img =
        node?.tagName === 'IMG' ? node : (node?.querySelector('img') ?? null);
      const blob = img ? dataUrlBlob((img as HTMLImageElement).src) : null;
      const panel = notebooks.currentWidget;
      const image = blob
        ? {
            blob,
            name: `${basename(panel?.context.path ?? 'output').replace(/\.ipynb$/, '')}-output.${blob.type.split('/')[1]}`
          }
        : activeCellImage();
      if (!image) {
        Notification.warning('No image output to attach here.');
        return;
      }
      await chat.attachImage(image);
    }
  });

  // One group, set apart, after the cell's own commands. (Without a selection,
  // "Ask about Selection" takes the cell's source.)
  const cell = '.jp-Notebook .jp-Cell';
  app.contextMenu.addItem({ type: 'separator', selector: cell, rank: 69 });
  app.contextMenu.addItem({
    command: CommandIDs.askSelection,
    selector: cell,
    rank: 70
  });
  app.contextMenu.addItem({
    command: CommandIDs.askCell,
    selector: cell,
    rank: 71
  });
  app.contextMenu.addItem({
    command: CommandIDs.explainError,
    selector: cell,
    rank: 72
  });
  app.contextMenu.addItem({
    command: CommandIDs.askOutput,
    selector: '.jp-Notebook .jp-RenderedImage',
    rank: 73
  });
  app.contextMenu.addItem({
    type: 'separator',
    selector: '.jp-FileEditor',
    rank: 69
  });
  app.contextMenu.addItem({
    command: CommandIDs.askSelection,
    selector: '.jp-FileEditor',
    rank: 70
  });
}

function insertBelow(panel: NotebookPanel, code: string): void {
  const notebook = panel.content;
  if (notebook.widgets.length === 0) {
    notebook.model?.sharedModel.insertCell(0, {
      cell_type: 'code',
      source: code
    });
    notebook.activeCellIndex = 0;
    return;
  }
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(code);
}

/** A new code cell below the active one (first when empty) whose output is `output`. */
function insertOutputCell(panel: NotebookPanel, output: IImageOutput): void {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return;
  }
  const index =
    notebook.widgets.length === 0 ? 0 : notebook.activeCellIndex + 1;
  model.sharedModel.insertCell(index, {
    cell_type: 'code',
    source: '',
    metadata: {},
    outputs: [output]
  });
  notebook.activeCellIndex = index;
}

function cellContext(
  panel: NotebookPanel,
  cell: Cell,
  withOutputs: boolean
): IChatContext {
  const index = panel.content.widgets.indexOf(cell);
  const language = cell.model.type === 'code' ? 'python' : 'markdown';
  let text = fenced(cell.model.sharedModel.getSource(), language);
  if (withOutputs && cell instanceof CodeCell) {
    const outputs = outputsText(cell.model.outputs.toJSON() as IOutputLike[]);
    if (outputs) {
      text += `\n\nOutput:\n${fenced(outputs)}`;
    }
  }
  return { label: `${basename(panel.context.path)}, cell ${index + 1}`, text };
}

function selectedText(editor: CodeEditor.IEditor): string {
  const selection = editor.getSelection();
  const source = editor.model.sharedModel.getSource();
  const a = editor.getOffsetAt(selection.start);
  const b = editor.getOffsetAt(selection.end);
  return source.slice(Math.min(a, b), Math.max(a, b));
}

function selectionContext(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  editors: IEditorTracker | null
): IChatContext | null {
  const current = app.shell.currentWidget;
  const fileEditor = editors?.currentWidget;
  if (fileEditor && current === fileEditor) {
    const editor = fileEditor.content.editor;
    const text = selectedText(editor) || editor.model.sharedModel.getSource();
    const line = editor.getSelection().start.line + 1;
    return {
      label: `${basename(fileEditor.context.path)}, line ${line}`,
      text: fenced(text)
    };
  }
  const panel = notebooks.currentWidget;
  const cell = notebooks.activeCell;
  if (panel && cell?.editor) {
    const text = selectedText(cell.editor);
    if (!text) {
      return cellContext(panel, cell, false);
    }
    const index = panel.content.widgets.indexOf(cell);
    return {
      label: `${basename(panel.context.path)}, cell ${index + 1} (selection)`,
      text: fenced(text)
    };
  }
  return null;
}
