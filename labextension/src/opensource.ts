import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { FileEditor } from '@jupyterlab/fileeditor';
import { NotebookPanel } from '@jupyterlab/notebook';

import type { ISource } from './api';

/**
 * Open a cited file and bring the cited cell (notebooks) or lines (text
 * files) into view.
 */
export async function openSource(
  docManager: IDocumentManager,
  app: JupyterFrontEnd,
  source: ISource
): Promise<void> {
  const widget = docManager.openOrReveal(source.source);
  if (!widget) {
    throw new Error('no viewer for this file');
  }
  await widget.context.ready;
  await widget.revealed;
  app.shell.activateById(widget.id);
  if (widget instanceof NotebookPanel) {
    const notebook = widget.content;
    const cells = notebook.widgets;
    let index = -1;
    if (source.cell_id) {
      index = cells.findIndex(cell => cell.model.id === source.cell_id);
    }
    if (index < 0 && typeof source.cell === 'number') {
      index = source.cell;
    }
    if (index >= 0 && index < cells.length) {
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      notebook.mode = 'command';
      await notebook.scrollToCell(cells[index], 'center');
      flash(cells[index].node);
    }
    return;
  }
  const content = (widget as { content?: unknown }).content;
  if (content instanceof FileEditor && typeof source.start_line === 'number') {
    const editor = content.editor;
    const start = Math.max(0, source.start_line - 1);
    const end = Math.max(start, (source.end_line ?? source.start_line) - 1);
    editor.setSelection({
      start: { line: start, column: 0 },
      end: { line: end, column: editor.getLine(end)?.length ?? 0 }
    });
    editor.revealPosition({ line: start, column: 0 });
    editor.focus();
  }
}

/** Briefly highlight the cited cell. */
function flash(node: HTMLElement): void {
  node.classList.add('jp-OuiCited');
  window.setTimeout(() => node.classList.remove('jp-OuiCited'), 2500);
}
