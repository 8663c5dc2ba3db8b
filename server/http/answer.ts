import type { Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';

/**
 * Sends a JSON answer built as its schema's type (server/api/): a field the schema lacks, or
 * one it requires and the body leaves out, fails typechecking at the call.
 *
 * Where the app was built with `checkAnswers` (the test servers), the body is also parsed with
 * its schema before it goes out, and a mismatch is a 500 that names the field: this is
 * what catches a value the types cannot see (a null the schema does not allow, a number out of
 * its range, an unknown enum member read from the database). Production does not pay for it:
 * parsing the largest answer (a page of 500 records) costs about as much again as serialising it.
 */
export function answer<S extends z.ZodType>(res: Response, schema: S, body: z.output<S>, status = 200): void {
  if (res.app.locals.checkAnswers) assertShape(schema, body);
  res.status(status).json(body);
}

/** An answer the service already wrote as JSON text (statistics: groups come from SQLite as JSON). */
export function answerJsonText(res: Response, schema: z.ZodType, text: string, status = 200): void {
  if (res.app.locals.checkAnswers) assertShape(schema, JSON.parse(text));
  res.status(status).type('json').send(text);
}

function assertShape(schema: z.ZodType, body: unknown): void {
  const result = schema.safeParse(body);
  if (result.success) return;
  const issue = result.error.issues[0]!;
  // Said in the answer itself: only test servers check, and their logs are silent.
  throw new AppError('internal_error', `answer does not match its schema at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
}
