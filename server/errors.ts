import { ERROR_CATALOGUE, type ErrorCode } from './api/errors.js';

// The catalogue is part of the API (server/api/errors.ts); thrown here as one AppError, turned
// into JSON by the single error handler (http/middleware/errors.ts).
export { ERROR_CATALOGUE, type ErrorCode } from './api/errors.js';
export { PROCESSING_ERROR_CODES } from './api/vocabulary.js';
export type { ProcessingErrorCode } from './api/enums.js';

export class AppError extends Error {
  readonly status: number;
  /** Facts about the failing input for the server's own use (statistics, logs); never sent. */
  context: { format?: string } = {};

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;
