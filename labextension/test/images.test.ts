import { describe, expect, it } from 'vitest';

import {
  bytesBase64,
  contentParts,
  imageOutput,
  dataUrlBlob,
  fileUrl,
  lastImageOutput
} from '../src/images';

const PNG_B64 = 'iVBORw0KGgo=';

describe('contentParts', () => {
  it('keeps text alone without images', () => {
    expect(contentParts('hi', undefined)).toBe('hi');
    expect(contentParts('hi', [{ type: 'file', id: 'f', name: 'a.csv' }])).toBe(
      'hi'
    );
  });

  it('sends image files as image_url parts of our file URL, never their url field', () => {
    expect(
      contentParts('look', [
        {
          type: 'image',
          id: 'abc',
          name: 'p.png',
          url: 'https://evil.example/x.png'
        }
      ])
    ).toEqual([
      { type: 'text', text: 'look' },
      { type: 'image_url', image_url: { url: '/api/v1/files/abc/content' } }
    ]);
    expect(fileUrl('a/b')).toBe('/api/v1/files/a%2Fb/content');
  });
});

describe('image outputs', () => {
  it('takes the last image output of a cell', async () => {
    const image = lastImageOutput(
      [
        { output_type: 'display_data', data: { 'image/png': 'AAAA' } },
        { output_type: 'stream' },
        { output_type: 'display_data', data: { 'image/png': `${PNG_B64}\n` } }
      ],
      'nb-cell2'
    );
    expect(image?.name).toBe('nb-cell2.png');
    expect(image?.blob.type).toBe('image/png');
    const bytes = new Uint8Array(await image!.blob.arrayBuffer());
    expect(Array.from(bytes.slice(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(lastImageOutput([{ data: { 'text/plain': 'x' } }], 'n')).toBeNull();
  });

  it('reads data: URLs of images only', () => {
    expect(dataUrlBlob(`data:image/png;base64,${PNG_B64}`)?.type).toBe(
      'image/png'
    );
    expect(dataUrlBlob('data:text/html;base64,PGI+')).toBeNull();
    expect(dataUrlBlob('https://example.com/x.png')).toBeNull();
  });
});

describe('imageOutput', () => {
  it('is a display_data output of the base64 bytes, no HTML', () => {
    const bytes = Uint8Array.from(atob(PNG_B64), c => c.charCodeAt(0));
    expect(imageOutput(bytes, 'image/png')).toEqual({
      output_type: 'display_data',
      data: { 'image/png': PNG_B64 },
      metadata: {}
    });
    expect(() => imageOutput(bytes, 'text/html')).toThrow();
  });

  it('encodes large images in slices', () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    expect(bytesBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });
});
