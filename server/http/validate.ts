import express from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';

/** Query strings and JSON bodies through a zod schema; the first problem becomes a 400. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new AppError('invalid_request', `${where}${issue.message}`);
}

export const parseBody = parseQuery;

/** JSON bodies, for the routes that take one (uploads must never pass through a body parser). */
export const jsonBody = express.json({ limit: '1mb' });
