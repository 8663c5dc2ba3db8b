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

export interface LocalPathRules {
  /**
   * The folder the file must really be in once symlinks are followed. Defaults to the folder
   * the path names as its parent, so a symlink may point beside or below itself, never out.
   */
  boundary?: string;
  /** Folders nothing may be taken from, as given or after following symlinks (the data dir). */
  forbidden?: string[];
}

const MAX_PATH_CHARS = 4096;

/**
 * A local file path given by a client (an import, a watch folder event) made safe to open:
 * absolute, without "." or ".." segments, outside the forbidden folders, and, after following
 * symlinks, still inside its boundary. Returns the real path; the caller opens it and checks
 * what it is (local-file.ts). Every refusal is a 400 naming the path and the reason.
 */
export function resolveLocalFile(requested: string, rules: LocalPathRules = {}): string {
  const refuse = (why: string) => new AppError('invalid_request', `${JSON.stringify(requested)} ${why}`);
  if (!requested || requested.length > MAX_PATH_CHARS || requested.includes('\0')) throw refuse('is not a usable path');
  if (!path.isAbsolute(requested)) throw refuse('is not an absolute path');
  if (requested.split(/[\\/]+/).some((segment) => segment === '..' || segment === '.')) {
    throw refuse('contains "." or ".." segments; give the plain absolute path');
  }
  const given = path.resolve(requested);
  const forbidden = (rules.forbidden ?? []).map((dir) => path.resolve(dir));
  const inForbidden = (p: string) => forbidden.some((dir) => isInside(dir, p) || isInside(realPathOr(dir), p));
  if (inForbidden(given)) throw refuse("is inside Darkroom's own data folder");

  let real: string;
  try {
    real = fs.realpathSync(given);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      let dangling = false;
      try {
        dangling = fs.lstatSync(given).isSymbolicLink();
      } catch {
        // not there at all
      }
      throw refuse(dangling ? 'is a symlink to nothing' : 'does not exist');
    }
    if (code === 'EACCES' || code === 'EPERM') throw refuse('cannot be read by the server (permission denied)');
    if (code === 'ELOOP') throw refuse('is a symlink loop');
    throw refuse(`cannot be resolved (${code ?? 'error'})`);
  }
  let boundary: string;
  try {
    boundary = fs.realpathSync(rules.boundary ?? path.dirname(given));
  } catch {
    throw refuse('is in a folder that cannot be resolved');
  }
  if (!isInside(boundary, real)) throw refuse('is a symlink pointing outside its folder; give the real file instead');
  if (inForbidden(real)) throw refuse("points into Darkroom's own data folder");
  return real;
}

/** The path with symlinks followed, or just resolved where it cannot be (not there yet, unreadable). */
export function realPathOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
