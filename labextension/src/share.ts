/**
 * Share links: building them for the page the user is on, and reading them
 * back (from the address or from text the user pastes). No JupyterLab
 * imports: the page's settings come in as arguments.
 */

/** The query parameter a share link carries. */
export const SHARE_PARAM = 'oui-share';

/** Share ids as the server makes and routes them (`[\w-]{1,64}`). */
const SHARE_ID = /^[\w-]{1,64}$/;

/** Where the page is served from (PageConfig and `location`). */
export interface ILinkConfig {
  /** `location.origin`, e.g. `https://hub.example.org`. */
  origin: string;
  /** The server's base URL path, e.g. `/user/alice/` or `/`. */
  baseUrl: string;
  /** JupyterHub's prefix (`/hub/`) when the server runs under JupyterHub. */
  hubPrefix?: string;
  /** The hub user owning this server, when under JupyterHub. */
  hubUser?: string;
  /** The hub's origin when it is not the page's (JupyterHub's subdomains). */
  hubHost?: string;
}

/**
 * The link that opens share `shareId`. Under JupyterHub it goes through
 * `user-redirect`, so it opens on the server of whoever clicks it; otherwise
 * it opens this server's lab.
 */
export function shareLink(shareId: string, config: ILinkConfig): string {
  const origin = config.origin.replace(/\/+$/, '');
  const query = `lab?${SHARE_PARAM}=${encodeURIComponent(shareId)}`;
  if (config.hubPrefix && config.hubUser) {
    const hub = (config.hubHost || origin).replace(/\/+$/, '');
    return `${hub}${slashed(config.hubPrefix)}user-redirect/${query}`;
  }
  return `${origin}${slashed(config.baseUrl || '/')}${query}`;
}

/**
 * The share id in `text`: a share link (any URL with `?oui-share=`) or a bare
 * id. Null when it is neither.
 */
export function parseShareRef(text: string): string | null {
  const value = text.trim();
  if (SHARE_ID.test(value)) {
    return value;
  }
  let url: URL;
  try {
    url = new URL(value, 'http://share.invalid/');
  } catch {
    return null;
  }
  const id = url.searchParams.get(SHARE_PARAM)?.trim() ?? '';
  return SHARE_ID.test(id) ? id : null;
}

/** What `takeShareParam` needs of `window.location` and `window.history`. */
export interface IAddress {
  location: { href: string };
  history: {
    state: unknown;
    replaceState(data: unknown, unused: string, url?: string): void;
  };
}

/**
 * Read the share parameter from the page's address and remove it from there
 * (so a reload or a bookmark does not reopen the share). Null when absent;
 * otherwise its value as given (check it with `parseShareRef`).
 */
export function takeShareParam(address: IAddress): string | null {
  const url = new URL(address.location.href);
  if (!url.searchParams.has(SHARE_PARAM)) {
    return null;
  }
  const value = url.searchParams.get(SHARE_PARAM) ?? '';
  url.searchParams.delete(SHARE_PARAM);
  address.history.replaceState(address.history.state, '', url.toString());
  return value;
}

function slashed(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`;
  if (!p.endsWith('/')) {
    p += '/';
  }
  return p;
}
