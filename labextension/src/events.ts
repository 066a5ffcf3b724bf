import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { backoffDelay, randomId } from './backoff';
import { IEventFrame, parseFrame } from './reducer';

/** Connection state of the events socket. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** What the sidebar needs of the events socket (a test passes a fake). */
export interface IEventSocket extends IDisposable {
  /** The id sent as `session_id` with completions started from this tab. */
  readonly sessionId: string;
  /** A frame arrived. */
  readonly received: ISignal<IEventSocket, IEventFrame>;
  /** The connection opened or closed. */
  readonly stateChanged: ISignal<IEventSocket, ConnectionState>;
  /** The socket opened again after a drop: resynchronise. */
  readonly reconnected: ISignal<IEventSocket, void>;
  readonly state: ConnectionState;
  /** Send a frame; returns false when the socket is not open. */
  send(frame: Record<string, unknown>): boolean;
}

/**
 * The `oui/api/events` WebSocket: reconnects with back-off after a drop
 * and tells listeners when it is open again so they can resynchronise.
 */
export class EventSocket implements IEventSocket {
  constructor(options: EventSocket.IOptions = {}) {
    this._settings = options.serverSettings ?? ServerConnection.makeSettings();
    this.sessionId = options.sessionId ?? randomId();
    this._connect();
    document.addEventListener('visibilitychange', this._onVisible);
  }

  /** The id sent as `session_id` with completions started from this tab. */
  readonly sessionId: string;

  /** A frame arrived. */
  get received(): ISignal<this, IEventFrame> {
    return this._received;
  }

  /** The connection opened (`true` after a reconnect) or closed. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  /** Emitted when the socket opens again after a drop: resynchronise. */
  get reconnected(): ISignal<this, void> {
    return this._reconnected;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Send a frame; returns false when the socket is not open. */
  send(frame: Record<string, unknown>): boolean {
    if (this._ws?.readyState !== WebSocket.OPEN) {
      return false;
    }
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    document.removeEventListener('visibilitychange', this._onVisible);
    window.clearTimeout(this._timer);
    window.clearInterval(this._ping);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    Signal.clearData(this);
  }

  private _connect(): void {
    if (this._isDisposed) {
      return;
    }
    const settings = this._settings;
    let url = URLExt.join(settings.wsUrl, 'oui', 'api', 'events');
    const query: Record<string, string> = { session_id: this.sessionId };
    if (settings.token && settings.appendToken) {
      query.token = settings.token;
    }
    url += URLExt.objectToQueryString(query);
    this._setState('connecting');
    let ws: WebSocket;
    try {
      ws = new settings.WebSocket(url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      const again = this._everOpened;
      this._everOpened = true;
      this._attempt = 0;
      this._setState('open');
      window.clearInterval(this._ping);
      this._ping = window.setInterval(() => this.send({ type: 'ping' }), 25000);
      if (again) {
        this._reconnected.emit();
      }
    };
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') {
        return;
      }
      const frame = parseFrame(event.data);
      if (frame) {
        this._received.emit(frame);
      }
    };
    ws.onclose = () => {
      window.clearInterval(this._ping);
      if (this._ws === ws) {
        this._ws = null;
      }
      this._setState('closed');
      this._scheduleReconnect();
    };
  }

  private _scheduleReconnect(): void {
    if (this._isDisposed) {
      return;
    }
    window.clearTimeout(this._timer);
    const delay = backoffDelay(this._attempt++);
    this._timer = window.setTimeout(() => this._connect(), delay);
  }

  private _setState(state: ConnectionState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  /** A tab coming back to the foreground reconnects at once. */
  private _onVisible = (): void => {
    if (
      document.visibilityState === 'visible' &&
      this._state === 'closed' &&
      !this._isDisposed
    ) {
      window.clearTimeout(this._timer);
      this._attempt = 0;
      this._connect();
    }
  };

  private _settings: ServerConnection.ISettings;
  private _ws: WebSocket | null = null;
  private _state: ConnectionState = 'closed';
  private _attempt = 0;
  private _timer = 0;
  private _ping = 0;
  private _everOpened = false;
  private _isDisposed = false;
  private _received = new Signal<this, IEventFrame>(this);
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _reconnected = new Signal<this, void>(this);
}

export namespace EventSocket {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
    sessionId?: string;
  }
}
