import { AppError } from '../../errors.js';

/**
 * PostgreSQL's failures as the API's errors (CONTRACT §3), by SQLSTATE (the `code` of an error
 * the server sent) or by the Node error of a connection that could not be made or was lost.
 * Everything here failed before its transaction committed, so nothing accepted is lost and the
 * client may retry.
 */

/** SQLSTATEs of a database that cannot serve now but will: 503 with Retry-After. */
const UNAVAILABLE: Record<string, { why: string; retryAfter: string }> = {
  '57P01': { why: 'the database server is shutting down', retryAfter: '5' },
  '57P02': { why: 'the database server is restarting', retryAfter: '5' },
  '57P03': { why: 'the database server is starting or shutting down', retryAfter: '5' },
  '57014': { why: 'a database statement took too long (statement timeout)', retryAfter: '2' },
  '53300': { why: 'the database server has no connection to spare', retryAfter: '2' },
  '53200': { why: 'the database server is out of memory', retryAfter: '5' },
  '40001': { why: 'the database transaction conflicted with another', retryAfter: '1' },
  '40P01': { why: 'the database transaction conflicted with another (deadlock)', retryAfter: '1' },
  '55P03': { why: 'a database lock could not be taken', retryAfter: '2' },
  '25P03': { why: 'a database transaction stayed idle too long', retryAfter: '2' },
  '58030': { why: 'the database server had an I/O error', retryAfter: '30' },
  XX001: { why: 'the database server found damaged data', retryAfter: '30' },
  XX002: { why: 'the database server found a damaged index', retryAfter: '30' },
};

/** Node's errors of a connection that could not be made or broke. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * node-postgres reports a lost or never-made connection with plain Errors whose message is
 * the only mark (lib/client.js, pg-pool); these are its wordings.
 */
const CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^Client was closed/,
  /^Cannot use a pool after calling end/,
];

/** A unit of work waited longer than the statement timeout for the ones before it in this process. */
export class UnitOfWorkWaitTimeout extends Error {
  constructor(waitedMs: number) {
    super(`a unit of work waited ${waitedMs} ms for the database without getting its turn`);
    this.name = 'UnitOfWorkWaitTimeout';
  }
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A connection to the database could not be made, or broke while in use. */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state?.startsWith('08')) return true;
  return CONNECTION_MESSAGES.some((pattern) => pattern.test(err.message));
}

/** The database's data is damaged (not merely busy or unreachable): an operator must look. */
export function isPostgresDamage(err: unknown): boolean {
  const state = sqlState(err);
  return state === 'XX001' || state === 'XX002';
}

export function translatePostgresError(err: unknown): AppError | undefined {
  const state = sqlState(err);
  if (err instanceof UnitOfWorkWaitTimeout) return new AppError('unavailable', 'the database is busy; try again shortly', { 'Retry-After': '2' });
  if (state === '53100') return new AppError('insufficient_storage', 'the disk holding the database is full');
  if (state && state in UNAVAILABLE) {
    const { why, retryAfter } = UNAVAILABLE[state]!;
    return new AppError('unavailable', `${why}; try again shortly`, { 'Retry-After': retryAfter });
  }
  if (isConnectionFailure(err)) {
    return new AppError('unavailable', 'the database cannot be reached; try again shortly', { 'Retry-After': '5' });
  }
  return undefined;
}
