/**
 * The typed HTTP client of the UI. Every request carries the session's key; an answer of 401
 * ends the session (the key was revoked or is wrong), everything else surfaces as an ApiError
 * with the contract's error code.
 */
import type { ErrorBody, ErrorCode } from './schemas';

/**
 * A code of the API's error catalogue, or one of the client's own where there is no answer of
 * the API to read: no connection, or a body that is not the API's (a proxy's error page).
 */
export type ApiErrorCode = ErrorCode | 'network_error' | `http_${number}`;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Reads `{"error": {code, message}}` from an error answer, whatever it looks like. */
export function errorFromBody(status: number, body: string, retryAfter?: string | null): ApiError {
  let code: ApiErrorCode = status === 0 ? 'network_error' : `http_${status}`;
  let message = body.trim() || `the server answered ${status}`;
  try {
    // Whatever it is, it may not be the API's body: every part of it is checked before use.
    const parsed = JSON.parse(body) as { error?: Partial<ErrorBody['error']> } | null;
    if (parsed?.error?.code) code = parsed.error.code;
    if (parsed?.error?.message) message = parsed.error.message;
  } catch {
    // not JSON: keep the text
  }
  const seconds = retryAfter ? Number(retryAfter) : undefined;
  return new ApiError(status, code, message, Number.isFinite(seconds) ? seconds : undefined);
}

export interface ApiClientOptions {
  key: string;
  onUnauthorized?: () => void;
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  get key(): string {
    return this.options.key;
  }

  authHeaders(): Record<string, string> {
    return { Authorization: `Bearer ${this.options.key}` };
  }

  async request(method: string, path: string, init: { body?: unknown; signal?: AbortSignal; accept?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.authHeaders(), Accept: init.accept ?? 'application/json' };
    let body: BodyInit | undefined;
    if (init.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body, signal: init.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(0, 'network_error', 'Darkroom could not be reached. Check the connection.');
    }
    if (!res.ok) {
      const error = errorFromBody(res.status, await res.text(), res.headers.get('Retry-After'));
      if (res.status === 401) this.options.onUnauthorized?.();
      throw error;
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, { body, signal });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.json<T>('GET', path, undefined, signal);
  }

  async blob(path: string, signal?: AbortSignal): Promise<{ blob: Blob; filename: string | undefined }> {
    const res = await this.request('GET', path, { signal, accept: '*/*' });
    return { blob: await res.blob(), filename: filenameFromDisposition(res.headers.get('Content-Disposition')) };
  }
}

/** `attachment; filename="a.webp"; filename*=UTF-8''%C3%A4.webp` → the best name in it. */
export function filenameFromDisposition(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      // fall through to the plain name
    }
  }
  return /filename\s*=\s*"?([^";]+)"?/i.exec(header)?.[1];
}
