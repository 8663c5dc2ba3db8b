/**
 * What an error from the S3 SDK means for Darkroom. Two questions matter: could the whole bucket
 * be unusable (network, outage, credentials), in which case every sync waits instead of failing;
 * and how to say it in one line. An SDK error the S3 blob store wrapped as unavailable
 * (BlobStoreUnavailableError) is judged by the SDK error inside it.
 */

import { BlobStoreUnavailableError } from '../blob-store.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
]);

const BUCKET_WIDE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'NoSuchBucket',
  'CredentialsProviderError',
]);

/** The SDK's own error: the one a blob store wrapped, or the error itself. */
const sdkError = (err: unknown): unknown => (err instanceof BlobStoreUnavailableError ? err.cause : err);

export function statusOf(err: unknown): number | undefined {
  return (sdkError(err) as SdkError)?.$metadata?.httpStatusCode;
}

function networkCode(err: unknown): string | undefined {
  for (let e = sdkError(err) as SdkError | undefined, depth = 0; e && depth < 4; e = e.cause as SdkError | undefined, depth++) {
    if (e.code && NETWORK_CODES.has(e.code)) return e.code;
    if (typeof e.message === 'string' && /socket hang up/i.test(e.message)) return 'ECONNRESET';
  }
  return undefined;
}

/**
 * True when the failure could be the bucket's as a whole rather than this object's: the caller
 * then asks the bucket itself (a cheap HEAD) before blaming the object.
 */
export function mightBeBucketWide(err: unknown): boolean {
  if (networkCode(err)) return true;
  const e = sdkError(err) as SdkError;
  if (e?.name && BUCKET_WIDE_NAMES.has(e.name)) return true;
  const status = statusOf(err);
  return status === 401 || status === 403 || status === 429 || (status !== undefined && status >= 500);
}

export function isNotFound(err: unknown): boolean {
  const e = sdkError(err) as SdkError;
  return statusOf(err) === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

/** True when a multipart upload id is no longer known to the server (aborted, expired). */
export function isUnknownUpload(err: unknown): boolean {
  const e = err as SdkError;
  return e?.name === 'NoSuchUpload' || e?.name === 'InvalidPart' || e?.name === 'InvalidPartOrder';
}

/** "ECONNREFUSED …", "403 AccessDenied: Access Denied": short enough for a status page and a log line. */
export function describeS3Error(err: unknown): string {
  const code = networkCode(err);
  if (code) return `${code} (the endpoint is unreachable)`;
  const e = sdkError(err) as SdkError | undefined;
  // HEAD answers have no body, so the SDK can only say "UnknownError": the status says more.
  const meaningful = (text?: string) => (text && !['Error', 'UnknownError', 'Unknown'].includes(text) ? text : '');
  const name = meaningful(e?.name);
  const message = meaningful(e?.message?.split('\n')[0]);
  const head = [statusOf(err), name].filter(Boolean).join(' ');
  if (!head) return message || String(err);
  return message && message !== name ? `${head}: ${message}` : head;
}

/** The one line start-up prints when the bucket cannot be used. */
export function startupFailure(err: unknown, where: string): string {
  const e = err as SdkError;
  const status = statusOf(err);
  if (e?.name === 'CredentialsProviderError' || /credential/i.test(e?.message ?? '')) {
    return `S3 ${where}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)`;
  }
  if (networkCode(err) || e?.name === 'TimeoutError') return `S3 ${where} is unreachable: ${describeS3Error(err)}`;
  if (status === 401 || status === 403) {
    return `S3 ${where} refused the credentials (${describeS3Error(err)}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile, and that they may use this bucket`;
  }
  if (status === 404) return `S3 ${where}: the bucket does not exist`;
  if (status === 301 || status === 400) return `S3 ${where}: the bucket answered ${describeS3Error(err)}; check --s3-region and --s3-endpoint`;
  return `S3 ${where}: ${describeS3Error(err)}`;
}
