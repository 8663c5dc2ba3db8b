import type { ApiError } from '../../api/client';
import type { Me } from '../../api/schemas';
import { formatBytes, formatCount, formatLimit, sentence } from '../../ui/format';

export interface UploadProblem {
  kind: 'refused' | 'server' | 'network' | 'cancelled' | 'reconnecting' | 'busy' | 'auth';
  title: string;
  detail: string;
  /** Whether trying the same file again can work. */
  retryable: boolean;
  code?: string;
}

/**
 * What went wrong with an upload, in words a person can act on: one message for each error of
 * the contract (413, 415, 422, 429, 507), and for a connection that could not be restored.
 */
export function describeUploadError(error: ApiError, file: { size: number; path: string }, limits: Me['limits']): UploadProblem {
  const code = error.code;
  switch (code) {
    case 'payload_too_large':
      return {
        kind: 'refused',
        code,
        title: 'File too large',
        detail: `This file is ${formatBytes(file.size)}; this server accepts files up to ${formatLimit(limits.maxUploadBytes)}.`,
        retryable: false,
      };
    case 'unsupported_media_type':
      return {
        kind: 'refused',
        code,
        title: 'Not an image Darkroom can read',
        detail: 'Its content is not JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIC/HEIF, SVG or a camera RAW, whatever its name says.',
        retryable: false,
      };
    case 'pixel_limit_exceeded': {
      const numbers = /(\d+)×(\d+)/.exec(error.message);
      const size = numbers ? `${numbers[1]} × ${numbers[2]} pixels` : 'too many pixels';
      return {
        kind: 'refused',
        code,
        title: 'Too many pixels',
        detail: `The image is ${size}; this server processes at most ${formatCount(limits.maxInputPixels)} pixels per image.`,
        retryable: false,
      };
    }
    case 'too_many_requests':
      return {
        kind: 'busy',
        code,
        title: 'Server busy',
        detail: `The processing queue is full. Trying again in ${error.retryAfterSeconds ?? 10} s.`,
        retryable: true,
      };
    case 'insufficient_storage':
      return {
        kind: 'server',
        code,
        title: 'Server disk full',
        detail: 'There is not enough free disk space on the server for this file. Free some space, then retry.',
        retryable: true,
      };
    case 'unauthorized':
      return { kind: 'auth', code, title: 'Key not accepted', detail: 'Your key is no longer valid. Sign in again to upload.', retryable: false };
    case 'forbidden':
      return { kind: 'auth', code, title: 'Not allowed', detail: 'This key may not upload images.', retryable: false };
    case 'invalid_request':
      return { kind: 'refused', code, title: 'Upload refused', detail: sentence(error.message), retryable: false };
    case 'network_error':
      return {
        kind: 'network',
        code,
        title: 'Connection lost',
        detail: 'Darkroom could not be reached for several minutes. Retry when the connection is back; the upload continues where it stopped.',
        retryable: true,
      };
    default:
      return {
        kind: 'server',
        code,
        title: error.status >= 500 ? 'Server error' : 'Upload failed',
        detail: sentence(error.message),
        retryable: true,
      };
  }
}

/**
 * The same for a file imported by path (desktop app): the contract's refusals read the same,
 * but the few that depend on how the file travels say what they mean for an import.
 */
export function describeImportError(error: ApiError, file: { size: number; path: string }, limits: Me['limits']): UploadProblem {
  switch (error.code) {
    case 'invalid_request':
      // The server names the path and why it cannot take it (a folder, unreadable, changed while read …).
      return { kind: 'refused', code: error.code, title: 'Cannot import', detail: sentence(error.message), retryable: /try again/i.test(error.message) };
    case 'forbidden':
      return {
        kind: 'auth',
        code: error.code,
        title: 'Not allowed',
        detail: 'Files are imported by path only with an admin key, on the machine Darkroom runs on.',
        retryable: false,
      };
    case 'network_error':
      return {
        kind: 'network',
        code: error.code,
        title: 'Connection lost',
        detail: 'Darkroom could not be reached. Retry when it is running again.',
        retryable: true,
      };
    case 'insufficient_storage':
      return {
        kind: 'server',
        code: error.code,
        title: 'Disk full',
        detail: 'There is not enough free disk space for Darkroom to keep a copy of this file. Free some space, then retry.',
        retryable: true,
      };
    default:
      return describeUploadError(error, file, limits);
  }
}
