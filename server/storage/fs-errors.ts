import { AppError } from '../errors.js';

/**
 * Failures of the filesystem as the API's errors: a full disk is `insufficient_storage` (507),
 * running out of file descriptors or a failing disk is `unavailable` (503, `Retry-After`).
 * Undefined for anything else (a missing file means different things to different callers).
 */
export function translateFileSystemError(err: unknown): AppError | undefined {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new AppError('insufficient_storage', 'the server ran out of disk space');
    case 'EMFILE':
    case 'ENFILE':
      return new AppError('unavailable', 'the server has too many files open; try again shortly', { 'Retry-After': '5' });
    case 'EIO':
    case 'EROFS':
      return new AppError('unavailable', 'the server cannot write to its disk now; try again later', { 'Retry-After': '30' });
    default:
      return undefined;
  }
}
