import { LabIcon } from '@jupyterlab/ui-components';

/** A themed button with a text label. */
export function button(label: string, className = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `jp-OuiButton ${className}`.trim();
  b.textContent = label;
  return b;
}

/**
 * A themed button showing a JupyterLab icon, labelled for screen readers
 * (`label`) and with a tooltip; `text` adds a visible label after the icon.
 */
export function iconButton(
  icon: LabIcon,
  label: string,
  className = '',
  text = ''
): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `jp-OuiButton jp-OuiIconButton ${className}`.trim();
  b.title = label;
  b.setAttribute('aria-label', label);
  b.appendChild(
    icon.element({ tag: 'span', className: 'jp-OuiIconButton-icon' })
  );
  if (text) {
    const span = document.createElement('span');
    span.textContent = text;
    b.appendChild(span);
  }
  return b;
}
