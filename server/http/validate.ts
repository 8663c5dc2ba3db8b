import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { NoQuery } from '../api/index.js';
import { AppError } from '../errors.js';

/**
 * Path parameters, query strings and JSON bodies through their schema of the API
 * (server/api/); the first problem becomes a 400 naming it. Schemas are strict: an unknown parameter or field is refused rather than ignored, so a
 * typo (`?limt=10`) is an error the client sees instead of a default it did not ask for.
 */
function parseWith(what: 'parameter' | 'field') {
  return <S extends z.ZodType>(schema: S, input: unknown): z.output<S> => {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    if (issue.code === 'unrecognized_keys') {
      const names = issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ');
      throw new AppError('invalid_request', `${where}unknown ${what}${issue.keys.length > 1 ? 's' : ''} ${names}`);
    }
    throw new AppError('invalid_request', `${where}${issue.message}`);
  };
}

export const parseQuery = parseWith('parameter');
export const parseParams = parseWith('parameter');
export const parseBody = parseWith('field');

/** For routes that take no query parameters: any given is refused (see parseQuery). */
export function noQuery(req: Request, _res: Response, next: NextFunction) {
  parseQuery(NoQuery, req.query);
  next();
}

/** JSON bodies, for the routes that take one (uploads must never pass through a body parser). */
export const jsonBody = express.json({ limit: '1mb' });
