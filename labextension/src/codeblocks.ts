import { CommandRegistry } from '@lumino/commands';

import { CommandIDs } from './tokens';

const ACTIONS: { label: string; command: string; title: string }[] = [
  { label: 'Copy', command: CommandIDs.copyCode, title: 'Copy the code' },
  {
    label: 'Insert',
    command: CommandIDs.insertBelow,
    title: 'Insert as a new cell below the active cell'
  },
  {
    label: 'Replace',
    command: CommandIDs.replaceCell,
    title: 'Replace the active cell'
  },
  {
    label: 'Run',
    command: CommandIDs.insertAndRun,
    title: 'Insert below the active cell and run it'
  }
];

/** Add copy / insert / replace / run buttons above every code block under `host`. */
export function decorateCodeBlocks(
  host: HTMLElement,
  commands: CommandRegistry
): void {
  host.querySelectorAll('pre').forEach(pre => {
    const previous = pre.previousElementSibling;
    if (previous?.classList.contains('jp-OuiCodeActions')) {
      return;
    }
    const code = (pre.querySelector('code') ?? pre).textContent ?? '';
    const bar = document.createElement('div');
    bar.className = 'jp-OuiCodeActions';
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', 'Code block actions');
    for (const action of ACTIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'jp-OuiButton jp-OuiCodeAction';
      b.dataset.command = action.command;
      b.textContent = action.label;
      b.title = action.title;
      b.onclick = () =>
        void commands.execute(action.command, {
          code: code.replace(/\n$/, '')
        });
      bar.appendChild(b);
    }
    pre.before(bar);
  });
}
