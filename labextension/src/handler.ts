import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * Call the oui-jupyter REST API under `{base_url}oui/api/`.
 *
 * @param endPoint - path below `oui/api/`, e.g. `v1/chats/?page=1`
 * @param init - fetch options (method, body, headers)
 * @param settings - server connection settings (defaults to the page's)
 * @returns the decoded JSON body, or `undefined` for an empty body
 * @throws ServerConnection.ResponseError when the server answers an error status
 * @throws ServerConnection.NetworkError when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  // Not URLExt.join for the end point: it would drop a meaningful trailing slash.
  const url = `${URLExt.join(settings.baseUrl, 'oui', 'api')}/${endPoint.replace(/^\/+/, '')}`;
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data !== null && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : typeof data === 'string' &&
            data.length > 0 &&
            data.length < 300 &&
            !data.trimStart().startsWith('<')
          ? data
          : `${response.status} ${response.statusText || 'error'}`;
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/**
 * A readable one-line description of an error thrown by the API layer.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    const status = error.response.status;
    return `${error.message} (HTTP ${status})`;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
