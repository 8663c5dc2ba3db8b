import * as initial from './001-initial.js';
import * as webhooks from './002-webhooks.js';
import * as clusterNodes from './003-cluster-nodes.js';
import * as blobDeletes from './004-blob-deletes.js';
import * as biViews from './005-bi-views.js';
import * as uploadLocks from './006-upload-locks.js';
import * as renders from './007-renders.js';
import * as presetsAndLinkKeys from './008-presets-and-link-keys.js';
import * as finishedUploads from './009-finished-uploads.js';

/**
 * Ordered schema migrations of the PostgreSQL schema (numbered on their own: version 1 is the
 * schema SQLite reaches at its version 9; then each is the SQLite migration named beside it). A migration is never edited once released: add one.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: initial.sql },
  // SQLite's 010.
  { version: 2, name: 'webhooks', sql: webhooks.sql },
  // SQLite's 011.
  { version: 3, name: 'cluster-nodes', sql: clusterNodes.sql },
  // SQLite's 012.
  { version: 4, name: 'blob-deletes', sql: blobDeletes.sql },
  // PostgreSQL only: read-only views and a role for BI tools (SQLite has no roles to grant to).
  { version: 5, name: 'bi-views', sql: biViews.sql },
  // SQLite's 013.
  { version: 6, name: 'upload-locks', sql: uploadLocks.sql },
  // SQLite's 014.
  { version: 7, name: 'renders', sql: renders.sql },
  // SQLite's 015.
  { version: 8, name: 'presets-and-link-keys', sql: presetsAndLinkKeys.sql },
  // SQLite's 016.
  { version: 9, name: 'finished-uploads', sql: finishedUploads.sql },
];
