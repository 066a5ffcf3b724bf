import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Contents } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import type { ISource } from './api';
import type { IImageAttachment } from './images';
import { ChatController } from './controller';
import { chatIcon } from './icons';
import { openSource } from './opensource';
import { shareLink, takeShareParam } from './share';
import { ChatSidebar } from './sidebar';
import { revertIfClean } from './undo';
import {
  CommandIDs,
  DEFAULT_SETTINGS,
  IChatContext,
  IChatSettings,
  IOuiChat
} from './tokens';

const CATEGORY = 'Open WebUI';

/** Build the sidebar, its commands and settings; provide `IOuiChat`. */
export function activateSidebar(
  app: JupyterFrontEnd,
  pluginId: string,
  rendermime: IRenderMimeRegistry,
  restorer: ILayoutRestorer | null,
  settingRegistry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  docManager: IDocumentManager | null
): IOuiChat {
  const controller = new ChatController();
  const contents = app.serviceManager.contents;
  let outputSource: (() => IImageAttachment | null) | null = null;
  const sidebar = new ChatSidebar({
    controller,
    rendermime,
    commands: app.commands,
    readPath: path => readBlob(contents, path),
    outputImage: () => outputSource?.() ?? null,
    shareLink: shareId =>
      shareLink(shareId, {
        origin: window.location.origin,
        baseUrl: PageConfig.getOption('baseUrl') || '/',
        hubPrefix: PageConfig.getOption('hubPrefix'),
        hubUser: PageConfig.getOption('hubUser'),
        hubHost: PageConfig.getOption('hubHost')
      }),
    copy: text => Clipboard.copyToSystem(text)
  });
  app.shell.add(sidebar, 'left', { rank: 650 });
  if (docManager) {
    // An agent's edit or an undo wrote a notebook: show it, unless the user has unsaved work.
    controller.notebookChanged.connect((_, path) => {
      revertIfClean(docManager, path).catch(error =>
        console.warn(`oui: could not reload ${path}`, error)
      );
    });
  }
  restorer?.add(sidebar, 'oui-jupyter-sidebar');

  const reveal = (): void => {
    app.shell.activateById(sidebar.id);
  };

  app.commands.addCommand(CommandIDs.open, {
    label: 'Open WebUI Chat',
    caption: 'Open the Open WebUI chat sidebar',
    icon: chatIcon,
    execute: () => {
      reveal();
      sidebar.focusInput();
    }
  });
  app.commands.addCommand(CommandIDs.newChat, {
    label: 'New Open WebUI Chat',
    caption: 'Start a new chat in the sidebar',
    execute: () => {
      reveal();
      sidebar.newChat();
    }
  });
  app.commands.addCommand(CommandIDs.openShared, {
    label: 'Open Shared Chat…',
    caption: 'Open a chat shared by link (read-only; clone it to continue)',
    execute: async args => {
      let ref = typeof args.link === 'string' ? args.link : '';
      if (!ref) {
        const result = await InputDialog.getText({
          title: 'Open shared chat',
          placeholder: 'A share link or id',
          okLabel: 'Open'
        });
        if (!result.button.accept || !result.value?.trim()) {
          return;
        }
        ref = result.value;
      }
      reveal();
      await sidebar.openShared(ref);
    }
  });
  app.commands.addCommand(CommandIDs.copyCode, {
    label: 'Copy Code',
    caption: 'Copy to the clipboard',
    execute: args => {
      Clipboard.copyToSystem(String(args.code ?? ''));
      Notification.info('Copied to the clipboard', { autoClose: 1500 });
    }
  });
  app.commands.addCommand(CommandIDs.openSource, {
    label: 'Open Cited Source',
    caption: 'Open the file at the cited cell or line',
    execute: async args => {
      if (!docManager) {
        return;
      }
      try {
        await openSource(docManager, app, args as unknown as ISource);
      } catch (error) {
        Notification.error(
          `Could not open ${String(args.source)}: ${error instanceof Error ? error.message : String(error)}`
        );
      }
    }
  });
  palette?.addItem({ command: CommandIDs.open, category: CATEGORY });
  palette?.addItem({ command: CommandIDs.newChat, category: CATEGORY });
  palette?.addItem({ command: CommandIDs.openShared, category: CATEGORY });

  // A share link opens the lab with `?oui-share=<id>`: show that snapshot, and
  // reveal the sidebar once the layout is restored (which decides the left area).
  const shared = takeShareParam(window);
  if (shared !== null) {
    void sidebar.openShared(shared);
    void app.restored.then(reveal);
  }

  if (settingRegistry) {
    void settingRegistry
      .load(pluginId)
      .then(settings => {
        const apply = (): void => {
          controller.settings = readSettings(settings.composite);
        };
        settings.changed.connect(apply);
        apply();
        void controller.loadModels();
      })
      .catch(() => {
        controller.settings = DEFAULT_SETTINGS;
      });
  }

  return {
    open: () => {
      reveal();
      sidebar.focusInput();
    },
    addContext: (context: IChatContext) => {
      reveal();
      sidebar.addContext(context);
    },
    ask: async (prompt: string, context: IChatContext[] = []) => {
      reveal();
      if (!sidebar.showingChat) {
        sidebar.newChat();
      }
      const text = [prompt, ...context.map(c => `${c.label}:\n${c.text}`)].join(
        '\n\n'
      );
      await controller.send(text);
    },
    attachImage: async (image: IImageAttachment) => {
      reveal();
      await sidebar.attachImage(image);
    },
    setOutputImageSource: source => {
      outputSource = source;
    },
    setNotebookPathSource: source => {
      controller.notebookPath = source;
    }
  };
}

function readSettings(composite: unknown): IChatSettings {
  const value = (composite ?? {}) as Partial<IChatSettings>;
  return {
    defaultModel:
      typeof value.defaultModel === 'string'
        ? value.defaultModel
        : DEFAULT_SETTINGS.defaultModel,
    sendWith: value.sendWith === 'Shift Enter' ? 'Shift Enter' : 'Enter',
    workspaceKnowledge:
      typeof value.workspaceKnowledge === 'boolean'
        ? value.workspaceKnowledge
        : DEFAULT_SETTINGS.workspaceKnowledge,
    codeActions:
      typeof value.codeActions === 'boolean'
        ? value.codeActions
        : DEFAULT_SETTINGS.codeActions
  };
}

/** A workspace file as a Blob, through the contents API. */
async function readBlob(
  contents: Contents.IManager,
  path: string
): Promise<Blob> {
  const model = await contents.get(path, { content: true });
  if (model.type === 'directory') {
    throw new Error('folders cannot be attached');
  }
  if (model.format === 'base64') {
    const bytes = Uint8Array.from(atob(String(model.content)), ch =>
      ch.charCodeAt(0)
    );
    return new Blob([bytes], {
      type: model.mimetype || 'application/octet-stream'
    });
  }
  if (model.format === 'json') {
    return new Blob([JSON.stringify(model.content)], {
      type: 'application/json'
    });
  }
  return new Blob([String(model.content)], {
    type: model.mimetype || 'text/plain'
  });
}
