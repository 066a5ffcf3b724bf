import { JupyterFrontEnd } from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';

import type { ISource } from './api';
import { CommandIDs } from './tokens';

/**
 * The cited place a link in a notebook output carries as `data-oui-*`
 * attributes (`oui_jupyter/notebook/render.py`), or `null`.
 */
export function sourceOfLink(link: HTMLElement): ISource | null {
  const source = link.dataset.ouiSource;
  if (!source) {
    return null;
  }
  const whole = (value?: string): number | null =>
    value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
  return {
    source,
    cell: whole(link.dataset.ouiCell),
    start_line: whole(link.dataset.ouiStartLine),
    end_line: whole(link.dataset.ouiEndLine)
  };
}

/** Where Notebook 7 shows a file: a notebook in its own page, any other file in its editor. */
export function notebookAppUrl(baseUrl: string, path: string): string {
  const route = path.endsWith('.ipynb') ? 'notebooks' : 'edit';
  return URLExt.join(baseUrl, route, URLExt.encodeParts(path));
}

/**
 * Links to workspace files in the outputs of `%oui search` and the
 * SearchWidget name JupyterLab (the kernel cannot know the app): in
 * JupyterLab a click opens the file here, at the cited cell or lines; in
 * Notebook 7 the link is pointed at Notebook 7's own page for the file.
 */
export function installSourceLinks(app: JupyterFrontEnd): void {
  const inLab = app.name === 'JupyterLab';
  const onClick = (event: MouseEvent): void => {
    const target = event.target as Element | null;
    const link = target?.closest?.(
      'a[data-oui-source]'
    ) as HTMLAnchorElement | null;
    const source = link ? sourceOfLink(link) : null;
    if (!link || !source) {
      return;
    }
    const plainClick =
      event.button === 0 &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.shiftKey &&
      !event.altKey;
    if (inLab && plainClick && app.commands.hasCommand(CommandIDs.openSource)) {
      event.preventDefault();
      void app.commands.execute(CommandIDs.openSource, { ...source });
      return;
    }
    if (!inLab) {
      link.href = notebookAppUrl(PageConfig.getBaseUrl(), source.source);
    }
  };
  document.addEventListener('click', onClick, true);
  document.addEventListener('auxclick', onClick, true);
}
