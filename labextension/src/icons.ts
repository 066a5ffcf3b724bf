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

// Material Design's thumb_up / thumb_down (Apache 2.0), as JupyterLab's own icons.
const thumbUpSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"/>
</svg>`;

const thumbDownSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z"/>
</svg>`;

export const thumbUpIcon = new LabIcon({
  name: 'oui-jupyter:thumb-up',
  svgstr: thumbUpSvg
});
export const thumbDownIcon = new LabIcon({
  name: 'oui-jupyter:thumb-down',
  svgstr: thumbDownSvg
});
