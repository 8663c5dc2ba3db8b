import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';
import { resolveLocalFile, type LocalPathRules } from './safe-path.js';

/** A local file opened for reading, known to be a regular file. Close it, or read it to the end. */
export interface OpenedLocalFile {
  /** The path as given. */
  requested: string;
  /** The path after following symlinks: what was opened. */
  real: string;
  /** The display name: the last segment of the path as given. */
  name: string;
  size: number;
  mtimeMs: number;
  handle: fs.promises.FileHandle;
}

// Not following a symlink in the last segment (already resolved), and never blocking on a FIFO
// that slipped in between the checks. Neither flag exists on Windows, where neither is needed.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Opens a file a client named by path (import, watch folder): the path rules of
 * resolveLocalFile, then a regular file only (no directory, device, FIFO or socket), checked
 * on the open descriptor itself so what is read is what was checked.
 */
export async function openLocalFile(requested: string, rules: LocalPathRules = {}): Promise<OpenedLocalFile> {
  const real = resolveLocalFile(requested, rules);
  const refuse = (why: string) => new AppError('invalid_request', `${JSON.stringify(requested)} ${why}`);
  // stat before open: opening a FIFO or a device has side effects; a directory cannot be read.
  const before = await fs.promises.stat(real).catch((err: NodeJS.ErrnoException) => {
    throw refuse(`cannot be read (${err.code ?? 'error'})`);
  });
  if (before.isDirectory()) throw refuse('is a directory; give the files inside it');
  if (!before.isFile()) throw refuse('is not a regular file');

  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(real, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw refuse('cannot be read by the server (permission denied)');
    if (code === 'ELOOP') throw refuse('was replaced by a symlink while it was opened');
    throw refuse(`cannot be opened (${code ?? 'error'})`);
  }
  const opened = await handle.stat();
  if (!opened.isFile() || opened.ino !== before.ino || opened.dev !== before.dev) {
    await handle.close();
    throw refuse('changed while it was opened; try again');
  }
  return { requested, real, name: path.basename(requested), size: opened.size, mtimeMs: opened.mtimeMs, handle };
}

/** A stream of the whole file that closes the descriptor when it ends or fails. */
export function readLocalFile(file: OpenedLocalFile): Readable {
  return file.handle.createReadStream({ start: 0, highWaterMark: 1024 * 1024, autoClose: true });
}

/** True when the file's size or modification time moved since it was opened (still being written). */
export async function changedSinceOpened(file: OpenedLocalFile): Promise<boolean> {
  const now = await fs.promises.stat(file.real).catch(() => undefined);
  return !now || now.size !== file.size || now.mtimeMs !== file.mtimeMs;
}
