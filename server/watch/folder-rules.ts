import fs from 'node:fs';
import path from 'node:path';
import { isInside, realPathOr } from '../storage/safe-path.js';

/**
 * Folders a watch folder may never be, nor be inside (CONTRACT §14): the system's own trees,
 * where every file would be read as a would-be image (`/proc/kcore`, devices, secrets in /etc).
 * The root itself is refused, not everything below it.
 */
export const SYSTEM_FOLDERS = ['/proc', '/sys', '/dev', '/run', '/boot', '/etc'] as const;

// PATH_MAX on Linux; NAME_MAX for one segment. Longer paths only ever fail with ENAMETOOLONG.
const MAX_PATH_CHARS = 4096;
const MAX_NAME_CHARS = 255;

/**
 * Why a folder cannot be watched, judged from the path alone (no filesystem access), or
 * undefined when the path is acceptable so far. Used for --watch at start-up and for folders
 * added through the API, before and after following symlinks.
 */
export function watchPathProblem(folder: string, dataDir: string): string | undefined {
  if (folder.length > MAX_PATH_CHARS || folder.split(/[\\/]+/).some((segment) => segment.length > MAX_NAME_CHARS)) {
    return 'is too long';
  }
  if (folder.includes('\0') || !path.isAbsolute(folder)) return 'is not an absolute path';
  const resolved = path.resolve(folder);
  if (process.platform !== 'win32') {
    if (resolved === '/') return 'is the root of the filesystem';
    const system = SYSTEM_FOLDERS.find((dir) => isInside(dir, resolved));
    if (system) return `is a system folder (${system}); watch a folder of your own`;
  }
  if (isInside(dataDir, resolved)) return "is inside Darkroom's own data folder";
  return undefined;
}

/**
 * The rules for a folder added through the API: the path rules above, then, on the real
 * folder (symlinks followed), the same rules again and that it exists, is a folder and can be
 * read. Returns the resolved path or the reason it cannot be watched; never throws.
 */
export function checkWatchFolder(requested: string, dataDir: string): { folder: string } | { problem: string } {
  const lexical = watchPathProblem(requested, dataDir);
  if (lexical) return { problem: lexical };
  const folder = path.resolve(requested);
  let real: string;
  try {
    real = fs.realpathSync(folder);
  } catch (err) {
    return { problem: describeFsError(err) };
  }
  const realProblem = watchPathProblem(real, realPathOr(dataDir));
  if (realProblem) return { problem: realProblem.replace(/^is /, 'leads to a folder that is ') };
  let stats: fs.Stats;
  try {
    stats = fs.statSync(real);
    if (!stats.isDirectory()) return { problem: 'is not a folder' };
    fs.accessSync(real, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    return { problem: describeFsError(err) };
  }
  return { folder };
}

function describeFsError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'does not exist';
    case 'ENOTDIR':
      return 'is not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read by the server (permission denied)';
    case 'ELOOP':
      return 'is a symlink loop';
    case 'ENAMETOOLONG':
      return 'is too long';
    default:
      return `cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}
