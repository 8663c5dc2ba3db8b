import { AppError, type ErrorCode } from '../../errors.js';
import { errorBody } from '../middleware/errors.js';

/**
 * The catalogue code of each status @tus/server answers protocol errors with. Two statuses
 * change on the way: tus answers a PATCH without `Upload-Offset` or `Content-Type` with 403,
 * which in this API means "your role may not", so those are 400 here; and a lock it could not
 * take in time (another request is writing the same upload) is a 409, not a 500.
 */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  403: 'invalid_request',
  404: 'not_found',
  409: 'conflict',
  410: 'expired',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
};

const LOCK_TIMEOUT = /failed to acquire lock/i;

/**
 * Rewrites an error answer of the tus protocol layer into the API's one error form (CONTRACT
 * §3: `{"error": {code, message, requestId}}` as JSON), keeping its headers (`Tus-Resumable`,
 * `Upload-Offset` …). Answers that are already in that form (refusals raised by Darkroom's own
 * hooks) only get their Content-Type; successes pass unchanged.
 */
export async function tusErrorInApiForm(response: Response, requestId: unknown, extraHeaders: Record<string, string> = {}): Promise<Response> {
  if (response.status < 400) return response;
  const text = await response.text();
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
  headers.set('Content-Type', 'application/json; charset=utf-8');
  headers.set('Cache-Control', 'no-store');
  let body: string;
  let status = response.status;
  const ours = apiError(text);
  if (ours) {
    // Raised by Darkroom's own hooks, which know no request id.
    body = JSON.stringify({ error: { ...ours, requestId: String(requestId ?? '') } });
  } else {
    const message = text.trim() || `tus request failed (${status})`;
    const code: ErrorCode = LOCK_TIMEOUT.test(message) ? 'conflict' : (CODE_OF_STATUS[status] ?? 'internal_error');
    const error = new AppError(code, LOCK_TIMEOUT.test(message) ? 'another request is writing this upload; try again' : message);
    status = error.status;
    body = JSON.stringify(errorBody(error, requestId));
  }
  headers.set('Content-Length', String(Buffer.byteLength(body)));
  return new Response(body, { status, headers });
}

function apiError(text: string): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = parsed?.error ?? {};
    return typeof code === 'string' ? { code, message: String(message ?? '') } : undefined;
  } catch {
    return undefined;
  }
}
