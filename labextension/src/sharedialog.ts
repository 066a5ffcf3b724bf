import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

const UNSHARE = 'Unshare';

/**
 * Show a chat's share link (already copied to the clipboard); whether the
 * user chose to end the link instead.
 */
export async function showShareDialog(
  link: string,
  title: string,
  copied: boolean
): Promise<boolean> {
  const result = await showDialog({
    title: `Share "${title}"`,
    body: new ShareBody(link, copied),
    buttons: [
      Dialog.warnButton({
        label: UNSHARE,
        caption: 'End this link: it stops opening the chat'
      }),
      Dialog.okButton({ label: 'Done' })
    ],
    defaultButton: 1
  });
  return result.button.label === UNSHARE;
}

/** The dialog's body: what the link gives, and the link itself (selectable). */
class ShareBody extends Widget {
  constructor(link: string, copied: boolean) {
    super();
    this.addClass('jp-OuiShareDialog');
    const note = document.createElement('p');
    note.textContent =
      'Anyone on the team with this link can read a snapshot of the chat as ' +
      'it is now, and clone it into their own chats.' +
      (copied ? ' The link is copied to the clipboard.' : '');
    const input = document.createElement('input');
    input.type = 'text';
    input.readOnly = true;
    input.value = link;
    input.className = 'jp-mod-styled jp-OuiShareDialog-link';
    input.setAttribute('aria-label', 'Share link');
    input.onfocus = () => input.select();
    this.node.append(note, input);
  }
}
