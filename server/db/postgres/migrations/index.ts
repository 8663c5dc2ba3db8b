import * as initial from './001-initial.js';
import * as blobDeletes from './002-blob-deletes.js';

/**
 * Ordered schema migrations of the PostgreSQL schema (numbered on their own: version 1 is the
 * schema SQLite reaches at its version 9). A migration is never edited once released: add one.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: initial.sql },
  { version: 2, name: 'blob-deletes', sql: blobDeletes.sql },
];
