import { LabIcon } from '@jupyterlab/ui-components';

const chatSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9.4L5 21.6V18H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"/>
</svg>`;

const pinSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M16 3l5 5-2 1-3 3 1 5-2 2-4-4-5 6-1-1 6-5-4-4 2-2 5 1 3-3z"/>
</svg>`;

export const chatIcon = new LabIcon({
  name: 'oui-jupyter:chat',
  svgstr: chatSvg
});
export const pinIcon = new LabIcon({ name: 'oui-jupyter:pin', svgstr: pinSvg });
