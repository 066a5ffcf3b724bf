import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { errorMessage, requestAPI } from './handler';

/** Which audio routes the server has configured (`oui/api/config` features). */
export interface IAudioFeatures {
  stt: boolean;
  tts: boolean;
}

/** The longest text sent to be read aloud (the server's default limit is 4,096). */
export const SPEECH_MAX_CHARS = 4000;

let current: IAudioFeatures = { stt: false, tts: false };

/** The features as last read (both off until `loadAudioFeatures` answers). */
export function audioFeatures(): IAudioFeatures {
  return current;
}

/** Read the server's audio features; off when it cannot say. */
export async function loadAudioFeatures(): Promise<IAudioFeatures> {
  try {
    const config = await requestAPI<{ features?: Record<string, unknown> }>(
      'config'
    );
    const features = config?.features ?? {};
    current = {
      stt: features.enable_audio_stt === true,
      tts: features.enable_audio_tts === true
    };
  } catch {
    current = { stt: false, tts: false };
  }
  return current;
}

/** The text of a recording (`v1/audio/transcriptions`). */
export async function transcribe(audio: Blob, name: string): Promise<string> {
  const form = new FormData();
  form.append('file', audio, name);
  const answer = await requestAPI<{ text?: unknown }>(
    'v1/audio/transcriptions',
    { method: 'POST', body: form }
  );
  return typeof answer?.text === 'string' ? answer.text : '';
}

/** The spoken audio of `text` (`v1/audio/speech`). */
export async function speak(text: string): Promise<Blob> {
  const settings = ServerConnection.makeSettings();
  const url = `${URLExt.join(settings.baseUrl, 'oui', 'api')}/v1/audio/speech`;
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      {
        method: 'POST',
        body: JSON.stringify({ input: text.slice(0, SPEECH_MAX_CHARS) }),
        headers: { 'Content-Type': 'application/json' }
      },
      settings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText || 'error'}`;
    try {
      const body = await response.json();
      message = String(body?.message ?? message);
    } catch {
      // not JSON: the status says it
    }
    throw new ServerConnection.ResponseError(response, message);
  }
  return response.blob();
}

/** The file extension of a recording's MIME type. */
export function recordingExtension(type: string): string {
  for (const ext of ['ogg', 'mp4', 'wav', 'mpeg']) {
    if (type.includes(ext)) {
      return ext === 'mpeg' ? 'mp3' : ext;
    }
  }
  return 'webm';
}

export type DictationState = 'idle' | 'recording' | 'transcribing';

/**
 * Record from the microphone (MediaRecorder) until stopped, then hand the
 * transcription to `onText`.
 */
export class Dictation {
  constructor(options: Dictation.IOptions) {
    this._options = options;
  }

  get state(): DictationState {
    return this._state;
  }

  async toggle(): Promise<void> {
    if (this._state === 'recording') {
      this._recorder?.stop();
    } else if (this._state === 'idle') {
      await this._start();
    }
  }

  private async _start(): Promise<void> {
    if (
      !navigator.mediaDevices?.getUserMedia ||
      typeof MediaRecorder === 'undefined'
    ) {
      this._options.onError('This browser cannot record audio.');
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this._options.onError(`No microphone: ${errorMessage(error)}`);
      return;
    }
    const recorder = new MediaRecorder(stream);
    const chunks: Blob[] = [];
    recorder.ondataavailable = event => {
      if (event.data.size > 0) {
        chunks.push(event.data);
      }
    };
    recorder.onstop = () => {
      stream.getTracks().forEach(track => track.stop());
      this._recorder = null;
      void this._finish(new Blob(chunks, { type: recorder.mimeType }));
    };
    recorder.start();
    this._recorder = recorder;
    this._set('recording');
  }

  private async _finish(recording: Blob): Promise<void> {
    this._set('transcribing');
    try {
      const type = recording.type || 'audio/webm';
      const text = await transcribe(
        recording,
        `dictation.${recordingExtension(type)}`
      );
      if (text.trim()) {
        this._options.onText(text.trim());
      }
    } catch (error) {
      this._options.onError(`Could not transcribe: ${errorMessage(error)}`);
    } finally {
      this._set('idle');
    }
  }

  private _set(state: DictationState): void {
    this._state = state;
    this._options.onState(state);
  }

  private _options: Dictation.IOptions;
  private _recorder: MediaRecorder | null = null;
  private _state: DictationState = 'idle';
}

export namespace Dictation {
  export interface IOptions {
    onText: (text: string) => void;
    onError: (message: string) => void;
    onState: (state: DictationState) => void;
  }
}

/** Plays one answer at a time; a second click on the same answer stops it. */
export class ReadAloud {
  /** Read `text` aloud (or stop, if `key` is the one playing). */
  async toggle(key: string, text: string): Promise<void> {
    const playing = this._key;
    this.stop();
    if (playing === key) {
      return;
    }
    this._key = key;
    const audio = await speak(text);
    if (this._key !== key) {
      return; // another answer was asked for meanwhile
    }
    this._url = URL.createObjectURL(audio);
    this._audio = new Audio(this._url);
    this._audio.onended = () => this.stop();
    await this._audio.play().catch(() => undefined);
  }

  stop(): void {
    this._audio?.pause();
    this._audio = null;
    if (this._url) {
      URL.revokeObjectURL(this._url);
      this._url = '';
    }
    this._key = '';
  }

  get playing(): string {
    return this._key;
  }

  private _audio: HTMLAudioElement | null = null;
  private _url = '';
  private _key = '';
}

/** The one player of the page. */
export const readAloud = new ReadAloud();
