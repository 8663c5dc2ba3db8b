import * as initial from './001-initial.js';
import * as clusterNodes from './002-cluster-nodes.js';

/**
 * Ordered schema migrations of the PostgreSQL schema (numbered on their own: version 1 is the
 * schema SQLite reaches at its version 9; version 2 is SQLite's 10). A migration is never edited once released: add one.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: initial.sql },
  { version: 2, name: 'cluster-nodes', sql: clusterNodes.sql },
];
