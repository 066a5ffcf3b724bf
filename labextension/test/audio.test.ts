import { describe, expect, it } from 'vitest';

import { recordingExtension } from '../src/audio';

describe('recordingExtension', () => {
  it('names a recording after its MIME type', () => {
    expect(recordingExtension('audio/webm;codecs=opus')).toBe('webm');
    expect(recordingExtension('audio/ogg;codecs=opus')).toBe('ogg');
    expect(recordingExtension('audio/mp4')).toBe('mp4');
    expect(recordingExtension('audio/mpeg')).toBe('mp3');
    expect(recordingExtension('audio/wav')).toBe('wav');
    expect(recordingExtension('')).toBe('webm');
  });
});
