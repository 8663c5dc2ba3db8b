import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

/**
 * The one way a path from outside (a file name, an id, a variant name, an import path) becomes
 * a filesystem path: resolved, checked to stay inside root, and (when it exists) checked again
 * after following symlinks, so neither "../" nor a planted symlink can escape.
 */
export function resolveInside(root: string, ...segments: string[]): string {
  const base = path.resolve(root);
  const candidate = path.resolve(base, ...segments);
  if (!isInside(base, candidate)) throw new AppError('invalid_request', 'path escapes its folder');
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    return candidate; // does not exist yet: the lexical check above is all there is to check
  }
  if (!isInside(fs.realpathSync(base), real)) throw new AppError('invalid_request', 'path escapes its folder');
  return real;
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
