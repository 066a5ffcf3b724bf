import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { activateNotebookActions } from './notebookplugin';
import { activateSidebar } from './sidebarplugin';
import { installSourceLinks } from './sourcelinks';
import { IOuiChat } from './tokens';

/**
 * The chat sidebar: chat list, chat view, model picker, live streaming,
 * settings (schema/plugin.json).
 */
const sidebar: JupyterFrontEndPlugin<IOuiChat> = {
  id: 'oui-jupyter:plugin',
  description: 'The Open WebUI chat sidebar and its settings.',
  autoStart: true,
  provides: IOuiChat,
  requires: [IRenderMimeRegistry],
  optional: [
    ILayoutRestorer,
    ISettingRegistry,
    ICommandPalette,
    IDocumentManager
  ],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    docManager: IDocumentManager | null
  ): IOuiChat =>
    activateSidebar(
      app,
      sidebar.id,
      rendermime,
      restorer,
      settingRegistry,
      palette,
      docManager
    )
};

/**
 * Code-block actions into notebooks, and "Ask about selection / this cell",
 * "Explain this error" in the notebook and editor context menus.
 */
const notebookActions: JupyterFrontEndPlugin<void> = {
  id: 'oui-jupyter:notebook-actions',
  description:
    'Insert and run chat code in notebooks; ask the chat about cells and errors.',
  autoStart: true,
  requires: [IOuiChat, INotebookTracker],
  optional: [IEditorTracker],
  activate: (
    app: JupyterFrontEnd,
    chat: IOuiChat,
    notebooks: INotebookTracker,
    editors: IEditorTracker | null
  ): void => activateNotebookActions(app, chat, notebooks, editors)
};

/**
 * Links to workspace files in `%oui search` and SearchWidget outputs open in
 * the app the user is in (JupyterLab or Notebook 7).
 */
const sourceLinks: JupyterFrontEndPlugin<void> = {
  id: 'oui-jupyter:source-links',
  description:
    'Open the workspace files that notebook search results link to, in this app.',
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => installSourceLinks(app)
};

export default [sidebar, notebookActions, sourceLinks];
