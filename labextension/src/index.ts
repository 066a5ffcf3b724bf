import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'oui-jupyter:sidebar',
  description: 'Open WebUI chat sidebar.',
  autoStart: true,
  activate: (_app: JupyterFrontEnd): void => {
    return;
  }
};

export default plugin;
