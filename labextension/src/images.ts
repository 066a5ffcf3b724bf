import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IContentPart, IMessageFile } from './api';
import { requestAPI } from './handler';

/** The image types a vision model gets (the server checks the bytes too). */
export const IMAGE_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp'
];

/** The output MIME types an image output of a cell may carry, preferred first. */
const OUTPUT_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

/** An image to attach: its bytes and a name. */
export interface IImageAttachment {
  blob: Blob;
  name: string;
}

/** One output of a cell as nbformat JSON (only what is read here). */
export interface IOutputJSON {
  output_type?: string;
  data?: Record<string, unknown>;
}

export function isImage(blob: Blob): boolean {
  return IMAGE_TYPES.includes(blob.type);
}

/** How a message refers to an uploaded image (Open WebUI's file content URL). */
export function fileUrl(id: string): string {
  return `/api/v1/files/${encodeURIComponent(id)}/content`;
}

/** A message's text with its image files as OpenAI content parts. */
export function contentParts(
  text: string,
  files: IMessageFile[] | undefined
): string | IContentPart[] {
  const images = (files ?? []).filter(f => f.type === 'image');
  if (images.length === 0) {
    return text;
  }
  return [
    { type: 'text', text },
    ...images.map((f): IContentPart => ({
      type: 'image_url',
      image_url: { url: fileUrl(f.id) }
    }))
  ];
}

/** Bytes of a base64 string as a Blob of type `mime`. */
export function base64Blob(base64: string, mime: string): Blob {
  const bytes = Uint8Array.from(atob(base64.replace(/\s+/g, '')), ch =>
    ch.charCodeAt(0)
  );
  return new Blob([bytes], { type: mime });
}

/** A `data:` URL (as JupyterLab renders image outputs) as a Blob; null for other URLs. */
export function dataUrlBlob(url: string): Blob | null {
  const match = /^data:([\w.+/-]+);base64,(.*)$/s.exec(url);
  if (!match || !OUTPUT_TYPES.includes(match[1])) {
    return null;
  }
  return base64Blob(match[2], match[1]);
}

/** The last image output of a cell's outputs, or null. */
export function lastImageOutput(
  outputs: IOutputJSON[],
  name: string
): IImageAttachment | null {
  for (let i = outputs.length - 1; i >= 0; i--) {
    const data = outputs[i].data ?? {};
    for (const mime of OUTPUT_TYPES) {
      const value = data[mime];
      const text = Array.isArray(value) ? value.join('') : value;
      if (typeof text === 'string' && text) {
        return {
          blob: base64Blob(text, mime),
          name: `${name}.${mime.split('/')[1]}`
        };
      }
    }
  }
  return null;
}

const thumbnails = new Map<string, Promise<string>>();

/**
 * A blob URL of an uploaded image, read through the authenticated files API
 * (never a URL taken from a message).
 */
export function thumbnailUrl(id: string): Promise<string> {
  let url = thumbnails.get(id);
  if (!url) {
    url = fetchBlobUrl(id);
    url.catch(() => thumbnails.delete(id));
    thumbnails.set(id, url);
  }
  return url;
}

/** Remember the blob URL of an image this page uploaded itself. */
export function rememberThumbnail(id: string, blob: Blob): void {
  thumbnails.set(id, Promise.resolve(URL.createObjectURL(blob)));
}

async function fetchBlobUrl(id: string): Promise<string> {
  return URL.createObjectURL(await fetchImage(id));
}

/** An uploaded image's bytes, through the authenticated files API. */
export async function fetchImage(id: string): Promise<Blob> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(
    settings.baseUrl,
    'oui',
    'api',
    'v1',
    'files',
    encodeURIComponent(id),
    'content'
  );
  const response = await ServerConnection.makeRequest(url, {}, settings);
  if (!response.ok) {
    throw new ServerConnection.ResponseError(response);
  }
  const blob = await response.blob();
  if (!isImage(blob)) {
    throw new Error('not an image');
  }
  return blob;
}

/** Base64 of bytes (in slices: no argument list grows with the image). */
export function bytesBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/** An nbformat `display_data` output of one image. */
export interface IImageOutput {
  [key: string]: string | Record<string, string>;
  output_type: 'display_data';
  data: Record<string, string>;
  metadata: Record<string, never>;
}

/** An nbformat `display_data` output that shows an image (base64, no HTML). */
export function imageOutput(bytes: Uint8Array, mime: string): IImageOutput {
  if (!OUTPUT_TYPES.includes(mime)) {
    throw new Error(`not an image type a notebook shows: ${mime}`);
  }
  return {
    output_type: 'display_data',
    data: { [mime]: bytesBase64(bytes) },
    metadata: {}
  };
}

/** Whether the server generates images (`oui/api/config`); false when it cannot say. */
export async function loadImageGeneration(): Promise<boolean> {
  try {
    const config = await requestAPI<{ features?: Record<string, unknown> }>(
      'config'
    );
    return config?.features?.enable_image_generation === true;
  } catch {
    return false;
  }
}

/** An `<img>` thumbnail of an uploaded image (empty until it loads). */
export function thumbnail(id: string, name: string): HTMLImageElement {
  const img = document.createElement('img');
  img.className = 'jp-OuiThumbnail';
  img.alt = name;
  img.title = name;
  void thumbnailUrl(id)
    .then(src => {
      img.src = src;
    })
    .catch(() => {
      img.classList.add('jp-mod-missing');
    });
  return img;
}
