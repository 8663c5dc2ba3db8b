import { z } from 'zod';

/**
 * The catalogue of errors the API can answer with: one code, one status, documented once here
 * and in docs/api.md. It lives with the schemas because it is part of what clients see; the
 * server throws these codes as an AppError (server/errors.ts) and one handler turns them into
 * the error body below.
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, description: 'malformed parameters, unknown variant, bad JSON' },
  unauthorized: { status: 401, description: 'no or unknown key' },
  forbidden: { status: 403, description: 'role does not allow it' },
  not_found: { status: 404, description: 'no such image/variant for this customer' },
  request_timeout: { status: 408, description: 'the request (its headers, or a JSON body) did not arrive in time (--headers-timeout)' },
  not_ready: { status: 409, description: 'download of a variant that is not processed yet' },
  conflict: { status: 409, description: "a resumable upload's Upload-Offset is not where its bytes end, or another request is writing it" },
  expired: { status: 410, description: 'the processed file passed its TTL and was purged' },
  precondition_failed: { status: 412, description: 'a resumable upload request without the tus version header (Tus-Resumable: 1.0.0)' },
  payload_too_large: { status: 413, description: 'over --max-upload-bytes' },
  unsupported_media_type: { status: 415, description: 'bytes are not a decodable image format' },
  range_not_satisfiable: { status: 416, description: 'a Range outside the file; Content-Range gives its size' },
  expectation_failed: { status: 417, description: 'an Expect header other than 100-continue' },
  misdirected_request: { status: 421, description: 'a Host this server does not answer to (bound to loopback; --allowed-hosts)' },
  pixel_limit_exceeded: { status: 422, description: 'header dimensions over --max-input-pixels' },
  corrupt_image: { status: 422, description: 'render of an image whose original cannot be decoded' },
  no_preview: { status: 422, description: 'a camera RAW without a usable embedded preview to make its variants from' },
  too_many_requests: { status: 429, description: 'queue full or rate limited; Retry-After set' },
  headers_too_large: { status: 431, description: 'the request line and headers are over 16 KB' },
  internal_error: { status: 500, description: 'a bug or an unexpected failure; the log has the details' },
  not_implemented: { status: 501, description: 'a tus extension Darkroom does not offer (concatenation, deferred length)' },
  unavailable: { status: 503, description: 'the database or the object store cannot be reached; Retry-After set; nothing accepted is lost' },
  insufficient_storage: { status: 507, description: 'not enough free disk to accept the upload' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ErrorCode = z
  .enum(Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]])
  .meta({ description: 'A stable code from the error catalogue; clients branch on it, never on the message.' });

/** Every error answer of the API (CONTRACT §3). */
export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: ErrorCode,
      message: z.string().meta({ description: 'What went wrong, for a person: names the parameter or limit at fault.' }),
      requestId: z.string().meta({ description: 'The request id the server log has this request under (also the X-Request-Id header).' }),
    }),
  })
  .meta({ id: 'ErrorBody', description: 'The body of every error answer.' });
export type ErrorBody = z.infer<typeof ErrorBody>;
